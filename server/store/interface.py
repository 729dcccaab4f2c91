"""The store interface: everything the services may ask of the central store.

This is the whole of it: a PostgreSQL implementation satisfies the same Protocol and
runs the same contract tests (tests/store/test_contract.py). Rules every implementation
keeps:

- every write is one transaction: all of it happens or none of it;
- every write that changes a warning or publicity task bumps the global sequence (`seq`)
  and the row's `version`; sync pulls read the sequence, never a clock;
- every change of state appends to the audit chain in the same transaction;
- times go in and come out timezone-aware UTC.

Errors: NotFound for a missing id on write, ConflictError when `expected_version` is
stale, ValueError for a programming error (an unknown column); reads return None or [].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, _ProtocolMeta, runtime_checkable

from server.clock import Clock
from server.store.history_records import WarningHistory
from server.store.queries import WarningQuery
from server.store.records import (
    Actor,
    AuditEntry,
    AuditVerdict,
    AuthState,
    Device,
    Grid,
    Jurisdiction,
    NewWarning,
    PublicityTask,
    RefreshResult,
    Unit,
    UnitKey,
    User,
    WarningRecord,
)
from server.store.supervision_records import (
    EscalationRecord,
    EscalationStep,
    OfficerActivity,
    OutcomeFeedRecord,
    PublicityGroupFigures,
    WarningDayFigures,
    WarningGroupFigures,
    WebhookState,
)
from server.store.sync_records import ConflictRecord, PullRows, PushContext, RejectedMutation
from server.store.upload_records import ClaimedPhoto, PhotoRecord, UploadRecord
from server.store.visit_records import ReviewCandidate, VisitRecord
from sync.protocol import MutationResult, RecordVisit, SetField


class CoreStore(Protocol):
    """Org, people, auth, warnings, publicity, audit."""

    clock: Clock

    def close(self) -> None: ...
    def applied_migrations(self) -> list[str]: ...
    def known_migrations(self) -> list[str]:
        """Every migration this release's code has for this backend, in order."""
        ...

    def current_seq(self) -> int:
        """The highest sequence number handed out so far."""
        ...

    # org: units, grids, users
    def upsert_units(self, units: Sequence[Unit], actor: Actor) -> tuple[int, int]:
        """Insert or update by id; returns (created, updated); audits unit.create/update."""
        ...

    def get_unit(self, unit_id: str) -> Unit | None: ...
    def list_units(self, scope: Jurisdiction | None = None) -> list[Unit]: ...
    def upsert_grids(self, grids: Sequence[Grid], actor: Actor) -> tuple[int, int]:
        """Insert or update by code; returns (created, updated); audits grid.create/update."""
        ...

    def get_grid(self, code: str) -> Grid | None: ...
    def list_grids(self, scope: Jurisdiction | None = None) -> list[Grid]: ...
    def upsert_users(
        self, users: Sequence[dict[str, Any]], actor: Actor
    ) -> tuple[list[User], int, int]:
        """Insert or update by login; returns (users, created, updated); audits user.*."""
        ...

    def update_user(self, user_id: int, changes: dict[str, Any], actor: Actor) -> User:
        """Raises NotFound. Disabling ends every session of the user. An officer disabled,
        moved to another station or given another role returns their open warnings to
        the station queue (state new, no officer), audited as warning.return, bumping
        seq and version of each; upsert_users does the same."""
        ...

    def get_user(self, user_id: int) -> User | None: ...
    def get_user_by_login(self, login: str) -> User | None: ...
    def list_users(
        self,
        scope: Jurisdiction | None = None,
        role: str | None = None,
        active: bool | None = None,
    ) -> list[User]: ...
    def users_with_demo_password(self) -> int: ...

    # devices, sessions, refresh tokens, login throttling
    def open_session(
        self,
        user_id: int,
        device_id: str,
        device_name: str,
        refresh_hash: str,
        refresh_expires: datetime,
    ) -> tuple[str, Device]:
        """Registers or touches the device; returns (session id, device)."""
        ...

    def get_device(self, user_id: int, device_id: str) -> Device | None: ...
    def get_device_by_pk(self, pk: int) -> Device | None: ...
    def list_devices(self, user_ids: Iterable[int]) -> list[Device]: ...
    def rotate_refresh(
        self, old_hash: str, new_hash: str, new_expires: datetime, retry_window: timedelta
    ) -> RefreshResult:
        """Spend a refresh token, storing new_hash as its successor (ROTATED). The same
        token again within retry_window of its first use, while that successor is unused
        and equals new_hash, is a retry (RETRIED: nothing changes); any other second use
        revokes the session (REUSED)."""
        ...

    def revoke_session(self, session_id: str, reason: str) -> None: ...
    def revoke_device(self, device_pk: int, actor: Actor) -> Device:
        """Raises NotFound; ends the device's sessions; audits device.revoke once."""
        ...

    def auth_state(self, session_id: str) -> AuthState | None:
        """The session's user and device with their revocation state; one indexed read."""
        ...

    def open_handin(self, session_id: str) -> datetime:
        """Mark a cut-off session's hand-in begun, the first time only; when it began."""
        ...

    def record_login_failure(self, key: str) -> None: ...
    def login_failures_since(self, key: str, since: datetime) -> list[datetime]: ...
    def clear_login_failures(self, key: str) -> None: ...

    # warnings
    def ingest_warnings(
        self, rows: Sequence[NewWarning], actor: Actor
    ) -> list[tuple[WarningRecord, bool]]:
        """Idempotent on (client_id, platform_id); (stored warning, created) per row."""
        ...

    def get_warning(self, warning_id: int) -> WarningRecord | None: ...
    def list_warnings(self, scope: Jurisdiction, query: WarningQuery) -> list[WarningRecord]: ...
    def update_warning(
        self,
        warning_id: int,
        expected_version: int,
        changes: dict[str, Any],
        action: str,
        actor: Actor,
    ) -> WarningRecord:
        """Raises NotFound, ConflictError on a stale version; bumps version and seq."""
        ...

    # publicity tasks
    def create_publicity_task(
        self, fields: dict[str, Any], officer_ids: Sequence[int], actor: Actor
    ) -> PublicityTask: ...
    def get_publicity_task(self, task_id: int) -> PublicityTask | None: ...
    def list_publicity_tasks(
        self,
        scope: Jurisdiction,
        *,
        statuses: Sequence[str] = (),
        after_id: int = 0,
        limit: int = 100,
        active_on: date | None = None,
    ) -> list[PublicityTask]: ...
    def update_publicity_task(
        self,
        task_id: int,
        expected_version: int,
        changes: dict[str, Any],
        officer_ids: Sequence[int] | None,
        action: str,
        actor: Actor,
    ) -> PublicityTask:
        """Raises NotFound, ConflictError on a stale version; bumps version and seq."""
        ...

    # audit
    def list_audit(
        self,
        *,
        column: str | None = None,
        value: str | int | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]: ...
    def latest_audit_id(self, column: str, value: str) -> int:
        """The newest audit entry of a city, county or station (column *_id); 0: none."""
        ...

    def verify_audit(self, anchor: tuple[int, str] | None = None) -> AuditVerdict:
        """Walk the whole chain. anchor: (id, hash) of an entry recorded earlier, outside
        the database; not ok unless that entry is still there with that hash."""
        ...


class SyncStore(Protocol):
    """The sync part of the store (see sqlite/sync.py, sqlite/scope.py)."""

    def on_scope_change(self, listener: Callable[[frozenset[int], int], None]) -> None:
        """listener(officer ids, head seq) after each commit that changed their scopes."""
        ...

    def on_audit(self, listener: Callable[[frozenset[UnitKey], int], None]) -> None:
        """listener((level, unit id) of every unit the new audit entries belong to, newest
        audit id) after each commit that appended to the audit log."""
        ...

    def on_escalation(self, listener: Callable[[list[EscalationStep]], None]) -> None:
        """listener(steps: each one's id, level and unit ids; `escalate` returns them
        whole) within a second of their recording by any process on this
        database.

        on_scope_change and on_audit listeners hear other processes' commits within the
        same second (server/store/peer_commits.py), and may hear their own process's twice.
        """
        ...

    def apply_push(
        self, ctx: PushContext, mutations: Sequence[RecordVisit | SetField]
    ) -> tuple[list[MutationResult], str]:
        """One transaction; replays return the recorded verdicts; bumps seq per change."""
        ...

    def record_rejections(
        self, ctx: PushContext, items: Sequence[tuple[str, str, str, str]]
    ) -> None:
        """Keep undecodable mutations for review: (mutation id, code, detail, body)."""
        ...

    def server_hlc(self) -> str: ...
    def latest_change(self, officer_id: int) -> int:
        """The seq of the newest change in this officer's scope (0: none); one indexed read."""
        ...

    def pull_rows(
        self,
        officer_id: int,
        *,
        snapshot_at: int | None,
        after_key: str,
        after_seq: int,
        limit: int,
    ) -> PullRows:
        """Raises ResyncRequired when after_seq is older than the kept change log."""
        ...

    def sweep_retention(self, retention: timedelta) -> int: ...
    def compact_changes(self, keep_after: datetime) -> int: ...
    def list_conflicts(
        self,
        column: str,
        value: str | int,
        *,
        status: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[ConflictRecord]: ...
    def get_conflict(self, conflict_id: int) -> ConflictRecord | None: ...
    def resolve_conflict(
        self,
        conflict_id: int,
        resolution: str,
        note: str | None,
        task_changes: dict[str, Any] | None,
        actor: Actor,
        field_value: tuple[str, str | None] | None = None,
    ) -> ConflictRecord:
        """Raises NotFound, ConflictError if resolved already. Task changes (columns) or a
        field value, if given, are applied as an ordinary change: version, seq, scopes."""
        ...

    def list_rejected_mutations(
        self, column: str, value: str | int, *, after_id: int = 0, limit: int = 100
    ) -> list[RejectedMutation]: ...
    def visit_logs_for(self, kind: str, task_id: int) -> list[VisitRecord]:
        """A task's visit log, oldest first, without reviews."""
        ...


class SupervisionStore(Protocol):
    """Reports, escalation, review, the outcome feed, oversight (sqlite/supervision.py).

    `limits` maps a risk level to (minutes to first contact, minutes to an outcome).
    """

    def warning_figures(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        now: datetime,
        limits: dict[str, tuple[int, int]],
        groups: Sequence[str],
    ) -> list[WarningGroupFigures]:
        """Figures per (group...) of the warnings received in [start, end) in the unit
        (`column` = `value`), one per group met, its values in `group` in the order of
        `groups`: received, cancelled, visited, face_to_face, on_time, late, overdue (at
        `now`), closed, amount_prevented, outcomes (every outcome's count), and
        contact_minutes (minutes from dispatch to first contact of each visited warning,
        ascending). A group is a unit column or 'officer' (who recorded the outcome, else
        the assignee). Raises ValueError for any other column or group."""
        ...

    def warning_trend(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        now: datetime,
        limits: dict[str, tuple[int, int]],
        utc_offset_minutes: int,
    ) -> list[WarningDayFigures]:
        """Figures per local day (at `utc_offset_minutes` from UTC) and fraud type of the
        warnings received in [start, end) in the unit, one per pair met: the counts of
        warning_figures, counted the same way, but no contact_minutes. Raises ValueError
        for a column it cannot scope by."""
        ...

    def publicity_figures(
        self,
        column: str,
        value: str,
        first_day: str,
        last_day: str,
        today: str,
        group: str | None,
    ) -> list[PublicityGroupFigures]: ...
    def escalate(
        self, limits: dict[str, tuple[int, int]], step_minutes: int
    ) -> list[EscalationRecord]:
        """Record every escalation step due now, once each, audited; return the new ones."""
        ...

    def escalation_backlog(self, limits: dict[str, tuple[int, int]]) -> tuple[int, int]:
        """(warnings overdue now, those with no contact escalation step recorded yet)."""
        ...

    def list_escalations(
        self,
        column: str,
        value: str,
        *,
        level: str | None = None,
        warning_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[EscalationRecord]: ...
    def review_candidates(
        self, column: str, value: str, *, after_seq: int, limit: int
    ) -> list[ReviewCandidate]: ...
    def get_visit(self, entry_id: str) -> VisitRecord | None:
        """The entry with its review (decision, note, time), if it has one."""
        ...

    def review_visit(
        self,
        entry_id: str,
        decision: str,
        reasons: Sequence[str],
        note: str | None,
        actor: Actor,
    ) -> VisitRecord:
        """The entry as get_visit reads it after its review. Raises NotFound,
        ConflictError; bumps the task's version and seq, audited."""
        ...

    def set_grid_positions(self, positions: Sequence[tuple[str, float, float]]) -> int: ...
    def outcome_feed(
        self, client_id: int | None, after_id: int, limit: int
    ) -> list[OutcomeFeedRecord]: ...
    def webhook_state(self, name: str) -> WebhookState: ...
    def save_webhook_state(self, state: WebhookState) -> None: ...
    def officer_activity(
        self, officer_ids: Sequence[int], now: datetime, limits: dict[str, tuple[int, int]]
    ) -> dict[int, OfficerActivity]: ...
    def publicity_sessions(self, task_id: int) -> list[VisitRecord]:
        """A publicity task's visit log (what was held: attendance, materials, photos),
        each entry with its review, oldest first."""
        ...

    def warning_history(self, warning_id: int) -> WarningHistory | None:
        """The warning and everything recorded about it, read at one moment: its audit
        entries (entity 'warning'), visit log with reviews, conflicts, escalation steps
        and outcome feed items, each oldest first, and the names of the users they
        mention; None when there is no such warning."""
        ...


class UploadStore(Protocol):
    """Photos: tus uploads in progress, stored photos, senders, visit-log claims
    (sqlite/uploads.py). The bytes are a PhotoStorage's (server/uploads/storage.py)."""

    def create_upload(self, upload: UploadRecord, *, max_open: int) -> UploadRecord | None:
        """None when the user holds `max_open` unfinished uploads; created complete when
        the photo is stored already (the user is recorded as one of its senders)."""
        ...

    def get_upload(self, upload_id: str) -> UploadRecord | None: ...
    def advance_upload(
        self,
        upload_id: str,
        from_offset: int,
        to_offset: int,
        expires_at: datetime,
        media_type: str | None,
    ) -> bool:
        """Compare and set the offset of an open upload; False when it moved meanwhile.
        The lock's holder, if any, becomes the upload's `written_by`."""
        ...

    # An upload's lock keeps two requests of any processes or nodes from writing it at
    # once: a lease, held by `holder` until the store's clock reads its end. Times are the
    # store's clock's.
    def lock_upload(self, upload_id: str, holder: str, ttl: timedelta) -> UploadRecord | None:
        """Lock an upload that is not complete for `holder` until now + ttl, when nobody
        holds it or its holder's lease has passed: the upload as it stands then (its
        lock_holder, lock_until and written_by included). None when another holder's lease
        runs still, or there is no such upload. One atomic step: of two callers, one wins."""
        ...

    def renew_upload_lock(self, upload_id: str, holder: str, ttl: timedelta) -> bool:
        """Extend `holder`'s lock to now + ttl if nobody took it meanwhile (its lease may
        have passed); False when another holder took it or the upload is gone."""
        ...

    def unlock_upload(self, upload_id: str, holder: str) -> None:
        """Free the lock if `holder` holds it; nothing otherwise."""
        ...

    def fail_upload(self, upload_id: str) -> None: ...
    def delete_upload(self, upload_id: str) -> bool: ...
    def complete_upload(self, upload_id: str, photo: PhotoRecord, actor: Actor) -> PhotoRecord:
        """Keep the photo (once per sha256, audited), its sender, the upload as complete."""
        ...

    def expired_uploads(self, now: datetime, limit: int = 500) -> list[UploadRecord]:
        """Open or failed uploads past their expiry at `now`, oldest first, but for those
        a lock holds at `now`."""
        ...

    def delete_uploads(self, upload_ids: Sequence[str]) -> int: ...
    def get_photo(self, sha256: str) -> PhotoRecord | None: ...
    def photo_visible_to(self, sha256: str, scope: Jurisdiction) -> bool: ...
    def photos_of_task(self, kind: str, task_id: int) -> list[ClaimedPhoto]: ...
    def set_photo_thumbnail(self, sha256: str, state: int) -> None:
        """1: a thumbnail is stored; -1: the pixels do not decode."""
        ...

    def unclaimed_photos(self, received_before: datetime, limit: int = 500) -> list[str]: ...
    def remove_unclaimed_photo(self, sha256: str, received_before: datetime) -> bool:
        """Forget the photo unless a visit log claims it or an upload of it is locked
        (checked in the same transaction)."""
        ...


class LeaseStore(Protocol):
    """Leases on the background jobs, so that each runs in one process at a time however
    many processes or nodes share the store (sqlite/leases.py, server/leases.py). Times
    are the store's clock's."""

    def take_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Hold lease `name` until now + ttl when it is free, expired, or held by `holder`
        already (which renews it); true when `holder` holds it now, false when another
        holder's lease has not expired. One atomic step: of two callers at once, one wins."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Free lease `name` if `holder` holds it (nothing otherwise), so that another
        holder may take it at once."""
        ...


class _CheckedOncePerClass(_ProtocolMeta):
    """isinstance() against a runtime-checkable protocol, remembered per class once true.

    Litestar checks every injected dependency against its annotation, and on Python 3.11
    isinstance() with a protocol looks up each of its members, every time: about 80 µs,
    paid by every request that uses the store. A store's members are its class's (and
    `clock`, which __init__ sets), so an answer of yes for one instance holds for its
    class. A no is not remembered: it is rare, and checked in full each time.
    """

    _yes: set[tuple[type, type]] = set()

    def __instancecheck__(cls, instance: object) -> bool:
        key = (cls, type(instance))
        if key in cls._yes:
            return True
        if super().__instancecheck__(instance):
            cls._yes.add(key)
            return True
        return False


# runtime_checkable: Litestar checks injected dependencies against their annotation.
@runtime_checkable
class Store(
    CoreStore,
    SyncStore,
    SupervisionStore,
    UploadStore,
    LeaseStore,
    Protocol,
    metaclass=_CheckedOncePerClass,
):
    """The whole interface every store implementation satisfies."""
