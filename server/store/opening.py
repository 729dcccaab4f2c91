"""Which backend a store opens with: the one place that names one, so the interface and
the services stay backend-neutral (a second backend joins here)."""

from __future__ import annotations

from server.clock import Clock
from server.store.interface import Store


def open_store(path: str, clock: Clock) -> Store:
    """Open (creating and migrating as needed) the store at path: SQLite, the default."""
    from server.store.sqlite import SQLiteStore

    return SQLiteStore(path, clock)
