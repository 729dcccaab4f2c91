"""The review queue: visits that need a supervisor's eye, each with its reasons.

The position rule: the store has no geocoding, so each grid (village or community) may
have a centroid (`grid_positions`, from the grids sheet or the demo); a visit
whose position lies more than BEATSYNC_REVIEW_DISTANCE_M from its task's grid centroid
(great-circle distance) is `far_from_address`. A grid without a centroid never raises it.
The centroid is measured in WGS-84, as phones report: one a sheet gave in GCJ-02 or BD-09
(copied from Amap, Tencent or Baidu) is converted first, or it would sit hundreds of
metres off and flag visits made at the very door.

A supervisor approves a visit, or returns it to the officer with a reason; either way
the task's version moves, so the verdict reaches the officer's phone on the next pull
(`VisitOut.review`). The officer answers a return with a new entry that supersedes the
old one; the old one stays on record, and the new one comes to the queue as `resubmitted`.
"""

from __future__ import annotations

import math
import re

from server.auth.principal import Principal
from server.errors import NotFound
from server.geo import to_wgs84
from server.review.schemas import Reason, ReviewItem, ReviewOut, ReviewPage
from server.settings import Settings
from server.store.interface import Store
from server.store.records import Actor, Datum
from server.store.visit_records import ReviewCandidate, VisitRecord
from sync.protocol import Position

SCAN_BATCH = 500
SCAN_MAX = 20_000  # entries looked at per request; the cursor goes on from there
EARTH_RADIUS_M = 6_371_000
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def reasons_for(row: ReviewCandidate, limit_m: float) -> tuple[list[Reason], float | None]:
    reasons: list[Reason] = []
    flags = set(row.flags)
    if row.contact == "face_to_face" and not row.photos:
        reasons.append(Reason.NO_PHOTO)
    distance = None
    if (
        row.lat is not None
        and row.lon is not None
        and row.grid_lat is not None
        and row.grid_lon is not None
    ):
        grid_lat, grid_lon = to_wgs84(row.grid_lat, row.grid_lon, row.grid_datum or Datum.WGS84)
        distance = round(distance_m(row.lat, row.lon, grid_lat, grid_lon), 1)
        if distance > limit_m:
            reasons.append(Reason.FAR_FROM_ADDRESS)
    for flag in (
        Reason.CLOCK_SKEW,
        Reason.IMPOSSIBLE_TIME,
        Reason.VISIT_AFTER_REASSIGN,
        Reason.VISIT_AFTER_CANCEL,
        Reason.HANDED_IN_AT_REVOCATION,
    ):
        if flag.value in flags:
            reasons.append(flag)
    if row.conflicts:
        reasons.append(Reason.SYNC_CONFLICT)
    if row.supersedes_review == "returned":
        reasons.append(Reason.RESUBMITTED)
    return reasons, distance


class ReviewService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.limit_m = float(settings.review_distance_m)

    def queue(self, principal: Principal, after: int, limit: int) -> ReviewPage:
        scope = principal.jurisdiction
        items: list[ReviewItem] = []
        scanned, cursor = 0, after
        while len(items) < limit and scanned < SCAN_MAX:
            rows = self.store.review_candidates(
                scope.column, str(scope.value), after_seq=cursor, limit=SCAN_BATCH
            )
            for row in rows:
                cursor = row.seq
                reasons, distance = reasons_for(row, self.limit_m)
                if reasons:
                    items.append(_item(row, reasons, distance))
                    if len(items) == limit:
                        break
            scanned += len(rows)
            if len(rows) < SCAN_BATCH:
                return ReviewPage(items=items, next_after=cursor if len(items) == limit else None)
        return ReviewPage(items=items, next_after=cursor)

    def _visible(self, principal: Principal, entry_id: str) -> VisitRecord:
        visit = self.store.get_visit(entry_id) if _ENTRY_ID.match(entry_id) else None
        if visit is None or not principal.covers(visit):
            raise NotFound(f"visit {entry_id} not found", field="entry_id")
        return visit

    def decide(
        self, principal: Principal, entry_id: str, decision: str, note: str | None
    ) -> ReviewOut:
        visit = self._visible(principal, entry_id)
        row = next(
            (
                r
                for r in self.store.review_candidates(
                    principal.jurisdiction.column,
                    str(principal.jurisdiction.value),
                    after_seq=visit.seq - 1,
                    limit=1,
                )
                if r.entry_id == entry_id
            ),
            None,
        )
        reasons = [r.value for r in reasons_for(row, self.limit_m)[0]] if row else []
        done = self.store.review_visit(
            entry_id,
            decision,
            reasons,
            note,
            Actor(user_id=principal.user_id, device_id=principal.device_id),
        )
        # Reviewed just now: the entry comes back with its review.
        assert done.review_decision is not None  # noqa: S101
        assert done.review_at is not None  # noqa: S101
        return ReviewOut(
            entry_id=done.entry_id,
            task_kind=done.task_kind,
            task_id=done.task_id,
            decision=done.review_decision,
            note=done.review_note,
            reviewed_at=done.review_at,
        )


def _item(row: ReviewCandidate, reasons: list[Reason], distance: float | None) -> ReviewItem:
    position = (
        Position(lat=row.lat, lon=row.lon, accuracy_m=row.accuracy_m)
        if row.lat is not None and row.lon is not None and row.accuracy_m is not None
        else None
    )
    return ReviewItem(
        entry_id=row.entry_id,
        task_kind=row.task_kind,
        task_id=row.task_id,
        officer_id=row.officer_id,
        station_id=row.station_id,
        seq=row.seq,
        recorded_at=row.recorded_at,
        received_at=row.received_at,
        contact=row.contact,
        outcome=row.outcome,
        photos=len(row.photos),
        position=position,
        distance_m=distance,
        supersedes=row.supersedes,
        reasons=reasons,
    )
