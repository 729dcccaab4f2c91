"""The one state machine of a publicity task. Every status change goes through here.

    planned --> in_progress --> done
    planned|in_progress --> cancelled

done and cancelled are final: the task is then a record of what happened, so nothing
about it changes any more.
"""

from __future__ import annotations

from server.errors import ConflictError, ErrorCode
from server.store.records import PublicityStatus as S

OPEN_STATUSES = frozenset({S.PLANNED, S.IN_PROGRESS})
FINAL_STATUSES = frozenset({S.DONE, S.CANCELLED})

# status -> the statuses it may move to
TRANSITIONS: dict[S, frozenset[S]] = {
    S.PLANNED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.DONE, S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
}


def next_status(current: S, target: S) -> S:
    """`target`, or ConflictError(INVALID_TRANSITION) if a task cannot move there from `current`."""
    if target not in TRANSITIONS[current]:
        raise ConflictError(
            f"a publicity task that is {current.value} cannot become {target.value}",
            code=ErrorCode.INVALID_TRANSITION,
            field="status",
        )
    return target


def check_editable(current: S) -> None:
    """ConflictError(INVALID_TRANSITION) if the task is final and so may not be edited."""
    if current in FINAL_STATUSES:
        raise ConflictError(
            f"a publicity task that is {current.value} can no longer be changed",
            code=ErrorCode.INVALID_TRANSITION,
            field="status",
        )
