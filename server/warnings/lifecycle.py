"""The one state machine of a warning. Every state change in beatsync goes through here.

    new --route/assign--> dispatched --start--> in_progress
    dispatched|in_progress --complete--> completed
    dispatched|in_progress --mark_unreachable--> unreachable
    new|dispatched|in_progress --cancel--> cancelled
    new|dispatched|in_progress --assign--> dispatched      (reassignment)
    new|dispatched|in_progress --return--> new              (its officer left: the store
                                                             does it when the officer is
                                                             disabled or moved)

completed, unreachable and cancelled are final.
"""

from __future__ import annotations

from enum import StrEnum

from server.errors import ConflictError, ErrorCode
from server.store.records import WarningState as S


class Event(StrEnum):
    ASSIGN = "assign"
    START = "start"
    COMPLETE = "complete"
    MARK_UNREACHABLE = "mark_unreachable"
    CANCEL = "cancel"
    CHANGE_DEADLINE = "change_deadline"


OPEN_STATES = frozenset({S.NEW, S.DISPATCHED, S.IN_PROGRESS})
FINAL_STATES = frozenset({S.COMPLETED, S.UNREACHABLE, S.CANCELLED})

# event -> (states it may happen in, state it leads to; None keeps the state)
TRANSITIONS: dict[Event, tuple[frozenset[S], S | None]] = {
    Event.ASSIGN: (OPEN_STATES, S.DISPATCHED),
    Event.START: (frozenset({S.DISPATCHED}), S.IN_PROGRESS),
    Event.COMPLETE: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.COMPLETED),
    Event.MARK_UNREACHABLE: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.UNREACHABLE),
    Event.CANCEL: (OPEN_STATES, S.CANCELLED),
    Event.CHANGE_DEADLINE: (OPEN_STATES, None),
}


def next_state(current: S, event: Event) -> S:
    """The state after `event`, or ConflictError(INVALID_TRANSITION) if it cannot happen."""
    allowed, target = TRANSITIONS[event]
    if current not in allowed:
        raise ConflictError(
            f"cannot {event.value.replace('_', ' ')} a warning that is {current.value}",
            code=ErrorCode.INVALID_TRANSITION,
            field="state",
        )
    return current if target is None else target
