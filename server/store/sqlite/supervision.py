"""Supervision in SQLite: report figures, escalation steps, visit reviews, the outcome feed
and its webhook cursor, and what supervisors see of officers' phones.

Report figures come from one pass over a jurisdiction's warnings received in the range:
in table order over their rowid span when they fill most of it, else by (unit column,
created_at), an index of m005_supervision. SQL reduces each warning to its figure bits,
amount prevented and minutes to first contact; Python counts them per group (a hash
where GROUP BY would sort every row). Every figure is a plain count or sum over the same
rows, so per-officer and per-unit figures add up to the totals. In total or by one unit
column (the console's ranking), a row is two columns and one append (_unit_figures).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

import msgspec

from server.clock import iso, parse_iso
from server.errors import ConflictError, NotFound
from server.store.history_records import WarningHistory
from server.store.overdue import Limits, overdue_sql
from server.store.queries import OUTCOMES
from server.store.records import Actor, AuditEntry, WarningRecord
from server.store.sqlite.base import _audit_row, conflict_record, to_record, visit_record
from server.store.sqlite.claims import SQLiteClaims
from server.store.sqlite.scope import SQLiteScope
from server.store.supervision_records import (
    EscalationRecord,
    GroupValue,
    OfficerActivity,
    OutcomeFeedRecord,
    PublicityGroupFigures,
    WarningDayFigures,
    WarningGroupFigures,
    WebhookState,
)
from server.store.visit_records import ReviewCandidate, VisitRecord

UNIT_COLUMNS = frozenset({"city_id", "county_id", "station_id"})
GROUP_COLUMNS = frozenset({"city_id", "county_id", "station_id", "officer"})
OPEN_STATES = "('new', 'dispatched', 'in_progress')"
LEVELS = ("station", "county", "city")
_encode = msgspec.json.Encoder(order="sorted").encode
_json_list = msgspec.json.Decoder(list[Any]).decode
_json_object = msgspec.json.Decoder(dict[str, Any]).decode


def _group_sql(group: str) -> str:
    if group not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {group}")
    return "coalesce(w.outcome_officer_id, w.officer_id)" if group == "officer" else f"w.{group}"


UNIT_INDEX = {
    "city_id": "warnings_city_created",
    "county_id": "warnings_county_created",
    "station_id": "warnings_station_created",
}
# A warning's figures as the bits of one integer: rows are then counted by (bits, group)
# in a hash, where a GROUP BY would have SQLite sort every row of a city-month.
CANCELLED, VISITED, FACE_TO_FACE, ON_TIME, LATE, OVERDUE, CLOSED = (1 << n for n in range(7))
OUTCOME_SHIFT = 7  # the outcome's place in OUTCOMES plus one (0: none), three bits
# Above those, for a visit whose minutes from dispatch are its minutes from arrival too
# (dispatched on arrival, or never dispatched): the slot of its risk level's limit, so
# on time or late is read off the minutes already computed, not by julianday() again.
SLOT_SHIFT = 10
# Above the figure bits in a trend row: its local day (see _trend_sql); in a row of
# _unit_figures_sql: its group's place among the unit's sub-units (from 1), and above
# that its amount prevented (sync/protocol.py takes at most 10**10: << 28 stays below
# 2**62, and any larger one overflows to a REAL, which the caller notices).
DAY_SHIFT = GROUP_SHIFT = 16
AMOUNT_SHIFT = 28
PLACES = (1 << (AMOUNT_SHIFT - GROUP_SHIFT)) - 1
_MINUTES = (
    "(julianday(w.first_contact_at) - julianday(coalesce(w.dispatched_at, w.created_at))) * 1440"
)
CHUNK = 100_000  # rows fetched at a time, so memory stays small whatever the range
FLAGS = (
    ("visited", VISITED),
    ("face_to_face", FACE_TO_FACE),
    ("on_time", ON_TIME),
    ("late", LATE),
    ("overdue", OVERDUE),
    ("closed", CLOSED),
)


def _slots(limits: Limits, index: int) -> tuple[list[int], dict[str, Any]]:
    """Each risk level's limit by slot (1... in sorted order, then the largest for any
    other level; 0 is no slot), and the parameters naming levels and limits by slot."""
    levels = sorted(limits)
    by_slot = [0, *(limits[level][index] for level in levels)]
    by_slot.append(max(v[index] for v in limits.values()))
    params: dict[str, Any] = {f"limit{n}": limit for n, limit in enumerate(by_slot)}
    params.update({f"risk{n}": level for n, level in enumerate(levels, start=1)})
    return by_slot, params


def _bits_sql(slots: int, *, slotted: bool) -> str:
    """A warning's figure bits. Times are compared as julianday() did in every earlier
    release, so a contact on the very minute of its limit counts the same.

    slotted: a visit whose minutes from dispatch are its minutes from arrival carries its
    risk level's slot instead of on time or late, for the caller to decide from the
    minutes it fetches anyway; otherwise SQL decides every visit."""
    whens = range(1, slots - 1)
    slot = f"CASE w.risk_level {' '.join(f'WHEN :risk{n} THEN {n}' for n in whens)}"
    lim = f"CASE w.risk_level {' '.join(f'WHEN :risk{n} THEN :limit{n}' for n in whens)}"
    slot += f" ELSE {slots - 1} END"
    lim += f" ELSE :limit{slots - 1} END"
    since = "(julianday(w.first_contact_at) - julianday(w.created_at)) * 1440"
    outcome = " ".join(
        f"WHEN '{o}' THEN {(n + 1) << OUTCOME_SHIFT}" for n, o in enumerate(OUTCOMES)
    )
    by_slot = (
        " WHEN w.dispatched_at IS NULL OR w.dispatched_at = w.created_at"
        f" THEN ({slot}) << {SLOT_SHIFT}"
        if slotted
        else ""
    )
    return (
        f"CASE WHEN w.state = 'cancelled' THEN {CANCELLED} ELSE"
        f" (w.outcome_contact IS 'face_to_face') * {FACE_TO_FACE}"
        f" + (w.state IN ('completed', 'unreachable')) * {CLOSED}"
        f" + CASE w.outcome {outcome} ELSE 0 END"
        f" + CASE WHEN w.first_contact_at IS NOT NULL THEN {VISITED} + CASE{by_slot}"
        f" WHEN {since} <= {lim} THEN {ON_TIME} WHEN {since} > {lim} THEN {LATE} ELSE 0 END"
        f" WHEN w.state IN {OPEN_STATES}"
        f" AND (julianday(:now) - julianday(w.created_at)) * 1440 > {lim} THEN {OVERDUE}"
        " ELSE 0 END END"
    )


def _scan_sql(column: str, select: str, *, dense: bool) -> str:
    """SELECT `select` over the unit's warnings received in [:start, :end)."""
    if dense:
        source, span = "warnings w NOT INDEXED", "w.rowid BETWEEN :lo AND :hi AND "
    else:
        source, span = f"warnings w INDEXED BY {UNIT_INDEX[column]}", ""
    return (
        f"SELECT {select} FROM {source}"  # noqa: S608
        f" WHERE {span}w.{column} = :value AND w.created_at >= :start AND w.created_at < :end"
    )


def _figures_sql(column: str, keys: Sequence[str], slots: int, *, dense: bool) -> str:
    """One row per warning: minutes from dispatch to first contact, amount prevented,
    figure bits, then the group keys."""
    return _scan_sql(
        column,
        "CASE WHEN w.state != 'cancelled' AND w.first_contact_at IS NOT NULL THEN"
        " (julianday(w.first_contact_at) - julianday(coalesce(w.dispatched_at, w.created_at)))"
        " * 1440 END, CASE WHEN w.state != 'cancelled' THEN w.outcome_amount END,"
        f" {_bits_sql(slots, slotted=True)}{''.join(', ' + k for k in keys)}",
        dense=dense,
    )


def _unit_figures_sql(
    column: str, group: str | None, known: int, slots: int, *, dense: bool, typed: bool = False
) -> str:
    """One row per warning: minutes from dispatch to first contact (meaningful only when
    its bits say visited), then one integer: its figure bits, its group's place among
    :k1... and its amount prevented (meaningful only when not cancelled), shifted apart.
    A group value not among :k1... comes as the JSON text [bits, value, amount] instead;
    an amount past what the integer holds turns it into a REAL (SQLite's overflow), for
    the caller to read the slow way. Two columns, and neither strings nor CASE around
    minutes or amount: each column a city-month fetches costs it tens of milliseconds.

    typed: for a database whose column holds one type (PostgreSQL), the key is always
    text, the integer's digits or the JSON list; its integer is a numeric, which has no
    overflow, so every amount reads the fast way there."""
    bits = _bits_sql(slots, slotted=True)
    amount = f"coalesce(w.outcome_amount, 0) * {1 << AMOUNT_SHIFT}"
    if typed:
        amount = f"coalesce(w.outcome_amount, 0)::numeric * {1 << AMOUNT_SHIFT}"
    if group is None:
        total = f"({bits} + {amount})::text" if typed else f"{bits} + {amount}"
        return _scan_sql(column, f"{_MINUTES}, {total}", dense=dense)
    whens = " ".join(f"WHEN :k{n} THEN {n}" for n in range(1, known + 1))
    place = f"(CASE w.{group} {whens} END)" if known else "NULL"
    # coalesce() evaluates its second argument only when the first is NULL: a known
    # group costs no JSON.
    key = (
        f"coalesce(({bits}) + ({place} << {GROUP_SHIFT}) + {amount},"
        f" json_array({bits}, w.{group}, w.outcome_amount))"
    )
    if typed:
        key = (
            f"CASE WHEN {place} IS NULL THEN json_array({bits}, w.{group}, w.outcome_amount)"
            f" ELSE (({bits}) + ({place} << {GROUP_SHIFT}) + {amount})::text END"
        )
    return _scan_sql(column, f"{_MINUTES}, {key}", dense=dense)


def _trend_sql(column: str, slots: int, *, dense: bool) -> str:
    """One row per warning: amount prevented, then its figure bits plus its local day
    (days since 1970-01-01 at :offset seconds from UTC) shifted above them, then its
    fraud type. Two columns fewer than _figures_sql: no minutes (a trend has no
    percentiles), and the day rides in the bits, because each column fetched costs a
    city-month about a tenth of a second."""
    return _scan_sql(
        column,
        "CASE WHEN w.state != 'cancelled' THEN w.outcome_amount END,"
        f" {_bits_sql(slots, slotted=False)}"
        f" + (((unixepoch(w.created_at) + :offset) / 86400) << {DAY_SHIFT}), w.fraud_type",
        dense=dense,
    )


class SQLiteSupervision(SQLiteScope, SQLiteClaims):
    # -- completion report -----------------------------------------------------------------

    def warning_figures(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        now: datetime,
        limits: Limits,
        groups: Sequence[str],
    ) -> list[WarningGroupFigures]:
        """Figures per (group...) for warnings received in [start, end) in the unit.

        One per group met, its values in `group`: received, cancelled, visited,
        face_to_face, on_time, late, overdue, closed, amount_prevented and each outcome's
        count, all over non-cancelled warnings except received and cancelled; and
        contact_minutes: the minutes from dispatch (dispatched_at, or the
        arrival when the warning waited in a queue) to first contact of each visited
        warning, ascending, for nearest-rank percentiles. Raises ValueError for a column
        or group it cannot scope or group by.
        """
        keys = [_group_sql(g) for g in groups]
        by_slot, slot_params = _slots(limits, 0)
        if len(groups) <= 1 and UNIT_COLUMNS.issuperset(groups):
            fast = self._unit_figures(
                column,
                value,
                start,
                end,
                groups[0] if groups else None,
                by_slot,
                slot_params | {"now": iso(now)},
            )
            if fast is not None:
                return fast
        tally = _Tally(by_slot)
        for rows in self._scan(
            column,
            value,
            start,
            end,
            lambda dense: _figures_sql(column, keys, len(by_slot), dense=dense),
            slot_params | {"now": iso(now)},
        ):
            tally.add(rows)
        return tally.figures()

    def _unit_figures(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        group: str | None,
        by_slot: Sequence[int],
        params: dict[str, Any],
    ) -> list[WarningGroupFigures] | None:
        """warning_figures in total or by one unit column, as the console's ranking asks
        it of a city-month within a second; None where an amount is past what the packed
        key holds (see _unit_figures_sql). A row is filed under its key with one append,
        so each count is a list's length."""
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        known: list[Any] = []
        if group is not None:
            known = [
                r["g"]
                for r in self._query(
                    f"SELECT DISTINCT {group} AS g FROM units"  # noqa: S608
                    f" WHERE {column} = ? AND {group} IS NOT NULL ORDER BY g",
                    (value,),
                )
            ]
            if len(known) > PLACES:
                known = []  # all by the JSON key: slower, the same figures
        params = params | {f"k{n}": k for n, k in enumerate(known, start=1)}
        runs: dict[Any, list[Any]] = {}
        for rows in self._scan(
            column,
            value,
            start,
            end,
            lambda dense: _unit_figures_sql(
                column, group, len(known), len(by_slot), dense=dense, typed=self._typed_columns
            ),
            params,
        ):
            for minutes, key in rows:
                try:
                    runs[key].append(minutes)
                except KeyError:
                    runs[key] = [minutes]
        if any(isinstance(key, float) for key in runs):
            return None
        return _unit_rows(runs, known if group else None, by_slot)

    def warning_trend(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        now: datetime,
        limits: Limits,
        utc_offset_minutes: int,
    ) -> list[WarningDayFigures]:
        """Figures per (local day, fraud type) for warnings received in [start, end) in
        the unit, counted exactly as warning_figures counts them; without minutes to
        first contact. Raises ValueError for a column it cannot scope by."""
        by_slot, slot_params = _slots(limits, 0)
        # Counted whole rows at a time, in C: (amount, bits and day, fraud type) -> n.
        counts: Counter[tuple[Any, ...]] = Counter()
        for rows in self._scan(
            column,
            value,
            start,
            end,
            lambda dense: _trend_sql(column, len(by_slot), dense=dense),
            slot_params | {"now": iso(now), "offset": utc_offset_minutes * 60},
        ):
            counts.update(rows)
        out: dict[tuple[date, str], dict[str, Any]] = {}
        epoch = date(1970, 1, 1)
        for (amount, packed, fraud_type), n in counts.items():
            day = epoch + timedelta(days=packed >> DAY_SHIFT)
            figures = out.get((day, fraud_type))
            if figures is None:
                figures = out[(day, fraud_type)] = _empty_figures()
            _count(figures, packed & ((1 << DAY_SHIFT) - 1), n)
            if amount:
                figures["amount_prevented"] += amount * n
        return [
            WarningDayFigures(day=day, fraud_type=fraud_type, **_counts(figures))
            for (day, fraud_type), figures in out.items()
        ]

    def _scan(
        self,
        column: str,
        value: str,
        start: datetime,
        end: datetime,
        sql: Callable[[bool], str],
        params: dict[str, Any],
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of sql(dense) over the unit's warnings received in [start, end), a chunk
        at a time, in one read transaction."""
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        params = params | {"value": value, "start": iso(start), "end": iso(end)}
        with self._snapshot() as conn:
            span = conn.execute(
                "SELECT min(rowid) AS lo, max(rowid) AS hi, count(*) AS n"  # noqa: S608
                f" FROM warnings INDEXED BY {UNIT_INDEX[column]} WHERE {column} = :value"
                " AND created_at >= :start AND created_at < :end",
                params,
            ).fetchone()
            if not span["n"]:
                return
            # Dense in its rowid span (a city's, or any unit's in a quiet database): read
            # that span in table order, far cheaper than a row lookup per index entry.
            dense = span["n"] * 3 >= span["hi"] - span["lo"] + 1
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: a city-month is half a million rows
            cursor.execute(sql(dense), params | {"lo": span["lo"], "hi": span["hi"]})
            while rows := cursor.fetchmany(CHUNK):
                yield rows

    def publicity_figures(
        self,
        column: str,
        value: str,
        first_day: str,
        last_day: str,
        today: str,
        group: str | None,
    ) -> list[PublicityGroupFigures]:
        """Publicity tasks whose window overlaps [first_day, last_day] (local dates):
        tasks, done, overdue (open past window_end), attendance and materials from visit
        entries not superseded. Group: a unit column, 'officer' (by assignee; attendance
        by the recording officer) or None."""
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        task_where = f"t.{column} = ? AND t.window_start <= ? AND t.window_end >= ?"
        base = [value, last_day, first_day]
        if group == "officer":
            tasks_sql = (
                "SELECT a.officer_id AS g, count(*) AS tasks,"  # noqa: S608
                " sum(t.status = 'done') AS done, sum(t.status IN ('planned', 'in_progress')"
                " AND t.window_end < ?) AS overdue FROM publicity_tasks t"
                f" JOIN publicity_assignees a ON a.task_id = t.id WHERE {task_where}"
                " GROUP BY g"
            )
            g_visit = "v.officer_id"
        else:
            g = f"t.{group}" if group else "NULL"
            if group and group not in UNIT_COLUMNS:
                raise ValueError(f"cannot group by {group}")
            tasks_sql = (
                f"SELECT {g} AS g, count(*) AS tasks, sum(t.status = 'done') AS done,"  # noqa: S608
                " sum(t.status IN ('planned', 'in_progress') AND t.window_end < ?) AS overdue"
                f" FROM publicity_tasks t WHERE {task_where} GROUP BY g"
            )
            g_visit = g
        visits_from = (
            "FROM publicity_tasks t JOIN visit_logs v ON v.task_kind = 'publicity'"  # noqa: S608
            f" AND v.task_id = t.id WHERE {task_where} AND NOT EXISTS (SELECT 1 FROM"
            " visit_logs s WHERE s.supersedes = v.entry_id)"
        )
        out: dict[GroupValue, dict[str, Any]] = {}
        for r in self._query(tasks_sql, [today, *base]):
            out[r["g"]] = {
                "tasks": r["tasks"],
                "done": r["done"],
                "overdue": r["overdue"],
                "attendance": 0,
                "materials": 0,
            }
        for r in self._query(
            f"SELECT {g_visit} AS g, coalesce(sum(v.attendance), 0) AS attendance"
            f" {visits_from} GROUP BY g",
            base,
        ):
            out.setdefault(r["g"], _empty_publicity())["attendance"] = r["attendance"]
        items = f", {self._json_items('v.materials')} m WHERE"
        for r in self._query(
            f"SELECT {g_visit} AS g,"
            f" coalesce(sum({self._json_item('m', 'count')}), 0) AS materials"
            f" {visits_from.replace('WHERE', items, 1)}"
            " GROUP BY g",
            base,
        ):
            out.setdefault(r["g"], _empty_publicity())["materials"] = r["materials"]
        # SQL's sums may come as NULL or REAL: whole numbers, as the reports count them.
        return [
            PublicityGroupFigures(group=g, **{k: int(v or 0) for k, v in figures.items()})
            for g, figures in out.items()
        ]

    # -- escalation ------------------------------------------------------------------------

    def escalate(self, limits: Limits, step_minutes: int) -> list[EscalationRecord]:
        """Record every escalation step now due; return the new steps, oldest first.

        A warning with no first contact `limits[risk][0]` minutes after it arrived goes to
        its station supervisor, `step_minutes` later to the county, as many again to the
        city; the same for an outcome after `limits[risk][1]`. Each step once, audited.
        """
        now = self.clock.now()
        found: list[tuple[int, str, str, str, dict[str, Any]]] = []
        for kind, index in (("contact", 0), ("outcome", 1)):
            extra = " AND first_contact_at IS NULL" if kind == "contact" else ""
            for step, level in enumerate(LEVELS):
                for risk, minutes in limits.items():
                    delay = timedelta(minutes=minutes[index] + step * step_minutes)
                    rows = self._query(
                        "SELECT id, created_at, city_id, county_id, station_id"  # noqa: S608
                        f" FROM warnings w WHERE state IN {OPEN_STATES} AND created_at <= ?"
                        f" AND risk_level = ?{extra} AND NOT EXISTS (SELECT 1 FROM escalations"
                        " e WHERE e.warning_id = w.id AND e.kind = ? AND e.level = ?)",
                        (iso(now - delay), risk, kind, level),
                    )
                    for r in rows:
                        due = iso(parse_iso(r["created_at"]) + delay)
                        found.append((r["id"], kind, level, due, r))
        if not found:
            return []
        found.sort(key=lambda f: (f[3], f[0]))
        at = iso(now)
        created: list[EscalationRecord] = []
        with self.transaction() as conn:
            audit = []
            for warning_id, kind, level, due, r in found:
                row = conn.execute(
                    "INSERT INTO escalations (warning_id, kind, level, due_at, at, city_id,"
                    " county_id, station_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING RETURNING *",
                    (
                        warning_id,
                        kind,
                        level,
                        due,
                        at,
                        r["city_id"],
                        r["county_id"],
                        r["station_id"],
                    ),
                ).fetchone()
                if row is None:
                    continue
                created.append(to_record(row, EscalationRecord))
                audit.append(
                    (
                        "warning.escalate",
                        "warning",
                        str(warning_id),
                        None,
                        {"kind": kind, "level": level, "due_at": due},
                        {k: r[k] for k in ("city_id", "county_id", "station_id")},
                    )
                )
            self._append_audit(conn, audit, Actor.system())
        return created

    def escalation_backlog(self, limits: Limits) -> tuple[int, int]:
        """(warnings overdue now, those of them with no contact escalation recorded yet):
        the second stays near 0 while escalation passes keep up. One scan of the open
        warnings' index, for /metrics at scrape time."""
        condition, params = overdue_sql(self.clock.now(), limits)
        row = self._one(
            "SELECT count(*) AS overdue, coalesce(sum(NOT EXISTS (SELECT 1 FROM escalations e"  # noqa: S608
            " WHERE e.warning_id = w.id AND e.kind = 'contact')), 0) AS unescalated"
            f" FROM warnings w WHERE {condition}",
            params,
        )
        return (int(row["overdue"]), int(row["unescalated"])) if row else (0, 0)

    def list_escalations(
        self,
        column: str,
        value: str,
        *,
        level: str | None = None,
        warning_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[EscalationRecord]:
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        where = [f"{column} = ?", "id > ?"]
        params: list[Any] = [value, after_id]
        if level is not None:
            where.append("level = ?")
            params.append(level)
        if warning_id is not None:
            where.append("warning_id = ?")
            params.append(warning_id)
        params.append(limit)
        rows = self._query(
            f"SELECT * FROM escalations WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",  # noqa: S608
            params,
        )
        return [to_record(r, EscalationRecord) for r in rows]

    # -- review ----------------------------------------------------------------------------

    def review_candidates(
        self, column: str, value: str, *, after_seq: int, limit: int
    ) -> list[ReviewCandidate]:
        """Visit entries in the unit, after `after_seq`, that are neither superseded nor
        reviewed, with what deciding their reasons needs: the grid's centroid (in its own
        datum; the caller converts), open conflicts naming the entry, and the review of
        the entry it supersedes."""
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        rows = self._query(
            "SELECT v.*, gp.lat AS grid_lat, gp.lon AS grid_lon, gp.datum AS grid_datum,"  # noqa: S608
            " (SELECT count(*) FROM conflicts c WHERE c.entry_id = v.entry_id) AS conflicts,"
            " (SELECT decision FROM visit_reviews pr WHERE pr.entry_id = v.supersedes)"
            " AS supersedes_review"
            f" FROM visit_logs v"
            " LEFT JOIN warnings w ON v.task_kind = 'warning' AND w.id = v.task_id"
            " LEFT JOIN publicity_tasks p ON v.task_kind = 'publicity' AND p.id = v.task_id"
            " LEFT JOIN grid_positions gp ON gp.code = coalesce(w.grid_code, p.grid_code)"
            f" WHERE v.{column} = ? AND v.seq > ?"
            " AND NOT EXISTS (SELECT 1 FROM visit_logs s WHERE s.supersedes = v.entry_id)"
            " AND NOT EXISTS (SELECT 1 FROM visit_reviews r WHERE r.entry_id = v.entry_id)"
            " ORDER BY v.seq LIMIT ?",
            (value, after_seq, limit),
        )
        return [visit_record(r, ReviewCandidate) for r in rows]

    def get_visit(self, entry_id: str) -> VisitRecord | None:
        row = self._one(
            "SELECT v.*, r.decision AS review_decision, r.note AS review_note,"
            " r.reviewed_at AS review_at FROM visit_logs v"
            " LEFT JOIN visit_reviews r ON r.entry_id = v.entry_id WHERE v.entry_id = ?",
            (entry_id,),
        )
        return visit_record(row, VisitRecord) if row else None

    def review_visit(
        self,
        entry_id: str,
        decision: str,
        reasons: Sequence[str],
        note: str | None,
        actor: Actor,
    ) -> VisitRecord:
        """Approve or return a visit entry, once. Returning it bumps its task's version and
        seq and refreshes the scopes holding it, so the officer's phone gets the verdict on
        its next pull. Raises NotFound, ConflictError (reviewed or superseded already)."""
        now = self._now()
        with self.transaction() as conn:
            visit = conn.execute(
                "SELECT * FROM visit_logs WHERE entry_id = ?", (entry_id,)
            ).fetchone()
            if visit is None:
                raise NotFound(f"visit {entry_id} not found")
            if conn.execute(
                "SELECT 1 FROM visit_reviews WHERE entry_id = ?", (entry_id,)
            ).fetchone():
                raise ConflictError(f"visit {entry_id} was reviewed already", field="entry_id")
            if conn.execute(
                "SELECT 1 FROM visit_logs WHERE supersedes = ?", (entry_id,)
            ).fetchone():
                raise ConflictError(
                    f"visit {entry_id} was superseded by the officer; review the new entry",
                    field="entry_id",
                )
            scope = {k: visit[k] for k in ("city_id", "county_id", "station_id")}
            conn.execute(
                "INSERT INTO visit_reviews (entry_id, task_kind, task_id, decision, reasons,"
                " note, reviewer_id, reviewed_at, city_id, county_id, station_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry_id,
                    visit["task_kind"],
                    visit["task_id"],
                    decision,
                    _encode(list(reasons)).decode(),
                    note,
                    actor.user_id,
                    now,
                    scope["city_id"],
                    scope["county_id"],
                    scope["station_id"],
                ),
            )
            entity = "warning" if visit["task_kind"] == "warning" else "publicity_task"
            self._append_audit(
                conn,
                [
                    (
                        f"visit.{decision}",
                        entity,
                        str(visit["task_id"]),
                        None,
                        {
                            "entry_id": entry_id,
                            "decision": decision,
                            "reasons": list(reasons),
                            "note": note,
                        },
                        scope,
                    )
                ],
                actor,
            )
            # Both decisions reach the phones: the verdict is part of the visit they hold.
            table = "warnings" if visit["task_kind"] == "warning" else "publicity_tasks"
            seq = self._next_seq(conn)
            conn.execute(
                f"UPDATE {table} SET version = version + 1, seq = ?, updated_at = ?"  # noqa: S608
                " WHERE id = ?",
                (seq, now, visit["task_id"]),
            )
            self._refresh_scopes(conn, [(visit["task_kind"], visit["task_id"], seq)])
        reviewed = self.get_visit(entry_id)
        assert reviewed is not None  # noqa: S101 - written above
        return reviewed

    def set_grid_positions(self, positions: Sequence[tuple[str, float, float]]) -> int:
        """Set grids' centroids (code, lat, lon) in WGS-84, as the demo knows them."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO grid_positions (code, lat, lon, datum) VALUES (?, ?, ?, 'wgs84')"
                " ON CONFLICT (code) DO UPDATE SET lat = excluded.lat, lon = excluded.lon,"
                " datum = excluded.datum",
                positions,
            )
        return len(positions)

    # -- the closed loop -------------------------------------------------------------------

    def outcome_feed(
        self, client_id: int | None, after_id: int, limit: int
    ) -> list[OutcomeFeedRecord]:
        """Outcome items after `after_id`, oldest first (one platform client, or all)."""
        if client_id is None:
            rows = self._query(
                "SELECT * FROM outcome_feed WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            )
        else:
            rows = self._query(
                "SELECT * FROM outcome_feed WHERE client_id = ? AND id > ? ORDER BY id LIMIT ?",
                (client_id, after_id, limit),
            )
        return [_outcome_record(r) for r in rows]

    def webhook_state(self, name: str) -> WebhookState:
        row = self._one("SELECT * FROM webhook_state WHERE name = ?", (name,))
        return to_record(row, WebhookState) if row else WebhookState(name=name)

    def save_webhook_state(self, state: WebhookState) -> None:
        at = state.next_attempt_at
        params = msgspec.structs.asdict(state) | {"next_attempt_at": iso(at) if at else None}
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_state (name, last_id, attempts, next_attempt_at,"
                " last_error, delivered) VALUES (:name, :last_id, :attempts, :next_attempt_at,"
                " :last_error, :delivered) ON CONFLICT (name) DO UPDATE SET"
                " last_id = excluded.last_id, attempts = excluded.attempts,"
                " next_attempt_at = excluded.next_attempt_at,"
                " last_error = excluded.last_error, delivered = excluded.delivered",
                params,
            )

    # -- a warning's history ---------------------------------------------------------------

    def publicity_sessions(self, task_id: int) -> list[VisitRecord]:
        """A publicity task's visit log with each entry's review, oldest first."""
        rows = self._query(
            "SELECT v.*, r.decision AS review_decision, r.note AS review_note"
            " FROM visit_logs v LEFT JOIN visit_reviews r ON r.entry_id = v.entry_id"
            " WHERE v.task_kind = 'publicity' AND v.task_id = ? ORDER BY v.seq",
            (task_id,),
        )
        return [visit_record(v, VisitRecord) for v in rows]

    def warning_history(self, warning_id: int) -> WarningHistory | None:
        """Everything recorded about one warning, in one read transaction, so that its
        audit entries, visits and outcome feed items agree with each other."""
        with self._snapshot() as conn:
            row = conn.execute("SELECT * FROM warnings WHERE id = ?", (warning_id,)).fetchone()
            if row is None:
                return None
            audit = conn.execute(
                "SELECT * FROM audit_log WHERE entity = 'warning' AND entity_id = ? ORDER BY id",
                (str(warning_id),),
            ).fetchall()
            visits = conn.execute(
                "SELECT * FROM visit_logs WHERE task_kind = 'warning' AND task_id = ? ORDER BY seq",
                (warning_id,),
            ).fetchall()
            conflicts = conn.execute(
                "SELECT * FROM conflicts WHERE task_kind = 'warning' AND task_id = ? ORDER BY id",
                (warning_id,),
            ).fetchall()
            escalations = conn.execute(
                "SELECT * FROM escalations WHERE warning_id = ? ORDER BY id", (warning_id,)
            ).fetchall()
            outcomes = conn.execute(
                "SELECT * FROM outcome_feed WHERE warning_id = ? ORDER BY id", (warning_id,)
            ).fetchall()
            entries = [to_record(_audit_row(a), AuditEntry) for a in audit]
            user_ids = {row["client_id"], row["officer_id"]}
            user_ids |= {a.actor_user_id for a in entries}
            # The officers a change moved the warning from and to.
            user_ids |= {
                side.get("officer_id") for a in entries for side in (a.before or {}, a.after or {})
            }
            user_ids |= {v["officer_id"] for v in visits}
            user_ids |= {c["resolved_by"] for c in conflicts}
            known = sorted(u for u in user_ids if isinstance(u, int))
            names = {
                r["id"]: r["name"]
                for start in range(0, len(known), 500)
                for r in conn.execute(
                    "SELECT id, name FROM users WHERE id IN"  # noqa: S608
                    f" ({','.join('?' * len(known[start : start + 500]))})",
                    known[start : start + 500],
                )
            }
        return WarningHistory(
            warning=to_record(row, WarningRecord),
            audit=entries,
            visits=[visit_record(v, VisitRecord) for v in visits],
            conflicts=[conflict_record(c) for c in conflicts],
            escalations=[to_record(e, EscalationRecord) for e in escalations],
            outcomes=[_outcome_record(o) for o in outcomes],
            user_names=names,
        )

    # -- oversight -------------------------------------------------------------------------

    def officer_activity(
        self, officer_ids: Sequence[int], now: datetime, limits: Limits
    ) -> dict[int, OfficerActivity]:
        """Per officer: last push, rejected mutations (count, last code and time), open and
        overdue warnings, and pending photo uploads when that table exists."""
        out: dict[int, OfficerActivity] = {}
        overdue, overdue_params = overdue_sql(now, limits)
        uploads = self._has_table("photo_claims")
        for officer in officer_ids:
            # What is not found keeps OfficerActivity's default.
            row: dict[str, Any] = {}
            last = self._one("SELECT last_push_at AS at FROM users WHERE id = ?", (officer,))
            row["last_push_at"] = last["at"] if last else None
            rej = self._one(
                "SELECT count(*) AS n, max(id) AS last FROM rejected_mutations WHERE user_id = ?",
                (officer,),
            )
            if rej and rej["n"]:
                row["rejected"] = rej["n"]
                latest = self._one(
                    "SELECT code, received_at FROM rejected_mutations WHERE id = ?",
                    (rej["last"],),
                )
                if latest:
                    row["last_rejected_code"] = latest["code"]
                    row["last_rejected_at"] = latest["received_at"]
            counts = self._one(
                f"SELECT count(*) AS open, sum({overdue}) AS overdue"  # noqa: S608
                f" FROM warnings w WHERE officer_id = ? AND state IN {OPEN_STATES}",
                (*overdue_params, officer),
            )
            if counts:
                row["open_warnings"] = counts["open"] or 0
                row["overdue_warnings"] = counts["overdue"] or 0
            if uploads:
                row["pending_uploads"] = self._pending_uploads(officer)
            out[officer] = to_record(row, OfficerActivity)
        return out

    def _has_table(self, name: str) -> bool:
        return (
            self._one("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
            is not None
        )

    def _pending_uploads(self, officer: int) -> int | None:
        """Photos this officer's visit logs name that have not arrived (m004_uploads)."""
        if not self._has_table("photo_claims") or not self._has_table("photos"):
            return None
        self.catch_up_claims()
        row = self._one(
            "SELECT count(DISTINCT c.sha256) AS n FROM photo_claims c"
            " WHERE c.officer_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM photos p WHERE p.sha256 = c.sha256)",
            (officer,),
        )
        return int(row["n"]) if row else None


class _Tally:
    """Rows of _figures_sql, a chunk at a time, summed into a row of figures per group."""

    def __init__(self, by_slot: Sequence[int]) -> None:
        self.by_slot = by_slot
        self.bits: Counter[tuple[Any, ...]] = Counter()  # (bits, *group) -> warnings
        # Per group: its minutes, and [amount prevented, on time, late] by those minutes.
        self.sums: dict[tuple[Any, ...], tuple[list[float], list[int]]] = {}

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        self.bits.update(map(itemgetter(slice(2, None)), rows))
        sums, by_slot = self.sums, self.by_slot
        for row in rows:
            try:
                minutes, counts = sums[row[3:]]
            except KeyError:
                minutes, counts = sums[row[3:]] = ([], [0, 0, 0])
            if row[0] is not None:
                minutes.append(row[0])
                if slot := row[2] >> SLOT_SHIFT:
                    counts[1 + (row[0] > by_slot[slot])] += 1
            if row[1]:
                counts[0] += row[1]

    def figures(self) -> list[WarningGroupFigures]:
        out = {key: _empty_figures() for key in self.sums}
        for bits_and_key, n in self.bits.items():
            _count(out[bits_and_key[1:]], bits_and_key[0], n)
        rows = []
        for key, (minutes, (amount, on_time, late)) in self.sums.items():
            figures = out[key]
            figures["amount_prevented"] = amount
            figures["on_time"] += on_time
            figures["late"] += late
            minutes.sort()
            rows.append(WarningGroupFigures(group=key, contact_minutes=minutes, **_counts(figures)))
        return rows


def _unit_rows(
    runs: dict[Any, list[Any]], known: Sequence[Any] | None, by_slot: Sequence[int]
) -> list[WarningGroupFigures]:
    """The rows of warning_figures from _unit_figures_sql's minutes by key (known: the
    groups by place, None for the total)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    # Per group, per slot (0: decided in SQL), its visited keys' minutes: one sort per
    # slot decides on time or late by bisection, and a group's few slots merge cheaply.
    minutes_of: dict[tuple[Any, ...], dict[int, list[Any]]] = {}
    for stored, run in runs.items():
        # A typed database's digits are the integer key (see _unit_figures_sql).
        key = int(stored) if isinstance(stored, str) and stored[:1] != "[" else stored
        if isinstance(key, str):
            bits, raw, amount = _json_list(key)
            g: tuple[Any, ...] = (raw,)
        else:
            bits, amount = key & ((1 << GROUP_SHIFT) - 1), key >> AMOUNT_SHIFT
            g = () if known is None else (known[((key >> GROUP_SHIFT) & PLACES) - 1],)
        figures = out.get(g)
        if figures is None:
            figures = out[g] = _empty_figures()
            minutes_of[g] = {}
        _count(figures, bits, len(run))
        if bits & CANCELLED:
            continue
        if amount:
            figures["amount_prevented"] += amount * len(run)
        if bits & VISITED:
            minutes_of[g].setdefault(bits >> SLOT_SHIFT, []).extend(run)
    rows = []
    for g, figures in out.items():
        parts = []
        for slot, minutes in minutes_of[g].items():
            run = _sorted_minutes(minutes)
            if slot:
                on_time = bisect_right(run, by_slot[slot])
                figures["on_time"] += on_time
                figures["late"] += len(run) - on_time
            parts.append(run)
        contact_minutes = parts[0] if len(parts) == 1 else sorted(chain.from_iterable(parts))
        rows.append(
            WarningGroupFigures(group=g, contact_minutes=contact_minutes, **_counts(figures))
        )
    return rows


def _sorted_minutes(run: list[Any]) -> list[float]:
    """Visited warnings' minutes ascending, without the None of a first contact that
    julianday() cannot read (counted visited, but neither on time nor late, as ever)."""
    try:
        run.sort()
    except TypeError:  # None met a number, or another None
        return sorted(m for m in run if m is not None)
    return [] if run[0] is None else run  # a lone None is never compared


def _empty_figures() -> dict[str, Any]:
    """A group's counts while they are added up, each outcome's under outcome_<name>."""
    figures: dict[str, Any] = dict.fromkeys(("received", "cancelled", "amount_prevented"), 0)
    figures.update(dict.fromkeys((name for name, _ in FLAGS), 0))
    figures.update(dict.fromkeys((f"outcome_{o}" for o in OUTCOMES), 0))
    return figures


def _counts(figures: dict[str, Any]) -> dict[str, Any]:
    """The fields of WarningCounts from a group's counts added up."""
    counts = {k: v for k, v in figures.items() if not k.startswith("outcome_")}
    # Whole, as reports have always counted it, whatever type SQL summed it in.
    counts["amount_prevented"] = int(counts["amount_prevented"])
    counts["outcomes"] = {o: figures[f"outcome_{o}"] for o in OUTCOMES}
    return counts


def _count(figures: dict[str, Any], bits: int, n: int) -> None:
    """Add n warnings with these figure bits."""
    figures["received"] += n
    if bits & CANCELLED:
        figures["cancelled"] += n
        return
    for name, flag in FLAGS:
        if bits & flag:
            figures[name] += n
    if outcome := (bits >> OUTCOME_SHIFT) & 7:
        figures[f"outcome_{OUTCOMES[outcome - 1]}"] += n


def _empty_publicity() -> dict[str, Any]:
    return {"tasks": 0, "done": 0, "overdue": 0, "attendance": 0, "materials": 0}


def _outcome_record(row: dict[str, Any]) -> OutcomeFeedRecord:
    """An outcome_feed row as its record: the payload is JSON text in the table."""
    return to_record({**row, "payload": _json_object(row["payload"])}, OutcomeFeedRecord)
