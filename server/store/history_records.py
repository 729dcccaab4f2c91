"""Records of a warning's history as the store hands it back: everything recorded about
one warning, read in one snapshot, for its timeline (server/timeline)."""

from __future__ import annotations

import msgspec

from server.store.records import AuditEntry, WarningRecord
from server.store.supervision_records import EscalationRecord, OutcomeFeedRecord
from server.store.sync_records import ConflictRecord
from server.store.visit_records import VisitRecord


class WarningHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A warning, its audit entries, visit log, conflicts, escalation steps and outcome
    feed items, each oldest first; and the names of every user they mention."""

    warning: WarningRecord
    audit: list[AuditEntry]
    visits: list[VisitRecord]
    conflicts: list[ConflictRecord]
    escalations: list[EscalationRecord]
    outcomes: list[OutcomeFeedRecord]
    user_names: dict[int, str]
