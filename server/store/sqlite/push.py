"""One push, loaded and written in bulk inside its transaction (SQLite).

The single SQLite writer is the bottleneck of sync, so a push reads everything it needs
in a handful of queries, has push_merge.py decide every mutation in memory, and writes
in a handful of statements. What is decided is not here: this module only loads and
writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from server.store import outcome_feed
from server.store.push_merge import (
    PUBLICITY_READ,
    WARNING_READ,
    Key,
    Mutation,
    Prepared,
    PushMerge,
    StoredField,
    TaskState,
    prepare,
)
from server.store.scope_order import sort_key
from server.store.sqlite.scope import KnownTask, chunks
from server.store.sync_records import PushContext
from sync import merge
from sync.hlc import HLC
from sync.protocol import MutationResult, SetField, VisitEntry

if TYPE_CHECKING:
    from server.store.sqlite.sync import SQLiteSync

_encode = msgspec.json.Encoder(order="sorted").encode
# What a change must set to be news to the platform (outcome_feed.feed_row): a push whose
# visits set none of these on a final warning (a second visit, a photo) tells it nothing,
# and its rows before and after are not built.
_NEWS = frozenset({*outcome_feed.TOLD, "outcome_amount"})

__all__ = ["PushBatch", "keep_rejections", "prepare"]


class PushBatch:
    """A push in the writer's transaction: load, decide (push_merge.py), write."""

    def __init__(
        self,
        store: SQLiteSync,
        conn: sqlite3.Connection,
        ctx: PushContext,
        mutations: Sequence[Mutation],
        prepared: Sequence[Prepared],
    ) -> None:
        self.store = store
        self.conn = conn
        self.ctx = ctx
        self.push = PushMerge(ctx, mutations, prepared, self)

    @property
    def results(self) -> list[MutationResult]:
        return self.push.results

    def decide_all(self, server_hlc: HLC) -> HLC:
        return self.push.decide_all(server_hlc)

    # -- conflicts, recorded as they are decided (push_merge.ConflictSink) -----------------

    def visit_conflict(
        self,
        task: merge.TaskView,
        row: dict[str, Any],
        decision: merge.VisitDecision,
        entry: VisitEntry,
        ctx: PushContext,
    ) -> int:
        return self.store._record_conflict(self.conn, task, row, decision, entry, ctx)

    def field_conflict(
        self,
        row: dict[str, Any],
        mutation: SetField,
        hlc: HLC,
        decision: merge.FieldDecision,
        stored: StoredField,
        ctx: PushContext,
    ) -> int:
        return self.store._record_field_conflict(
            self.conn, row, mutation, hlc, decision, stored, ctx
        )

    # -- reading, in bulk ----------------------------------------------------------------

    def load(self) -> None:
        ctx, conn, push = self.ctx, self.conn, self.push
        ids, keys, wanted, edited = push.wanted()
        for chunk in chunks(ids):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                "SELECT mutation_id, content_hash, result FROM mutations"  # noqa: S608
                f" WHERE user_id = ? AND mutation_id IN ({marks})",
                (ctx.user_id, *chunk),
            ):
                push.seen[r["mutation_id"]] = (r["content_hash"], r["result"])
        push.tasks = self._load_tasks(keys)
        for chunk in chunks(sorted(wanted)):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                "SELECT entry_id, officer_id, task_kind, task_id FROM visit_logs"  # noqa: S608
                f" WHERE entry_id IN ({marks})",
                chunk,
            ):
                push.entries[r["entry_id"]] = merge.SupersededEntry(
                    entry_id=r["entry_id"],
                    officer_id=r["officer_id"],
                    task_kind=r["task_kind"],
                    task_id=r["task_id"],
                )
        for kind, task_id in sorted(edited):
            for r in conn.execute(
                "SELECT field, value, hlc, user_id, mutation_id FROM field_values"
                " WHERE task_kind = ? AND task_id = ?",
                (kind, task_id),
            ):
                push.field_values[(kind, task_id, r["field"])] = (
                    r["value"],
                    r["hlc"],
                    r["user_id"],
                    r["mutation_id"],
                )

    def _load_tasks(self, keys: set[Key]) -> dict[Key, TaskState]:
        conn = self.conn
        rows: dict[Key, dict[str, Any]] = {}
        # Sets only for the tasks that have such rows: most have one assignee, and a
        # hundred empty sets a push are not free.
        assignees: dict[Key, set[int]] = {}
        ever: dict[Key, set[int]] = {}
        holders: dict[Key, set[int]] = {}
        for kind, table, columns in (
            ("warning", "warnings", WARNING_READ),
            ("publicity", "publicity_tasks", PUBLICITY_READ),
        ):
            ids = [i for k, i in keys if k == kind]
            for chunk in chunks(ids):
                marks = ",".join("?" * len(chunk))
                cursor = conn.cursor()
                cursor.row_factory = None  # tuples: a dict per row is built once, below
                for values in cursor.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE id IN ({marks})",  # noqa: S608
                    chunk,
                ):
                    r = dict(zip(columns, values, strict=True))
                    rows[(kind, values[0])] = r
                    if kind == "warning" and r["officer_id"] is not None:
                        assignees[(kind, values[0])] = {r["officer_id"]}
                if kind == "publicity":
                    for task_id, officer_id in cursor.execute(
                        "SELECT task_id, officer_id FROM publicity_assignees"  # noqa: S608
                        f" WHERE task_id IN ({marks})",
                        chunk,
                    ):
                        assignees.setdefault((kind, task_id), set()).add(officer_id)
                for task_id, officer_id in cursor.execute(
                    "SELECT task_id, officer_id FROM assignment_history"  # noqa: S608
                    f" WHERE task_kind = ? AND task_id IN ({marks})",
                    (kind, *chunk),
                ):
                    ever.setdefault((kind, task_id), set()).add(officer_id)
                # Who recorded on them: the scope refresh needs it, and the write adds
                # only the visitors that are new.
                for task_id, officer_id in cursor.execute(
                    "SELECT task_id, officer_id FROM task_visitors"  # noqa: S608
                    f" WHERE task_kind = ? AND task_id IN ({marks})",
                    (kind, *chunk),
                ):
                    holders.setdefault((kind, task_id), set()).add(officer_id)
        none: frozenset[int] = frozenset()
        return {
            key: TaskState(
                key[0],
                row,
                frozenset(assignees.get(key, none)),
                frozenset(ever.get(key, none)),
                holders.get(key),
            )
            for key, row in rows.items()
        }

    # -- writing, in bulk ----------------------------------------------------------------

    def write(self) -> None:
        conn, ctx, push = self.conn, self.ctx, self.push
        touched = push.touched()
        first = self.store._next_seq(conn, len(push.visits) + len(touched))
        for n, visit in enumerate(push.visits):
            visit[25] = first + n
        conn.executemany(
            "INSERT INTO visit_logs (entry_id, task_kind, task_id, officer_id, device_pk,"
            " mutation_id, supersedes, recorded_at, received_at, arrived_at, contact, outcome,"
            " amount_prevented, notes, lat, lon, accuracy_m, photos, held_at, attendance,"
            " materials, completed, hlc, device_clock_offset_ms, flags, seq, city_id,"
            " county_id, station_id) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            push.visits,
        )
        # Who recorded on a task keeps it in scope; kept apart from the visit log so that
        # a scope refresh reads a handful of rows, not every visit ever made. Only the
        # visitors not already on record are written (load read them).
        visitors = []
        for v in push.visits:
            held = push.tasks[(v[1], v[2])].holders
            if v[3] not in held:
                held.add(v[3])
                visitors.append((v[1], v[2], v[3]))
        conn.executemany(
            "INSERT OR IGNORE INTO task_visitors (task_kind, task_id, officer_id) VALUES (?, ?, ?)",
            visitors,
        )
        conn.executemany(
            "INSERT INTO field_values (task_kind, task_id, field, value, hlc, user_id,"
            " mutation_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_kind, task_id, field)"
            " DO UPDATE SET value = excluded.value, hlc = excluded.hlc,"
            " user_id = excluded.user_id, mutation_id = excluded.mutation_id",
            push.fields,
        )
        refresh = []
        known: dict[Key, KnownTask] = {}
        # One statement per shape of change, not per task: most tasks of a push change the
        # same columns (or none but their version).
        shapes: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        # The amounts of this push's entries, for the warnings whose outcome they take.
        amounts = {v[0]: v[12] for v in push.visits}
        told = []
        for n, task in enumerate(touched):
            seq = first + len(push.visits) + n
            sets = task.sets
            if task.table == "warnings":
                entry = sets.get("outcome_entry_id", task.was("outcome_entry_id"))
                if entry != task.was("outcome_entry_id"):  # the outcome moved (moves_outcome)
                    amount = (
                        amounts[entry]
                        if entry in amounts
                        else self.store._outcome_amount(conn, entry)
                    )
                    sets = {**sets, "outcome_amount": amount}
                # Only a final warning is news to the platform (outcome_feed.feed_row):
                # the rows before and after are built for those alone.
                if task.row["state"] in outcome_feed.FINAL and not _NEWS.isdisjoint(sets):
                    after = {**task.row, **sets, "version": task.row["version"] + 1}
                    told.append((task.loaded(), {**after, "updated_at": ctx.received_at}))
            shape = (task.table, tuple(sets))
            shapes.setdefault(shape, []).append(
                (*sets.values(), seq, ctx.received_at, task.row["id"])
            )
            refresh.append((task.kind_name, task.row["id"], seq))
            known[(task.kind_name, task.row["id"])] = KnownTask(
                version=task.row["version"] + 1,
                cancelled=task.row[task.state_column] == "cancelled",
                assignees=set(task.assignees),
                sort_key=sort_key(task.kind_name, task.row),
                holders=task.holders,
            )
        for (table, columns), rows in shapes.items():
            assignments = "".join(f"{c} = ?, " for c in columns)
            conn.executemany(
                f"UPDATE {table} SET {assignments}version = version + 1, seq = ?,"  # noqa: S608
                " updated_at = ? WHERE id = ?",
                rows,
            )
        self.store._tell_platform(conn, told)
        self.store._append_audit(conn, [*push.audit, *push.push_audit()], push.actor)
        keep_rejections(conn, push.rejected)
        conn.executemany(
            "INSERT INTO mutations (user_id, mutation_id, content_hash, result, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (ctx.user_id, mutation_id, digest, _encode(result).decode(), ctx.received_at)
                for mutation_id, (digest, result) in push.done.items()
            ],
        )
        if push.done:
            # Oversight's "last push"; max() keeps it from going back with the clock.
            conn.execute(
                "UPDATE users SET last_push_at = max(coalesce(last_push_at, ''), ?) WHERE id = ?",
                (ctx.received_at, ctx.user_id),
            )
        # A push changes no assignment: the scope refresh takes what this push holds.
        self.store._refresh_scopes(conn, refresh, known=known)


_KEEP_REJECTION = (
    "INSERT INTO rejected_mutations (user_id, device_pk, mutation_id, code, detail, body,"
    " received_at, city_id, county_id, station_id)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM rejected_mutations"
    " WHERE user_id = ? AND mutation_id = ? AND code = ? AND body = ?)"
)


def keep_rejections(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Keep rejected mutations (user, device, mutation id, code, detail, body, received at,
    city, county, station) for review, each once: a resend of the same mutation that meets
    the same verdict changes nothing (PROTOCOL.md), not even this list."""
    conn.executemany(
        _KEEP_REJECTION,
        [(*row, row[0], row[2], row[3], row[5]) for row in rows],
    )
