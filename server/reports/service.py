"""Completion reports and the daily (weekly, monthly) bulletin.

Every figure is a count or a sum over the store's own records (see WarningFigures for
the definitions), so each breakdown adds up to its total. Days are local days at
BEATSYNC_REPORT_UTC_OFFSET_MINUTES (China Standard Time by default).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from server.auth.principal import Principal
from server.bounds import check_day
from server.errors import InputError, NotFound
from server.reports.schemas import (
    Bulletin,
    BulletinRow,
    CompletionReport,
    FraudTypeOutcomes,
    Period,
    PublicityFigures,
    Row,
    Trend,
    TrendDay,
    WarningFigures,
)
from server.settings import Settings
from server.store.interface import Store
from server.store.queries import OUTCOMES
from server.store.records import Level, Unit
from server.store.supervision_records import (
    GroupValue,
    PublicityGroupFigures,
    WarningCounts,
    WarningDayFigures,
    WarningGroupFigures,
)

MAX_DAYS = 366
MAX_TREND_DAYS = 92  # a quarter: what a chart of days still reads
# Days a report may name: what the store's times and a month after them can hold.
UNIT_COLUMN = {Level.CITY: "city_id", Level.COUNTY: "county_id", Level.STATION: "station_id"}
SUB_COLUMN = {Level.CITY: "county_id", Level.COUNTY: "station_id", Level.STATION: None}
UNASSIGNED = "(未分派)"
COUNTS = (
    "received",
    "cancelled",
    "visited",
    "face_to_face",
    "on_time",
    "late",
    "overdue",
    "closed",
    "amount_prevented",
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def period_range(day: date, period: Period) -> tuple[date, date]:
    """First and last day (inclusive) of the period holding `day`."""
    check_day(day, "day")
    if period == Period.DAY:
        return day, day
    if period == Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


class ReportService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.limits = settings.deadline_minutes()
        self.tz = timezone(timedelta(minutes=settings.report_utc_offset_minutes))

    # -- shared ------------------------------------------------------------------------

    def _bounds(
        self, first: date, last: date, max_days: int = MAX_DAYS
    ) -> tuple[datetime, datetime]:
        for name, day in (("date_from", first), ("date_to", last)):
            check_day(day, name)
        if last < first:
            raise InputError("date_to is before date_from", field="date_to")
        if (last - first).days >= max_days:
            raise InputError(f"a report covers at most {max_days} days", field="date_to")
        start = datetime.combine(first, time(0), self.tz).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), self.tz).astimezone(UTC)
        return start, end

    def visible_unit(self, principal: Principal, unit_id: str | None) -> Unit:
        unit = self.store.get_unit(unit_id or principal.unit_id)
        if unit is None or not principal.covers_unit(unit):
            raise NotFound(f"unit {unit_id} not found", field="unit_id")
        return unit

    def _today(self) -> str:
        return self.store.clock.now().astimezone(self.tz).date().isoformat()

    def _levels(
        self, column: str, value: str, first: date, last: date, groups: Sequence[str]
    ) -> list[dict[Any, tuple[WarningFigures, PublicityFigures]]]:
        """The unit's figures over [first, last]: the total (under key None), then by each of
        `groups` in turn. The warnings are read once, at the finest grouping, and added up
        to each level; publicity tasks are few and are counted per level."""
        start, end = self._bounds(first, last)
        finest = self.store.warning_figures(
            column, value, start, end, self.store.clock.now(), self.limits, groups
        )
        levels = []
        for n, group in enumerate([None, *groups]):
            warnings = _roll_up(finest, n - 1 if group else None)
            publicity = self._publicity(column, value, first, last, group)
            levels.append(
                {
                    key: (
                        warnings.get(key, WarningFigures()),
                        publicity.get(key, PublicityFigures()),
                    )
                    for key in set(warnings) | set(publicity)
                }
            )
        return levels

    def _publicity(
        self, column: str, value: str, first: date, last: date, group: str | None
    ) -> dict[Any, PublicityFigures]:
        return {
            r.group: _publicity_figures(r)
            for r in self.store.publicity_figures(
                column, value, first.isoformat(), last.isoformat(), self._today(), group
            )
        }

    # -- completion report -------------------------------------------------------------

    def completion(
        self,
        principal: Principal,
        unit_id: str | None,
        first: date,
        last: date,
        *,
        by_officer: bool = True,
    ) -> CompletionReport:
        """by_officer False: by_officer left empty. The warnings are then read by sub-unit
        alone, the store's fast path (the console's ranking of a city-month in a second);
        the figures are the same either way."""
        unit = self.visible_unit(principal, unit_id)
        column, value = UNIT_COLUMN[unit.level], unit.id
        sub = SUB_COLUMN[unit.level]
        groups = [sub] if sub else []
        if by_officer:
            groups.append("officer")
        levels = self._levels(column, value, first, last, groups)
        total = levels[0].get(None, (WarningFigures(), PublicityFigures()))
        units = {u.id: u.name for u in self.store.list_units()}
        by_unit = [
            Row(key=str(key), name=units.get(str(key), str(key)), warnings=w, publicity=p)
            for key, (w, p) in (levels[1] if sub else {}).items()
        ]
        officers: list[Row] = []
        if by_officer:
            names = {u.id: u.name for u in self.store.list_users(role="officer")}
            officers = [
                Row(
                    key=str(key) if key is not None else "",
                    name=names.get(key, str(key)) if key is not None else UNASSIGNED,
                    warnings=w,
                    publicity=p,
                )
                for key, (w, p) in levels[-1].items()
            ]
        return CompletionReport(
            unit_id=unit.id,
            unit_name=unit.name,
            level=unit.level.value,
            date_from=first,
            date_to=last,
            total=Row(key=unit.id, name=unit.name, warnings=total[0], publicity=total[1]),
            by_unit=sorted(by_unit, key=lambda r: r.key),
            by_officer=sorted(officers, key=lambda r: (r.key == "", r.key.zfill(12))),
        )

    # -- trend -------------------------------------------------------------------------

    def trend(self, principal: Principal, unit_id: str | None, first: date, last: date) -> Trend:
        """The unit's warnings per local day over [first, last] (at most MAX_TREND_DAYS),
        and the period's outcomes by fraud type, from one scan of its warnings."""
        unit = self.visible_unit(principal, unit_id)
        start, end = self._bounds(first, last, MAX_TREND_DAYS)
        rows = self.store.warning_trend(
            UNIT_COLUMN[unit.level],
            unit.id,
            start,
            end,
            self.store.clock.now(),
            self.limits,
            self.settings.report_utc_offset_minutes,
        )
        by_day: dict[date, list[WarningDayFigures]] = {}
        by_type: dict[str, list[WarningDayFigures]] = {}
        for r in rows:
            by_day.setdefault(r.day, []).append(r)
            by_type.setdefault(r.fraud_type, []).append(r)
        days = [
            _trend_day(first + timedelta(days=n), by_day.get(first + timedelta(days=n), []))
            for n in range((last - first).days + 1)
        ]
        types = [
            FraudTypeOutcomes(
                fraud_type=fraud_type,
                received=figures.received,
                assigned=figures.assigned,
                outcomes=figures.outcomes,
            )
            for fraud_type, figures in (
                (t, _warning_figures(parts)) for t, parts in by_type.items()
            )
        ]
        return Trend(
            unit_id=unit.id,
            unit_name=unit.name,
            level=unit.level.value,
            date_from=first,
            date_to=last,
            days=days,
            by_fraud_type=sorted(types, key=lambda t: (-t.received, t.fraud_type)),
        )

    # -- bulletin ----------------------------------------------------------------------

    def bulletin(self, principal: Principal, day: date, period: Period) -> Bulletin:
        first, last = period_range(day, period)
        unit = self.visible_unit(principal, None)
        column, value = UNIT_COLUMN[unit.level], unit.id
        units = self.store.list_units()
        names = {u.id: u.name for u in units}
        city = unit.level == Level.CITY
        levels = self._levels(
            column, value, first, last, ["county_id", "station_id"] if city else ["station_id"]
        )
        total = levels[0].get(None, (WarningFigures(), PublicityFigures()))
        threshold = self.settings.bulletin_lagging_rate
        # Every unit below is on the bulletin, a quiet one with zeros: a station missing
        # from the list reads as a station forgotten, not as one without warnings.
        within = [u for u in units if getattr(u, column) == value]
        counties: list[BulletinRow] = []
        if city:
            counties = self._ranked(
                "county", _every(levels[1], within, Level.COUNTY), names, threshold
            )
        stations = self._ranked(
            "station", _every(levels[-1], within, Level.STATION), names, threshold
        )
        return Bulletin(
            period=period,
            date_from=first,
            date_to=last,
            unit_id=unit.id,
            lagging_rate=threshold,
            total=Row(key=unit.id, name=unit.name, warnings=total[0], publicity=total[1]),
            counties=counties,
            stations=stations,
            lagging_units=[r.name for r in [*counties, *stations] if r.lagging],
        )

    @staticmethod
    def _ranked(
        level: str,
        rows: Iterable[tuple[Any, tuple[WarningFigures, PublicityFigures]]],
        names: dict[str, str],
        threshold: float,
    ) -> list[BulletinRow]:
        """Best first: on-time rate, then face-to-face rate, then fewer overdue; a unit
        with no warnings ranks after those with some. Lagging: warnings to visit and an
        on-time rate below the threshold (BEATSYNC_BULLETIN_LAGGING_RATE)."""
        items = [(str(k), w, p) for k, (w, p) in rows if k is not None]
        items.sort(
            key=lambda i: (
                i[1].on_time_rate is None,
                -(i[1].on_time_rate or 0),
                -(i[1].face_to_face_rate or 0),
                i[1].overdue,
                i[0],
            )
        )
        return [
            BulletinRow(
                level=level,
                rank=n + 1,
                unit_id=key,
                name=names.get(key, key),
                lagging=bool(w.assigned) and (w.on_time_rate or 0) < threshold,
                warnings=w,
                publicity=p,
            )
            for n, (key, w, p) in enumerate(items)
        ]


def _roll_up(
    finest: list[WarningGroupFigures], index: int | None
) -> dict[GroupValue, WarningFigures]:
    """The store's finest rows added up by one of their group values (its place in the
    groups asked for; None: all)."""
    parts: dict[GroupValue, list[WarningGroupFigures]] = {}
    for r in finest:
        parts.setdefault(r.group[index] if index is not None else None, []).append(r)
    return {
        key: _warning_figures(rows, [r.contact_minutes for r in rows])
        for key, rows in parts.items()
    }


def _publicity_figures(r: PublicityGroupFigures) -> PublicityFigures:
    return PublicityFigures(
        tasks=r.tasks,
        done=r.done,
        overdue=r.overdue,
        attendance=r.attendance,
        materials=r.materials,
    )


def _trend_day(day: date, rows: list[WarningDayFigures]) -> TrendDay:
    f = _warning_figures(rows)
    return TrendDay(
        day=day,
        received=f.received,
        assigned=f.assigned,
        visited=f.visited,
        face_to_face=f.face_to_face,
        on_time=f.on_time,
        overdue=f.overdue,
        face_to_face_rate=f.face_to_face_rate,
        on_time_rate=f.on_time_rate,
        dissuasion_rate=_rate(f.outcomes.get("dissuaded", 0), f.assigned),
        amount_prevented=f.amount_prevented,
    )


def _warning_figures(
    rows: Sequence[WarningCounts], runs: list[list[float]] | None = None
) -> WarningFigures:
    """The rows' counts added up; runs: their minutes to first contact, each ascending,
    for the median and 90th percentile (None: neither)."""
    counts: dict[str, int] = {k: sum(getattr(r, k) for r in rows) for k in COUNTS}
    assigned = counts["received"] - counts["cancelled"]
    runs = runs or []
    return WarningFigures(
        **counts,
        assigned=assigned,
        face_to_face_rate=_rate(counts["face_to_face"], assigned),
        on_time_rate=_rate(counts["on_time"], assigned),
        contact_minutes_median=_nearest_rank(runs, 50),
        contact_minutes_p90=_nearest_rank(runs, 90),
        outcomes={o: sum(r.outcomes[o] for r in rows) for o in OUTCOMES},
    )


def _nearest_rank(runs: list[list[float]], percent: int) -> float | None:
    """Of the values in these ascending runs, the one at rank ceil(n * percent / 100),
    to two decimals; None if there are none."""
    n = sum(len(run) for run in runs)
    if not n:
        return None
    return round(_kth_smallest(runs, (n * percent + 99) // 100), 2)


def _kth_smallest(runs: list[list[float]], k: int) -> float:
    """The k-th smallest (from 1) of the values in ascending runs, without merging them:
    a unit's runs are its groups' minutes, each sorted once, and a city has hundreds.

    Each round takes a pivot (the weighted median of the middles of what is left of each
    run), counts what lies below and up to it by bisection, and keeps the side holding
    rank k, which drops at least a quarter of the values left.
    """
    if len(runs) == 1:
        return runs[0][k - 1]
    lo = [0] * len(runs)
    hi = [len(run) for run in runs]
    while True:
        pivot = _weighted_median(
            [(run[(a + b) // 2], b - a) for run, a, b in zip(runs, lo, hi, strict=True) if a < b]
        )
        below = [bisect_left(r, pivot, a, b) for r, a, b in zip(runs, lo, hi, strict=True)]
        upto = [bisect_right(r, pivot, a, b) for r, a, b in zip(runs, lo, hi, strict=True)]
        n_below = sum(below) - sum(lo)
        n_upto = sum(upto) - sum(lo)
        if n_below < k <= n_upto:
            return pivot
        if k <= n_below:
            hi = below
        else:
            k -= n_upto
            lo = upto


def _weighted_median(values: list[tuple[float, int]]) -> float:
    values.sort()
    half, seen = sum(w for _, w in values) / 2, 0
    for value, weight in values:
        seen += weight
        if seen >= half:
            return value
    return values[-1][0]


def _every(
    rows: dict[Any, tuple[WarningFigures, PublicityFigures]], units: list[Any], level: Level
) -> list[tuple[Any, tuple[WarningFigures, PublicityFigures]]]:
    """The figures of every unit of `level` among `units`, zeros for a unit without any."""
    out = dict(rows)
    for unit in units:
        if unit.level == level:
            out.setdefault(unit.id, (WarningFigures(), PublicityFigures()))
    return list(out.items())
