"""Warnings: ingest and route, list within a jurisdiction, reassign, cancel, re-date."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from typing import Annotated, Any

import msgspec

from server.auth.principal import Principal
from server.bodies import NUL_REASON, nul_field
from server.bounds import TIME_RANGE, Id, check_day, time_in_range
from server.clock import iso
from server.errors import ErrorCode, InputError, NotFound, problem
from server.logs import get_logger
from server.problems import field_from_msgspec
from server.settings import Settings
from server.store.interface import Store
from server.store.overdue import is_overdue, is_past_deadline
from server.store.queries import WarningQuery
from server.store.records import Actor, NewWarning, Queue, Role, WarningRecord
from server.warnings.lifecycle import Event, next_state
from server.warnings.routing import route
from server.warnings.schemas import (
    MAX_BATCH,
    CancelIn,
    IngestOut,
    IngestResult,
    ReassignIn,
    ResidentOut,
    WarningIn,
    WarningOut,
    WarningPage,
    WarningPatch,
)
from server.warnings.vocab import (
    DEFAULT_DEADLINES,
    FraudType,
    Outcome,
    RiskLevel,
    WarningSource,
)

log = get_logger("beatsync.warnings")


class _Envelope(msgspec.Struct):
    # Items stay raw here so that one bad warning is refused alone, not the whole batch.
    warnings: list[msgspec.Raw]


_envelope = msgspec.json.Decoder(_Envelope)
_item = msgspec.json.Decoder(WarningIn)
_canonical = msgspec.json.Encoder(order="sorted")


def mask_id_number(id_number: str | None) -> str | None:
    """Officers see the last four characters only: enough to confirm the person at the door."""
    if id_number is None:
        return None
    return "*" * (len(id_number) - 4) + id_number[-4:]


def encode_cursor(record: WarningRecord) -> str:
    raw = msgspec.json.encode([record.deadline_at.isoformat(), record.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A forged cursor must fail here, not in the clock or the SQLite driver.
_Cursor = tuple[Annotated[datetime, msgspec.Meta(tz=True)], Id]


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        deadline, ident = msgspec.json.decode(base64.urlsafe_b64decode(padded), type=_Cursor)
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError("cursor is not one this server gave out", field="cursor") from exc
    if not time_in_range(deadline):
        raise InputError("cursor is not one this server gave out", field="cursor")
    return iso(deadline), ident


class WarningService:
    def __init__(
        self,
        store: Store,
        limits: Mapping[str, tuple[int, int]] | None = None,
        *,
        utc_offset_minutes: int | None = None,
    ) -> None:
        """limits: risk level -> (minutes to first contact, to an outcome), as settings
        give them (Settings.deadline_minutes); the defaults when not given. The UTC offset
        of the local days a list filters by (the reports' days)."""
        self.store = store
        self.limits = dict(limits or Settings().deadline_minutes())
        if utc_offset_minutes is None:
            utc_offset_minutes = Settings().report_utc_offset_minutes
        self.tz = timezone(timedelta(minutes=utc_offset_minutes))

    # -- ingest --------------------------------------------------------------------------

    def ingest(self, principal: Principal, body: bytes) -> IngestOut:
        """Validate, route and store a batch; one verdict per item, in order."""
        try:
            envelope = _envelope.decode(body)
        except msgspec.ValidationError as exc:
            path, reason = field_from_msgspec(str(exc))
            raise InputError(reason, field=path or "warnings") from exc
        except msgspec.DecodeError as exc:
            raise InputError(f"body is not JSON: {exc}", code=ErrorCode.MALFORMED_BODY) from exc
        if not 1 <= len(envelope.warnings) <= MAX_BATCH:
            raise InputError(f"a batch holds 1 to {MAX_BATCH} warnings", field="warnings")

        results: list[IngestResult | None] = [None] * len(envelope.warnings)
        pending: list[tuple[int, NewWarning]] = []
        get_grid = cache(self.store.get_grid)
        get_unit = cache(self.store.get_unit)
        get_user = cache(self.store.get_user)
        for index, raw in enumerate(envelope.warnings):
            outcome = self._prepare(principal, index, raw, get_grid, get_unit, get_user)
            if isinstance(outcome, IngestResult):
                results[index] = outcome
            else:
                pending.append((index, outcome))

        stored = self.store.ingest_warnings(
            [w for _, w in pending], Actor(user_id=principal.user_id, device_id=principal.device_id)
        )
        for (index, new), (record, created) in zip(pending, stored, strict=True):
            results[index] = self._verdict(index, new, record, created)
        final = [r for r in results if r is not None]
        out = IngestOut(
            created=sum(r.status == "created" for r in final),
            duplicates=sum(r.status == "duplicate" for r in final),
            rejected=sum(r.status == "rejected" for r in final),
            results=final,
        )
        log.info(
            "warnings_ingested",
            created=out.created,
            duplicates=out.duplicates,
            rejected=out.rejected,
        )
        return out

    def _prepare(
        self,
        principal: Principal,
        index: int,
        raw: msgspec.Raw,
        get_grid: Callable[..., Any],
        get_unit: Callable[..., Any],
        get_user: Callable[..., Any],
    ) -> IngestResult | NewWarning:
        try:
            item = _item.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            path, reason = field_from_msgspec(str(exc))
            return IngestResult(
                index=index,
                platform_id=_platform_id_of(raw),
                status="rejected",
                problem=problem(ErrorCode.VALIDATION_FAILED, reason, field=path or None),
            )
        nul = nul_field(raw)
        if nul is not None:
            return IngestResult(
                index=index,
                platform_id=item.platform_id,
                status="rejected",
                problem=problem(ErrorCode.VALIDATION_FAILED, NUL_REASON, field=nul),
            )
        for field, when in (("issued_at", item.issued_at), ("deadline_at", item.deadline_at)):
            if when is not None and not time_in_range(when):
                return IngestResult(
                    index=index,
                    platform_id=item.platform_id,
                    status="rejected",
                    problem=problem(
                        ErrorCode.VALIDATION_FAILED, f"{field} must be {TIME_RANGE}", field=field
                    ),
                )
        deadline = item.deadline_at or item.issued_at + DEFAULT_DEADLINES[item.risk_level]
        if deadline <= item.issued_at:
            return IngestResult(
                index=index,
                platform_id=item.platform_id,
                status="rejected",
                problem=problem(
                    ErrorCode.VALIDATION_FAILED,
                    "deadline_at must be after issued_at",
                    field="deadline_at",
                ),
            )
        where = route(
            city_id=principal.city_id,
            grid_code=item.grid_code,
            county_code=item.county_code,
            get_grid=get_grid,
            get_unit=get_unit,
            get_user=get_user,
        )
        return NewWarning(
            client_id=principal.user_id,
            platform_id=item.platform_id,
            payload_hash=hashlib.sha256(_canonical.encode(item)).hexdigest(),
            resident_name=item.resident.name,
            resident_phone=item.resident.phone,
            resident_address=item.resident.address,
            resident_id_number=item.resident.id_number,
            grid_code=item.grid_code,
            county_code=item.county_code,
            source=item.source.value,
            fraud_type=item.fraud_type.value,
            risk_level=item.risk_level.value,
            summary=item.summary,
            issued_at=item.issued_at,
            deadline_at=deadline,
            state=where.state,
            city_id=where.city_id,
            county_id=where.county_id,
            station_id=where.station_id,
            officer_id=where.officer_id,
            queue=where.queue,
            routing_reason=where.reason,
        )

    @staticmethod
    def _verdict(index: int, new: NewWarning, record: WarningRecord, created: bool) -> IngestResult:
        if not created and record.payload_hash != new.payload_hash:
            return IngestResult(
                index=index,
                platform_id=new.platform_id,
                status="rejected",
                warning_id=record.id,
                problem=problem(
                    ErrorCode.IDEMPOTENCY_MISMATCH,
                    f"platform_id {new.platform_id} was delivered before with"
                    " different content; the first delivery stands",
                    field="platform_id",
                ),
            )
        return IngestResult(
            index=index,
            platform_id=record.platform_id,
            status="created" if created else "duplicate",
            warning_id=record.id,
            state=record.state,
            queue=record.queue,
            station_id=record.station_id,
            officer_id=record.officer_id,
            routing_reason=record.routing_reason,
        )

    # -- reading -------------------------------------------------------------------------

    def list(
        self,
        principal: Principal,
        query: WarningQuery,
        cursor: str | None,
        overdue: bool | None = None,
        past_deadline: bool | None = None,
        received: tuple[date | None, date | None] = (None, None),
    ) -> WarningPage:
        if cursor:
            query = msgspec.structs.replace(query, after=decode_cursor(cursor))
        query = msgspec.structs.replace(
            query,
            at=self.store.clock.now(),
            overdue=overdue,
            limits=self.limits,
            past_deadline=past_deadline,
            received=self._received_range(*received),
        )
        rows = self.store.list_warnings(principal.jurisdiction, query)
        next_cursor = encode_cursor(rows[-1]) if len(rows) == query.limit else None
        return WarningPage(items=[self.to_out(principal, r) for r in rows], next_cursor=next_cursor)

    def _received_range(
        self, first: date | None, last: date | None
    ) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC of local days first..last, either end open."""
        for name, day in (("received_from", first), ("received_to", last)):
            if day is not None:
                check_day(day, name)
        if first is not None and last is not None and last < first:
            raise InputError("received_to is before received_from", field="received_to")
        start = None if first is None else datetime.combine(first, time(0), self.tz)
        end = None if last is None else datetime.combine(last + timedelta(days=1), time(0), self.tz)
        return (
            None if start is None else start.astimezone(UTC),
            None if end is None else end.astimezone(UTC),
        )

    def get(self, principal: Principal, warning_id: int) -> WarningOut:
        return self.to_out(principal, self._visible(principal, warning_id))

    def _visible(self, principal: Principal, warning_id: int) -> WarningRecord:
        record = self.store.get_warning(warning_id)
        principal.check_covers(record, f"warning {warning_id}")
        assert record is not None  # noqa: S101 - check_covers raised otherwise
        return record

    def to_out(self, principal: Principal, r: WarningRecord) -> WarningOut:
        now = self.store.clock.now()
        id_number = (
            mask_id_number(r.resident_id_number)
            if principal.role == Role.OFFICER
            else r.resident_id_number
        )
        return WarningOut(
            id=r.id,
            platform_id=r.platform_id,
            resident=ResidentOut(
                name=r.resident_name,
                phone=r.resident_phone,
                address=r.resident_address,
                id_number=id_number,
            ),
            grid_code=r.grid_code,
            source=WarningSource(r.source),
            fraud_type=FraudType(r.fraud_type),
            risk_level=RiskLevel(r.risk_level),
            summary=r.summary,
            issued_at=r.issued_at,
            deadline_at=r.deadline_at,
            overdue=is_overdue(
                r.state, r.first_contact_at, r.created_at, r.risk_level, now, self.limits
            ),
            past_deadline=is_past_deadline(r.state, r.deadline_at, now),
            state=r.state,
            queue=r.queue,
            city_id=r.city_id,
            county_id=r.county_id,
            station_id=r.station_id,
            officer_id=r.officer_id,
            routing_reason=r.routing_reason,
            outcome=Outcome(r.outcome) if r.outcome else None,
            cancel_reason=r.cancel_reason,
            dispatched_at=r.dispatched_at,
            version=r.version,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )

    # -- supervising ---------------------------------------------------------------------

    def reassign(self, principal: Principal, warning_id: int, data: ReassignIn) -> WarningOut:
        record = self._visible(principal, warning_id)
        officer = self.store.get_user(data.officer_id)
        if (
            officer is None
            or officer.role != Role.OFFICER
            or not officer.active
            or not principal.covers_unit(officer)
        ):
            raise NotFound(
                f"officer {data.officer_id} not found among your active officers",
                code=ErrorCode.UNKNOWN_REFERENCE,
                field="officer_id",
            )
        state = next_state(record.state, Event.ASSIGN)
        changes: dict[str, Any] = {
            "state": state,
            "officer_id": officer.id,
            "station_id": officer.station_id,
            "county_id": officer.county_id,
            "queue": Queue.OFFICER,
            "dispatched_at": self.store.clock.now(),
            "routing_reason": data.reason,
        }
        return self._update(principal, record, data.expected_version, changes, "warning.reassign")

    def cancel(self, principal: Principal, warning_id: int, data: CancelIn) -> WarningOut:
        record = self._visible(principal, warning_id)
        changes = {"state": next_state(record.state, Event.CANCEL), "cancel_reason": data.reason}
        return self._update(principal, record, data.expected_version, changes, "warning.cancel")

    def patch(self, principal: Principal, warning_id: int, data: WarningPatch) -> WarningOut:
        record = self._visible(principal, warning_id)
        next_state(record.state, Event.CHANGE_DEADLINE)
        if not time_in_range(data.deadline_at):
            raise InputError(f"deadline_at must be {TIME_RANGE}", field="deadline_at")
        if data.deadline_at <= record.issued_at:
            raise InputError("deadline_at must be after issued_at", field="deadline_at")
        return self._update(
            principal,
            record,
            data.expected_version,
            {"deadline_at": data.deadline_at},
            "warning.deadline",
        )

    def _update(
        self,
        principal: Principal,
        record: WarningRecord,
        expected: int | None,
        changes: dict[str, Any],
        action: str,
    ) -> WarningOut:
        updated = self.store.update_warning(
            record.id,
            record.version if expected is None else expected,
            changes,
            action,
            Actor(user_id=principal.user_id, device_id=principal.device_id),
        )
        log.info(action.replace(".", "_"), warning_id=record.id, state=updated.state.value)
        return self.to_out(principal, updated)


def _platform_id_of(raw: msgspec.Raw) -> str | None:
    try:
        value = msgspec.json.decode(raw, type=dict[str, Any]).get("platform_id")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return value if isinstance(value, str) else None
