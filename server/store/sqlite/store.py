"""SQLiteStore: the embedded central store, a city on one small machine."""

from __future__ import annotations

from server.store.sqlite.leases import SQLiteLeases
from server.store.sqlite.org import SQLiteOrg
from server.store.sqlite.supervision import SQLiteSupervision
from server.store.sqlite.sync import SQLiteSync
from server.store.sqlite.tasks import SQLiteTasks
from server.store.sqlite.uploads import SQLiteUploads


class SQLiteStore(
    SQLiteOrg, SQLiteTasks, SQLiteSync, SQLiteSupervision, SQLiteUploads, SQLiteLeases
):
    """Implements server.store.interface.Store on one SQLite file in WAL mode."""
