"""Photo claims: which visit logs name which photos, kept a moment behind the pushes.

A claim is derived from `visit_logs.photos`, the evidence itself. Inserting claims inside
each push put a random page write per photo (claims are keyed by sha256) on the single
writer's path; instead a background task claims the photos of every visit stored since
its cursor (`counters.claims_seq`, the seq of the last visit claimed), many pushes at a
time, and every reader of claims first catches up, so no reader ever sees a visit
without its claims: nothing that is evidence can look unclaimed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from server.clock import Clock
from server.store.background import BackgroundTask
from server.store.sqlite.base import SQLiteBase

# Pushes arriving within this pause are claimed together: the more a batch holds, the
# more of its (sorted) claims share a page. The claimer's CPU per push of 100
# (bench.push_engine's pushes, medians of 3 alternated runs): 1.08 ms at 0.2 s, 0.92 ms
# at 1 s. Readers catch up first (above), so the lag is never seen.
PAUSE_S = 1.0
BATCH = 5000
_photos = msgspec.json.Decoder(list[str])


class SQLiteClaims(SQLiteBase):
    def __init__(self, path: str | Path, clock: Clock, *, migrate: bool = True) -> None:
        super().__init__(path, clock, migrate=migrate)
        self._claimer = BackgroundTask("photo-claims", self.catch_up_claims, PAUSE_S)

    def close(self) -> None:
        self._claimer.close()
        super().close()

    def catch_up_claims(self) -> int:
        """Claim the photos of every visit log stored since the last catch-up; returns the
        visit logs read. Bumps counters.claims_seq. A no-op read when nothing is behind."""
        done = 0
        while self._claims_behind():
            with self.transaction() as conn:
                done += _claim_batch(conn)
        return done

    @staticmethod
    def _catch_up_claims_in(conn: sqlite3.Connection) -> None:
        """The same inside the caller's write transaction, for a decision that must not
        miss a claim committed a moment ago (removing an unclaimed photo)."""
        while _claim_batch(conn):
            pass

    def _claims_behind(self) -> bool:
        row = self._one(
            "SELECT (SELECT value FROM counters WHERE name = 'claims_seq') AS claimed,"
            " (SELECT max(seq) FROM visit_logs) AS newest"
        )
        return row is not None and row["newest"] is not None and row["newest"] > row["claimed"]


def _claim_batch(conn: sqlite3.Connection) -> int:
    claimed = conn.execute("SELECT value FROM counters WHERE name = 'claims_seq'").fetchone()
    # Plain tuples: thousands of rows a batch, read once each.
    cursor = conn.cursor()
    cursor.row_factory = None
    visits = cursor.execute(
        "SELECT seq, entry_id, task_kind, task_id, officer_id, city_id, county_id, station_id,"
        " photos FROM visit_logs WHERE seq > ? ORDER BY seq LIMIT ?",
        (claimed["value"], BATCH),
    ).fetchall()
    if not visits:
        return 0
    conn.executemany(
        "INSERT OR IGNORE INTO photo_claims (sha256, entry_id, task_kind, task_id,"
        " officer_id, city_id, county_id, station_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        # In key order: random hashes inserted as they come land on a page each, sorted
        # they walk the index once.
        sorted((sha, *v[1:8]) for v in visits if v[8] != "[]" for sha in set(_photos.decode(v[8]))),
    )
    conn.execute("UPDATE counters SET value = ? WHERE name = 'claims_seq'", (visits[-1][0],))
    return len(visits)
