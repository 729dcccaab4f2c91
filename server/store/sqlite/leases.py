"""Leases: which process runs a background job now (server/leases.py).

Several processes on one SQLite file, or several nodes over one PostgreSQL later, each
start the same periodic jobs; a lease in the database lets one of them run each job at a
time. A lease is a row (name, holder, until when); it is free when there is no row or its
time has passed.
"""

from __future__ import annotations

from datetime import timedelta

from server.clock import iso
from server.store.sqlite.base import SQLiteBase

# One statement, so that the check (free, expired, or ours) and the take are one atomic
# step on any database: no read-then-write that two processes could interleave. It is
# the standard upsert (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE ... RETURNING) that
# SQLite (3.35+) and PostgreSQL both run as written: the row comes back only when it was
# inserted or the WHERE let the update through, that is when `holder` holds the lease.
TAKE_LEASE_SQL = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
    " expires_at = excluded.expires_at"
    " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?"
    " RETURNING holder"
)


class SQLiteLeases(SQLiteBase):
    def take_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Hold `name` until now + ttl if it is free, expired or held by `holder`
        already (a renewal); true when `holder` holds it now."""
        now = self.clock.now()
        with self.transaction() as conn:
            row = conn.execute(TAKE_LEASE_SQL, (name, holder, iso(now + ttl), iso(now))).fetchone()
        return row is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give `name` up, if `holder` holds it, so that another may take it at once."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
