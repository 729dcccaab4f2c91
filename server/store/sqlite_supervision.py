"""Supervision in SQLite: report figures, escalation steps, visit reviews, the outcome feed
and its webhook cursor, and what supervisors see of officers' phones.

Report queries read one jurisdiction's warnings by (unit column, created_at), an index
of m005_supervision, and aggregate in SQL; every figure is a plain count or sum over the
same rows, so per-officer and per-unit figures add up to the totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from server.clock import iso, parse_iso
from server.errors import ConflictError, NotFound
from server.store.records import Actor
from server.store.sqlite_claims import SQLiteClaims
from server.store.sqlite_scope import SQLiteScope
from sync.vocab import Outcome

UNIT_COLUMNS = frozenset({"city_id", "county_id", "station_id"})
GROUP_COLUMNS = frozenset({"city_id", "county_id", "station_id", "officer"})
OPEN_STATES = "('new', 'dispatched', 'in_progress')"
LEVELS = ("station", "county", "city")
OUTCOMES = tuple(o.value for o in Outcome)
_encode = msgspec.json.Encoder(order="sorted").encode
Limits = dict[str, tuple[int, int]]  # risk level -> (minutes to contact, to outcome)


def _group_sql(group: str) -> str:
    if group not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {group}")
    return "coalesce(w.outcome_officer_id, w.officer_id)" if group == "officer" else f"w.{group}"


def _limit_case(limits: Limits, index: int) -> tuple[str, list[int]]:
    levels = sorted(limits)
    sql = "CASE w.risk_level " + " ".join("WHEN ? THEN ?" for _ in levels) + " ELSE ? END"
    params: list[Any] = []
    for level in levels:
        params += [level, limits[level][index]]
    params.append(max(v[index] for v in limits.values()))
    return sql, params


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
    ) -> list[dict[str, Any]]:
        """Counts per (group...) for warnings received in [start, end) in the unit.

        Columns: received, cancelled, visited, face_to_face, on_time, late, overdue,
        closed, amount_prevented and one per outcome; all over non-cancelled warnings
        except received and cancelled.
        """
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        keys = [f"{_group_sql(g)} AS g{n}" for n, g in enumerate(groups)]
        contact_case, contact_params = _limit_case(limits, 0)
        outcome_sums = ", ".join(
            f"sum(w.state != 'cancelled' AND w.outcome = '{o}') AS outcome_{o}" for o in OUTCOMES
        )
        sql = (
            f"SELECT {', '.join(keys) + ',' if keys else ''} count(*) AS received,"  # noqa: S608
            " sum(w.state = 'cancelled') AS cancelled,"
            " sum(w.state != 'cancelled' AND w.first_contact_at IS NOT NULL) AS visited,"
            " sum(w.state != 'cancelled' AND w.outcome_contact = 'face_to_face')"
            " AS face_to_face,"
            " sum(w.state != 'cancelled' AND w.first_contact_at IS NOT NULL AND"
            f" (julianday(w.first_contact_at) - julianday(w.created_at)) * 1440 <= lim)"
            " AS on_time,"
            " sum(w.state != 'cancelled' AND w.first_contact_at IS NOT NULL AND"
            f" (julianday(w.first_contact_at) - julianday(w.created_at)) * 1440 > lim)"
            " AS late,"
            f" sum(w.state IN {OPEN_STATES} AND w.first_contact_at IS NULL AND"
            " (julianday(?) - julianday(w.created_at)) * 1440 > lim) AS overdue,"
            " sum(w.state IN ('completed', 'unreachable')) AS closed,"
            " coalesce(sum(CASE WHEN w.state != 'cancelled' THEN v.amount_prevented END), 0)"
            f" AS amount_prevented, {outcome_sums}"
            f" FROM (SELECT w.*, {contact_case} AS lim FROM warnings w"
            f" WHERE w.{column} = ? AND w.created_at >= ? AND w.created_at < ?) w"
            " LEFT JOIN visit_logs v ON v.entry_id = w.outcome_entry_id"
            + (f" GROUP BY {', '.join(f'g{n}' for n in range(len(groups)))}" if groups else "")
        )
        params = [iso(now), *contact_params, value, iso(start), iso(end)]
        rows = self._query(sql, params)
        return [r for r in rows if r["received"]]

    def contact_percentiles(
        self, column: str, value: str, start: datetime, end: datetime, group: str | None
    ) -> dict[Any, tuple[float, float]]:
        """Minutes from dispatch to first contact: (median, p90) per group, nearest rank.

        Dispatch is when the warning reached an officer (dispatched_at), or its arrival
        when it waited in a unit's queue. Group None: the whole unit, under key None.
        """
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        g = _group_sql(group) if group else "NULL"
        sql = (
            "SELECT g, max(CASE WHEN rn = (n * 50 + 99) / 100 THEN d END) AS p50,"  # noqa: S608
            " max(CASE WHEN rn = (n * 90 + 99) / 100 THEN d END) AS p90 FROM ("
            f" SELECT {g} AS g, d, row_number() OVER (PARTITION BY {g} ORDER BY d) AS rn,"
            f" count(*) OVER (PARTITION BY {g}) AS n FROM (SELECT w.*,"
            " (julianday(w.first_contact_at)"
            " - julianday(coalesce(w.dispatched_at, w.created_at))) * 1440 AS d"
            f" FROM warnings w WHERE w.{column} = ? AND w.created_at >= ?"
            " AND w.created_at < ? AND w.state != 'cancelled'"
            " AND w.first_contact_at IS NOT NULL) w) GROUP BY g"
        )
        rows = self._query(sql, (value, iso(start), iso(end)))
        return {r["g"]: (round(r["p50"], 2), round(r["p90"], 2)) for r in rows}

    def publicity_figures(
        self,
        column: str,
        value: str,
        first_day: str,
        last_day: str,
        today: str,
        group: str | None,
    ) -> list[dict[str, Any]]:
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
        out: dict[Any, dict[str, Any]] = {}
        for r in self._query(tasks_sql, [today, *base]):
            out[r["g"]] = {
                "g": r["g"],
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
            out.setdefault(r["g"], _empty_publicity(r["g"]))["attendance"] = r["attendance"]
        for r in self._query(
            f"SELECT {g_visit} AS g,"
            " coalesce(sum(json_extract(m.value, '$.count')), 0) AS materials"
            f" {visits_from.replace('WHERE', ', json_each(v.materials) m WHERE', 1)}"
            " GROUP BY g",
            base,
        ):
            out.setdefault(r["g"], _empty_publicity(r["g"]))["materials"] = r["materials"]
        return list(out.values())

    # -- escalation ------------------------------------------------------------------------

    def escalate(self, limits: Limits, step_minutes: int) -> list[dict[str, Any]]:
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
        created: list[dict[str, Any]] = []
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
                created.append(row)
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

    def list_escalations(
        self,
        column: str,
        value: str,
        *,
        level: str | None = None,
        warning_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
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
        return self._query(
            f"SELECT * FROM escalations WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",  # noqa: S608
            params,
        )

    # -- review ----------------------------------------------------------------------------

    def review_candidates(
        self, column: str, value: str, *, after_seq: int, limit: int
    ) -> list[dict[str, Any]]:
        """Visit entries in the unit, after `after_seq`, that are neither superseded nor
        reviewed, with what deciding their reasons needs: the grid's centroid, open
        conflicts naming the entry, and the review of the entry it supersedes."""
        if column not in UNIT_COLUMNS:
            raise ValueError(f"cannot scope by {column}")
        return self._query(
            "SELECT v.*, gp.lat AS grid_lat, gp.lon AS grid_lon,"  # noqa: S608
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

    def get_visit(self, entry_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT v.*, r.decision AS review_decision, r.note AS review_note,"
            " r.reviewed_at AS review_at FROM visit_logs v"
            " LEFT JOIN visit_reviews r ON r.entry_id = v.entry_id WHERE v.entry_id = ?",
            (entry_id,),
        )

    def review_visit(
        self,
        entry_id: str,
        decision: str,
        reasons: Sequence[str],
        note: str | None,
        actor: Actor,
    ) -> dict[str, Any]:
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
        row = self.get_visit(entry_id)
        assert row is not None  # noqa: S101 - written above
        return row

    def set_grid_positions(self, positions: Sequence[tuple[str, float, float]]) -> int:
        """Set grids' centroids (code, lat, lon), as an import or the demo knows them."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO grid_positions (code, lat, lon) VALUES (?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET lat = excluded.lat, lon = excluded.lon",
                positions,
            )
        return len(positions)

    # -- the closed loop -------------------------------------------------------------------

    def outcome_feed(
        self, client_id: int | None, after_id: int, limit: int
    ) -> list[dict[str, Any]]:
        """Outcome items after `after_id`, oldest first (one platform client, or all)."""
        if client_id is None:
            return self._query(
                "SELECT * FROM outcome_feed WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            )
        return self._query(
            "SELECT * FROM outcome_feed WHERE client_id = ? AND id > ? ORDER BY id LIMIT ?",
            (client_id, after_id, limit),
        )

    def webhook_state(self, name: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM webhook_state WHERE name = ?", (name,))
        return row or {
            "name": name,
            "last_id": 0,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "delivered": 0,
        }

    def save_webhook_state(self, state: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_state (name, last_id, attempts, next_attempt_at,"
                " last_error, delivered) VALUES (:name, :last_id, :attempts, :next_attempt_at,"
                " :last_error, :delivered) ON CONFLICT (name) DO UPDATE SET"
                " last_id = excluded.last_id, attempts = excluded.attempts,"
                " next_attempt_at = excluded.next_attempt_at,"
                " last_error = excluded.last_error, delivered = excluded.delivered",
                state,
            )

    # -- oversight -------------------------------------------------------------------------

    def officer_activity(
        self, officer_ids: Sequence[int], now: datetime, limits: Limits
    ) -> dict[int, dict[str, Any]]:
        """Per officer: last push, rejected mutations (count, last code and time), open and
        overdue warnings, and pending photo uploads when that table exists."""
        out: dict[int, dict[str, Any]] = {
            o: {
                "last_push_at": None,
                "rejected": 0,
                "last_rejected_code": None,
                "last_rejected_at": None,
                "open_warnings": 0,
                "overdue_warnings": 0,
                "pending_uploads": None,
            }
            for o in officer_ids
        }
        contact_case, contact_params = _limit_case(limits, 0)
        uploads = self._has_table("photo_claims")
        for officer in officer_ids:
            row = out[officer]
            last = self._one(
                "SELECT max(received_at) AS at FROM mutations WHERE user_id = ?", (officer,)
            )
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
                f"SELECT count(*) AS open, sum(first_contact_at IS NULL AND"  # noqa: S608
                f" (julianday(?) - julianday(created_at)) * 1440 > ({contact_case}))"
                f" AS overdue FROM warnings w WHERE officer_id = ? AND state IN {OPEN_STATES}",
                (iso(now), *contact_params, officer),
            )
            if counts:
                row["open_warnings"] = counts["open"] or 0
                row["overdue_warnings"] = counts["overdue"] or 0
            if uploads:
                row["pending_uploads"] = self._pending_uploads(officer)
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


def _empty_publicity(g: Any) -> dict[str, Any]:
    return {"g": g, "tasks": 0, "done": 0, "overdue": 0, "attendance": 0, "materials": 0}
