"""Reading conflicts within a jurisdiction and resolving them.

A resolution is an ordinary change: when it prefers the overridden side, the task (or
field) changes, its version and seq move, and the phones holding it get it on their next
pull.
"""

from __future__ import annotations

from typing import Any

import msgspec

from server.auth.principal import Principal
from server.conflicts.schemas import (
    ConflictOut,
    ConflictPage,
    Decision,
    RejectedMutationOut,
    RejectedPage,
    ResolveIn,
)
from server.errors import ConflictError
from server.store.interface import Store
from server.store.records import Actor
from server.store.sync_records import ClaimSide, ConflictRecord, FieldSide
from sync.merge import ConflictRule, state_for_outcome


def _scope(principal: Principal) -> tuple[str, str | int]:
    scope = principal.jurisdiction
    return scope.column, scope.value


def conflict_out(c: ConflictRecord) -> ConflictOut:
    return ConflictOut(
        id=c.id,
        rule=c.rule,
        task_kind=c.task_kind,
        task_id=c.task_id,
        station_id=c.station_id,
        officer_ids=c.officer_ids,
        entry_id=c.entry_id,
        winner=c.winner,
        loser=c.loser,
        created_at=c.created_at,
        status=c.status,
        resolved_at=c.resolved_at,
        resolved_by=c.resolved_by,
        resolution=c.resolution,
        note=c.note,
    )


class ConflictService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(
        self, principal: Principal, status: str | None, after_id: int, limit: int
    ) -> ConflictPage:
        column, value = _scope(principal)
        rows = self.store.list_conflicts(
            column, value, status=status, after_id=after_id, limit=limit
        )
        items = [conflict_out(c) for c in rows]
        return ConflictPage(
            items=items, next_after_id=items[-1].id if len(items) == limit else None
        )

    def get(self, principal: Principal, conflict_id: int) -> ConflictOut:
        return conflict_out(self._visible(principal, conflict_id))

    def _visible(self, principal: Principal, conflict_id: int) -> ConflictRecord:
        conflict = self.store.get_conflict(conflict_id)
        principal.check_covers(conflict, f"conflict {conflict_id}")
        assert conflict is not None  # noqa: S101 - check_covers raised otherwise
        return conflict

    def resolve(self, principal: Principal, conflict_id: int, data: ResolveIn) -> ConflictOut:
        conflict = self._visible(principal, conflict_id)
        task_changes: dict[str, Any] | None = None
        field_value: tuple[str, str | None] | None = None
        if data.decision == Decision.PREFER_OTHER:
            task_changes, field_value = self._other_side(conflict)
        resolved = self.store.resolve_conflict(
            conflict_id,
            data.decision.value,
            data.note,
            task_changes,
            Actor(user_id=principal.user_id, device_id=principal.device_id),
            field_value,
        )
        return conflict_out(resolved)

    def _other_side(
        self, c: ConflictRecord
    ) -> tuple[dict[str, Any] | None, tuple[str, str | None] | None]:
        """The change that applies the side the rule overrode, or ConflictError."""
        if c.rule == ConflictRule.CONCURRENT_EDIT and isinstance(c.loser, FieldSide):
            return None, (c.loser.field, c.loser.value)
        if c.rule == ConflictRule.DOUBLE_VISIT and isinstance(c.loser, ClaimSide):
            return _claim_changes(c.loser), None
        if c.rule == ConflictRule.VISIT_AFTER_CANCEL and c.entry_id:
            [entry] = [
                v
                for v in self.store.visit_logs_for(c.task_kind, c.task_id)
                if v.entry_id == c.entry_id
            ]
            if c.task_kind == "warning" and entry.outcome:
                return _claim_changes(
                    ClaimSide(
                        entry_id=entry.entry_id,
                        officer_id=entry.officer_id,
                        contact=entry.contact,
                        hlc=entry.hlc,
                        outcome=entry.outcome,
                    )
                ), None
            if c.task_kind == "publicity" and entry.completed:
                return {"status": "done"}, None
        raise ConflictError(
            f"a {c.rule} conflict has no other side to prefer here; uphold it", field="decision"
        )

    def rejected(self, principal: Principal, after_id: int, limit: int) -> RejectedPage:
        column, value = _scope(principal)
        rows = self.store.list_rejected_mutations(column, value, after_id=after_id, limit=limit)
        items = [
            RejectedMutationOut(
                id=r.id,
                user_id=r.user_id,
                device_pk=r.device_pk,
                mutation_id=r.mutation_id,
                code=r.code,
                detail=r.detail,
                body=msgspec.json.decode(r.body),
                received_at=r.received_at,
            )
            for r in rows
        ]
        return RejectedPage(
            items=items, next_after_id=items[-1].id if len(items) == limit else None
        )


def _claim_changes(claim: ClaimSide) -> dict[str, Any]:
    return {
        "state": state_for_outcome(claim.outcome),
        "outcome": claim.outcome,
        "outcome_entry_id": claim.entry_id,
        "outcome_officer_id": claim.officer_id,
        "outcome_contact": claim.contact,
        "outcome_hlc": claim.hlc,
    }
