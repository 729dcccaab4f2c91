"""Push and pull for devices: the HTTP side of sync/PROTOCOL.md."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import msgspec

from server.auth.principal import Principal
from server.bodies import NUL, NUL_REASON, nul_field
from server.bounds import EARLIEST, LATEST, TIME_RANGE, time_in_range
from server.clock import iso
from server.errors import BeatsyncError, ErrorCode, InputError
from server.logs import get_logger
from server.problems import field_from_msgspec
from server.store.interface import Store
from server.store.queries import ResyncRequired
from server.store.sync_records import PulledVisit, PulledWarning, PullItem, PushContext
from server.warnings.service import mask_id_number
from sync.merge import Rejection
from sync.protocol import (
    CLOCK_TOLERANCE_MS,
    MAX_MUTATIONS,
    AwareDatetime,
    Change,
    FieldValue,
    Material,
    Mutation,
    MutationProblem,
    MutationResult,
    Position,
    PublicityTask,
    PullResponse,
    PushResponse,
    RecordVisit,
    Remove,
    SetField,
    Upsert,
    VisitEntry,
    VisitOut,
    VisitReview,
    WarningTask,
    push_request_decoder,
)

log = get_logger("beatsync.sync")
# A phone whose clock is this far off has its records flagged for a supervisor's eye.
SKEW_FLAG_MS = CLOCK_TOLERANCE_MS
_cursor = msgspec.json.Decoder(tuple[str, int, str])
_list = msgspec.json.Decoder(list[Any])
_materials = msgspec.json.Decoder(list[Material])


class _PushEnvelope(msgspec.Struct):
    # Mutations stay raw so that each is decoded, and refused, on its own.
    device_time: AwareDatetime
    mutations: list[msgspec.Raw]


_push_envelope = msgspec.json.Decoder(_PushEnvelope)
_mutation: msgspec.json.Decoder[RecordVisit | SetField] = msgspec.json.Decoder(Mutation)


def _mutation_id_of(raw: msgspec.Raw) -> str | None:
    try:
        value = msgspec.json.decode(raw, type=dict[str, Any]).get("mutation_id")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    # Kept with the rejection: a NUL, refused in every stored string, would be stored here.
    return value[:64] if isinstance(value, str) and value and NUL not in value else None


def encode_cursor(mode: str, number: int, key: str = "") -> str:
    raw = msgspec.json.encode([mode, number, key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, int, str]:
    """(mode, number, key): ('s', snapshot seq, last key) or ('l', last seq, '')."""
    if not cursor:
        return ("s", -1, "")
    try:
        mode, number, key = _cursor.decode(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError("cursor is not one this server gave out", field="cursor") from exc
    if mode not in ("s", "l") or number < 0:
        raise InputError("cursor is not one this server gave out", field="cursor")
    return mode, number, key


class _DecodedPush(msgspec.Struct):
    device_time: datetime
    valid: list[tuple[int, RecordVisit | SetField]]
    malformed: dict[int, MutationResult]
    kept: list[tuple[str, str, str, str]]  # (mutation id, code, detail, body) to keep


def _decode_push(body: bytes) -> _DecodedPush:
    """The push's mutations by index: the valid ones, and a verdict and a record to keep
    for each malformed one. Raises InputError when the envelope itself is bad."""
    try:
        # Nearly every push is well-formed: one typed decode, and mutation by mutation
        # only when something in it is not (a NUL in a string is, though it decodes).
        whole = push_request_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    else:
        if b"\\u0000" not in body:
            return _DecodedPush(whole.device_time, list(enumerate(whole.mutations)), {}, [])
    try:
        envelope = _push_envelope.decode(body)
    except msgspec.ValidationError as exc:
        path, reason = field_from_msgspec(str(exc))
        raise InputError(reason, field=path or "mutations") from exc
    except msgspec.DecodeError as exc:
        raise InputError(f"body is not JSON: {exc}", code=ErrorCode.MALFORMED_BODY) from exc
    if not 1 <= len(envelope.mutations) <= MAX_MUTATIONS:
        raise InputError(f"a push holds 1 to {MAX_MUTATIONS} mutations", field="mutations")
    decoded = _DecodedPush(envelope.device_time, [], {}, [])
    for index, raw in enumerate(envelope.mutations):
        try:
            mutation = _mutation.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            path, reason = field_from_msgspec(str(exc))
        else:
            nul = nul_field(raw)
            if nul is None:
                decoded.valid.append((index, mutation))
                continue
            path, reason = nul, NUL_REASON
        mutation_id = _mutation_id_of(raw) or f"#{index}"
        code = Rejection.MALFORMED_MUTATION.value
        decoded.malformed[index] = MutationResult(
            mutation_id=mutation_id,
            status="rejected",
            problem=MutationProblem(code=code, detail=reason, field=path or None),
        )
        decoded.kept.append((mutation_id, code, reason, bytes(raw).decode(errors="replace")))
    return decoded


_VISIT_TIMES = ("recorded_at", "arrived_at", "held_at")
# A time whose own year lies strictly between these is inside [EARLIEST, LATEST) whatever
# its UTC offset (always under a day): read off its year, without the comparison of two
# times in different zones, which converts both (some 30 times the cost).
_SAFE_AFTER, _SAFE_BEFORE = EARLIEST.year + 1, LATEST.year - 1


def _times_in_range(entry: VisitEntry) -> bool:
    """All of a visit's times in range, checked without naming them: what nearly every
    visit is, so the search for the field to name runs only for the rare one that is not."""
    recorded, arrived, held = entry.recorded_at, entry.arrived_at, entry.held_at
    return (
        (_SAFE_AFTER < recorded.year < _SAFE_BEFORE or EARLIEST <= recorded < LATEST)
        and (
            arrived is None
            or _SAFE_AFTER < arrived.year < _SAFE_BEFORE
            or EARLIEST <= arrived < LATEST
        )
        and (held is None or _SAFE_AFTER < held.year < _SAFE_BEFORE or EARLIEST <= held < LATEST)
    )


def _bound_times(decoded: _DecodedPush) -> _DecodedPush:
    """Refuse, mutation by mutation, visit times no clock could show (outside the window
    ingest allows, server/bounds.py): kept for review as malformed, like any mutation that
    cannot be read. A time inside it but impossible for its task is flagged instead."""
    valid = []
    for index, mutation in decoded.valid:
        if isinstance(mutation, RecordVisit) and not _times_in_range(mutation.entry):
            wrong = next(
                (
                    name
                    for name in _VISIT_TIMES
                    if (at := getattr(mutation.entry, name)) is not None and not time_in_range(at)
                ),
                None,
            )
            if wrong is not None:
                code = Rejection.MALFORMED_MUTATION.value
                detail = f"{wrong} must lie {TIME_RANGE}"
                decoded.malformed[index] = MutationResult(
                    mutation_id=mutation.mutation_id,
                    status="rejected",
                    problem=MutationProblem(code=code, detail=detail, field=f"entry.{wrong}"),
                )
                body = msgspec.json.encode(mutation).decode()
                decoded.kept.append((mutation.mutation_id, code, detail, body))
                continue
        valid.append((index, mutation))
    decoded.valid = valid
    return decoded


class SyncService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def push_raw(self, principal: Principal, body: bytes) -> PushResponse:
        """Decode a push mutation by mutation; a malformed one is rejected alone and kept."""
        decoded = _bound_times(_decode_push(body))
        ctx = self._context(principal, decoded.device_time)
        if principal.handin_revoked_at is not None:
            # A cut-off phone hands in its outbox (PROTOCOL.md, Being cut off): its window
            # opens now, the first time.
            self.store.open_handin(principal.session_id)
            log.warning("handin", session_id=principal.session_id, mutations=len(decoded.valid))
        if decoded.kept:
            self.store.record_rejections(ctx, decoded.kept)
        valid = decoded.valid
        applied, server_hlc = (
            (self.store.apply_push(ctx, [m for _, m in valid]))
            if valid
            else ([], self.store.server_hlc())
        )
        by_index = dict(zip((i for i, _ in valid), applied, strict=True)) | decoded.malformed
        results = [by_index[i] for i in range(len(by_index))]
        return self._response(ctx, results, server_hlc)

    def _context(self, principal: Principal, device_time: datetime) -> PushContext:
        now = self.store.clock.now()
        offset = int((device_time - now).total_seconds() * 1000)
        return PushContext(
            user_id=principal.user_id,
            device_pk=principal.device_pk,
            device_id=principal.device_id,
            city_id=principal.city_id,
            county_id=principal.county_id,
            station_id=principal.station_id,
            received_at=iso(now),
            now_ms=int(now.timestamp() * 1000),
            clock_offset_ms=offset,
            skew_flagged=abs(offset) > SKEW_FLAG_MS,
            revoked_at_ms=int(principal.handin_revoked_at.timestamp() * 1000)
            if principal.handin_revoked_at is not None
            else None,
        )

    def _response(
        self, ctx: PushContext, results: list[MutationResult], server_hlc: str
    ) -> PushResponse:
        offset, skewed = ctx.clock_offset_ms, ctx.skew_flagged
        log.info(
            "push",
            mutations=len(results),
            rejected=sum(r.status == "rejected" for r in results),
            conflicts=sum(r.status == "conflict" for r in results),
            clock_offset_ms=offset,
        )
        return PushResponse(
            results=results,
            server_hlc=server_hlc,
            clock_offset_ms=offset,
            clock_skew_flagged=skewed,
        )

    def pull(self, principal: Principal, cursor: str | None, limit: int) -> PullResponse:
        mode, number, key = decode_cursor(cursor)
        if mode == "s" and number < 0:
            number = self.store.current_seq()
        try:
            rows = self.store.pull_rows(
                principal.user_id,
                snapshot_at=number if mode == "s" else None,
                after_key=key,
                after_seq=number if mode == "l" else 0,
                limit=limit,
            )
        except ResyncRequired as exc:
            raise BeatsyncError(
                "this cursor is older than the change log the server keeps;"
                " pull again without a cursor and replace local data",
                code=ErrorCode.RESYNC_REQUIRED,
                field="cursor",
            ) from exc
        if number > rows.head:
            # Sequence numbers only grow: a cursor past the head was handed out by this
            # database before it was restored from a backup, and what the phone holds
            # beyond the backup is unknown here.
            raise BeatsyncError(
                "this cursor is ahead of the server (restored from a backup);"
                " pull again without a cursor and replace local data",
                code=ErrorCode.RESYNC_REQUIRED,
                field="cursor",
            )
        if mode == "s" and rows.more:
            next_cursor = encode_cursor("s", number, rows.last_key)
        elif mode == "s":
            next_cursor = encode_cursor("l", number)
        else:
            next_cursor = encode_cursor("l", rows.last_seq)
        has_more = rows.more or (mode == "s" and rows.head > number)
        return PullResponse(
            changes=[self._change(principal, item) for item in rows.items],
            cursor=next_cursor,
            has_more=has_more,
            checksum=None if has_more else rows.checksum,
            server_hlc=self.store.server_hlc(),
        )

    def _change(self, principal: Principal, item: PullItem) -> Change:
        row = item.task
        if item.op == "remove" or row is None:
            return Remove(
                seq=item.seq, kind=item.kind, id=item.id, reason=item.reason or "reassigned"
            )
        fields = {name: FieldValue(value=v.value, hlc=v.hlc) for name, v in item.fields.items()}
        task: WarningTask | PublicityTask
        if isinstance(row, PulledWarning):
            task = WarningTask(
                id=row.id,
                version=row.version,
                state=row.state,
                resident_name=row.resident_name,
                resident_phone=row.resident_phone,
                resident_address=row.resident_address,
                resident_id_number=mask_id_number(row.resident_id_number),
                grid_code=row.grid_code,
                source=row.source,
                fraud_type=row.fraud_type,
                risk_level=row.risk_level,
                summary=row.summary,
                issued_at=_dt(row.issued_at),
                deadline_at=_dt(row.deadline_at),
                outcome=row.outcome,
                officer_id=row.officer_id,
                fields=fields,
            )
        else:
            task = PublicityTask(
                id=row.id,
                version=row.version,
                status=row.status,
                title=row.title,
                grid_code=row.grid_code,
                venue_kind=row.venue_kind,
                audience=row.audience,
                window_start=datetime.fromisoformat(row.window_start).date(),
                window_end=datetime.fromisoformat(row.window_end).date(),
                notes=row.notes,
                officer_ids=row.officer_ids,
                fields=fields,
            )
        return Upsert(seq=item.seq or row.seq, task=task, visits=_visits_out(item.visits))


def _dt(text: str | None) -> datetime:
    assert text is not None  # noqa: S101 - NOT NULL columns
    return datetime.fromisoformat(text)


def _visits_out(rows: list[PulledVisit]) -> list[VisitOut]:
    superseded_by = {r.supersedes: r.entry_id for r in rows if r.supersedes}
    out = []
    for r in rows:
        position = (
            Position(lat=r.lat, lon=r.lon, accuracy_m=r.accuracy_m)
            # A position is stored whole or not at all (the entry's Position has all three).
            if r.lat is not None and r.lon is not None and r.accuracy_m is not None
            else None
        )
        out.append(
            VisitOut(
                entry_id=r.entry_id,
                task_kind=r.task_kind,
                task_id=r.task_id,
                officer_id=r.officer_id,
                recorded_at=_dt(r.recorded_at),
                received_at=_dt(r.received_at),
                supersedes=r.supersedes,
                superseded_by=superseded_by.get(r.entry_id),
                arrived_at=_dt(r.arrived_at) if r.arrived_at else None,
                contact=r.contact,
                outcome=r.outcome,
                amount_prevented=r.amount_prevented,
                notes=r.notes,
                position=position,
                photos=_list.decode(r.photos),
                held_at=_dt(r.held_at) if r.held_at else None,
                attendance=r.attendance,
                materials=_materials.decode(r.materials),
                completed=bool(r.completed),
                flags=_list.decode(r.flags),
                review=VisitReview(
                    decision=r.review_decision,
                    note=r.review_note,
                    reviewed_at=_dt(r.review_at),
                )
                if r.review_decision
                else None,
                hlc=r.hlc,
            )
        )
    return out
