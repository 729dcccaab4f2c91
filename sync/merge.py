"""The merge engine: what a pushed mutation does to a task, decided by written rules.

Pure functions over plain values, so the server applies them inside its transaction and
the rules are tested without a database. Each rule has a name (ConflictRule); every
override is kept on record under that name. PROTOCOL.md states the same rules in prose.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from sync.hlc import HLC
from sync.protocol import CLOCK_TOLERANCE_MS, SetField, VisitEntry
from sync.vocab import ContactMethod, Outcome, TaskKind

WARNING_OPEN = frozenset({"new", "dispatched", "in_progress"})
PUBLICITY_OPEN = frozenset({"planned", "in_progress"})
# A phone's clock may run ahead of the server's by this much before its HLC is distrusted.
MAX_DRIFT_MS = 5 * 60 * 1000


class ConflictRule(StrEnum):
    VISIT_AFTER_REASSIGN = "visit_after_reassign"
    VISIT_AFTER_CANCEL = "visit_after_cancel"
    DOUBLE_VISIT = "double_visit"
    CONCURRENT_EDIT = "concurrent_edit"


class Rejection(StrEnum):
    NOT_ASSIGNED = "not_assigned"
    UNKNOWN_TASK = "unknown_task"
    BAD_SUPERSEDES = "bad_supersedes"
    ENTRY_ID_REUSED = "entry_id_reused"
    WRONG_KIND_OF_ENTRY = "wrong_kind_of_entry"
    MUTATION_ID_REUSED = "mutation_id_reused"
    MALFORMED_MUTATION = "malformed_mutation"
    # Handed in by a revoked device or a disabled user's phone (PROTOCOL.md, Being cut
    # off), and recorded after the revocation: kept for review, never applied.
    RECORDED_AFTER_REVOCATION = "recorded_after_revocation"


# The flag of every visit a cut-off phone handed in: it claims to predate the revocation,
# which only the phone says, so a supervisor looks at it.
HANDED_IN_FLAG = "handed_in_at_revocation"


class OutcomeClaim(msgspec.Struct, frozen=True, kw_only=True):
    """The visit whose outcome a warning carries now (None: set by a supervisor)."""

    entry_id: str | None
    officer_id: int | None
    contact: str | None
    hlc: str
    outcome: str


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine needs to know of a task at the moment a visit arrives."""

    kind: TaskKind
    id: int
    state: str
    assignees: frozenset[int]
    assigned_ever: frozenset[int]
    outcome_claim: OutcomeClaim | None = None


class SupersededEntry(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: str
    officer_id: int
    task_kind: str
    task_id: int


class VisitDecision(msgspec.Struct, frozen=True, kw_only=True):
    """What to do: reject; or keep the entry and maybe move the task, maybe on record."""

    rejection: Rejection | None = None
    detail: str = ""
    new_state: str | None = None
    new_claim: OutcomeClaim | None = None
    conflict: ConflictRule | None = None
    losing_claim: OutcomeClaim | None = None


def state_for_outcome(outcome: str) -> str:
    return "unreachable" if outcome == Outcome.NOT_REACHABLE else "completed"


def claim_rank(claim: OutcomeClaim) -> tuple[int, int, str]:
    """Smaller wins. A supervisor's decision first, then face to face over phone, then the
    earlier visit by HLC: whoever reached the resident first found the case as it was."""
    if claim.entry_id is None:
        return (0, 0, claim.hlc)
    return (1, 0 if claim.contact == ContactMethod.FACE_TO_FACE else 1, claim.hlc)


def decide_visit(
    task: TaskView | None,
    officer_id: int,
    entry: VisitEntry,
    hlc: HLC,
    superseded: SupersededEntry | None,
    *,
    hlc_text: str | None = None,
) -> VisitDecision:
    """hlc_text: `hlc.encode()`, when the caller holds it already."""
    if task is None:
        return VisitDecision(rejection=Rejection.UNKNOWN_TASK, detail="no such task")
    if officer_id not in task.assigned_ever:
        return VisitDecision(
            rejection=Rejection.NOT_ASSIGNED, detail="this task was never assigned to you"
        )
    if entry.supersedes is not None and (
        superseded is None
        or superseded.officer_id != officer_id
        or superseded.task_kind != task.kind
        or superseded.task_id != task.id
    ):
        return VisitDecision(
            rejection=Rejection.BAD_SUPERSEDES,
            detail="supersedes must name an earlier entry of yours on this task",
        )
    if task.kind == TaskKind.WARNING:
        if entry.completed or entry.attendance is not None or entry.materials:
            return VisitDecision(
                rejection=Rejection.WRONG_KIND_OF_ENTRY,
                detail="attendance, materials and completed are for publicity",
            )
        return _warning_visit(task, officer_id, entry, hlc_text or hlc.encode())
    if entry.outcome is not None or entry.amount_prevented is not None:
        return VisitDecision(
            rejection=Rejection.WRONG_KIND_OF_ENTRY,
            detail="outcome and amount_prevented are for warnings",
        )
    return _publicity_report(task, officer_id, entry)


def _warning_visit(task: TaskView, officer_id: int, entry: VisitEntry, hlc: str) -> VisitDecision:
    claim = None
    if entry.outcome is not None:
        claim = OutcomeClaim(
            entry_id=entry.entry_id,
            officer_id=officer_id,
            contact=entry.contact,
            hlc=hlc,
            outcome=entry.outcome,
        )
    if task.state == "cancelled":
        # The visit happened and counts as evidence; whether the cancellation or the visit
        # is right is a person's call.
        return VisitDecision(conflict=ConflictRule.VISIT_AFTER_CANCEL)
    if task.state in WARNING_OPEN:
        moved = officer_id not in task.assignees
        if claim is not None:
            return VisitDecision(
                new_state=state_for_outcome(claim.outcome),
                new_claim=claim,
                conflict=ConflictRule.VISIT_AFTER_REASSIGN if moved else None,
            )
        started = (
            "in_progress"
            if task.state == "dispatched" and (entry.arrived_at or entry.contact)
            else None
        )
        return VisitDecision(
            new_state=None if moved else started,
            conflict=ConflictRule.VISIT_AFTER_REASSIGN if moved else None,
        )
    # Closed already: completed or unreachable.
    if claim is None:
        return VisitDecision()
    current = task.outcome_claim
    if current is None:
        return VisitDecision(new_state=state_for_outcome(claim.outcome), new_claim=claim)
    if entry.supersedes is not None and entry.supersedes == current.entry_id:
        # The same officer correcting their own outcome: a correction, not a conflict.
        return VisitDecision(new_state=state_for_outcome(claim.outcome), new_claim=claim)
    incoming_wins = claim_rank(claim) < claim_rank(current)
    winner, loser = (claim, current) if incoming_wins else (current, claim)
    differs = current.officer_id != officer_id or current.outcome != claim.outcome
    return VisitDecision(
        new_state=state_for_outcome(winner.outcome) if incoming_wins else None,
        new_claim=winner if incoming_wins else None,
        conflict=ConflictRule.DOUBLE_VISIT if differs else None,
        losing_claim=loser if differs else None,
    )


def _publicity_report(task: TaskView, officer_id: int, entry: VisitEntry) -> VisitDecision:
    moved = officer_id not in task.assignees
    if task.state == "cancelled":
        return VisitDecision(conflict=ConflictRule.VISIT_AFTER_CANCEL)
    if task.state in PUBLICITY_OPEN:
        if entry.completed:
            new_state = "done"
        elif task.state == "planned" and (entry.held_at or entry.arrived_at):
            new_state = "in_progress"
        else:
            new_state = None
        return VisitDecision(
            new_state=new_state, conflict=ConflictRule.VISIT_AFTER_REASSIGN if moved else None
        )
    # Done: colleagues who held the same talk report too; every report counts.
    return VisitDecision()


class FieldDecision(msgspec.Struct, frozen=True, kw_only=True):
    apply: bool
    conflict: bool
    losing_value: str | None = None
    losing_hlc: str | None = None


def decide_field(
    stored_value: str | None, stored_hlc: str | None, edit: SetField, hlc: HLC
) -> FieldDecision:
    """Last writer wins by HLC (node breaks ties), but only concurrent edits conflict:
    an edit made on top of the value it replaces (base_hlc equal to the stored HLC) is a
    plain change."""
    incoming = hlc.encode()
    if stored_hlc is None or edit.base_hlc == stored_hlc:
        return FieldDecision(apply=True, conflict=False)
    if incoming > stored_hlc:
        return FieldDecision(
            apply=True,
            conflict=stored_value != edit.value,
            losing_value=stored_value,
            losing_hlc=stored_hlc,
        )
    return FieldDecision(
        apply=False,
        conflict=stored_value != edit.value,
        losing_value=edit.value,
        losing_hlc=incoming,
    )


def trusted_hlc(device: HLC, server_last: HLC, now_ms: int) -> tuple[HLC, bool]:
    """The HLC to order a pushed change by, and whether the phone's clock was distrusted.

    A phone whose clock runs ahead would otherwise win every last-writer-wins race until
    real time caught up; its HLC is replaced by the server's own next tick.
    """
    if device.wall_ms > now_ms + MAX_DRIFT_MS:
        return HLC(now_ms, 0, device.node) if now_ms > server_last.wall_ms else HLC(
            server_last.wall_ms, server_last.counter + 1, device.node
        ), True
    return device, False


def recorded_after_revocation(hlc_wall_ms: int, clock_offset_ms: int, revoked_at_ms: int) -> bool:
    """Whether a mutation a cut-off phone hands in was made after its revocation.

    Judged by the mutation's HLC, which a phone ticks from its clock and from every server
    HLC it saw, with the clock tolerance on top. A phone whose clock runs ahead of the
    server's (a positive offset, measured from its push) is judged by the server's time,
    so a fast clock does not turn an officer's earlier record into a later one; a slow
    clock needs no correction, its HLC never reads later than it was."""
    return hlc_wall_ms - max(clock_offset_ms, 0) > revoked_at_ms + CLOCK_TOLERANCE_MS
