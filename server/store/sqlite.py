"""SQLiteStore: the embedded central store, a city on one small machine."""

from __future__ import annotations

from server.store.sqlite_leases import SQLiteLeases
from server.store.sqlite_org import SQLiteOrg
from server.store.sqlite_supervision import SQLiteSupervision
from server.store.sqlite_sync import SQLiteSync
from server.store.sqlite_tasks import SQLiteTasks
from server.store.sqlite_uploads import SQLiteUploads


class SQLiteStore(
    SQLiteOrg, SQLiteTasks, SQLiteSync, SQLiteSupervision, SQLiteUploads, SQLiteLeases
):
    """Implements server.store.interface.Store on one SQLite file in WAL mode."""
