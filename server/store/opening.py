"""Which backend a store opens with: the one place that names one, so the interface and
the services stay backend-neutral (a second backend joins here)."""

from __future__ import annotations

from server.clock import Clock
from server.store.interface import Store


def open_store(path: str, clock: Clock, *, migrate: bool = True) -> Store:
    """Open the store at path (SQLite, the default), creating it if new.

    migrate=False is for serving: an existing database with pending migrations raises
    server.store.errors.PendingMigrations instead of being migrated under the feet of
    other nodes still running the older release. An unreachable one raises StoreUnavailable.
    """
    from server.store.sqlite import SQLiteStore

    return SQLiteStore(path, clock, migrate=migrate)
