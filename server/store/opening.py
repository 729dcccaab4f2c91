"""Which backend a store opens with: the one place that names one, so the interface and
the services stay backend-neutral (a second backend joins here)."""

from __future__ import annotations

from server.clock import Clock
from server.store.interface import Store


def open_store(path: str, clock: Clock, *, migrate: bool = True) -> Store:
    """Open the store at path: a SQLite file (the default), created if new, or a
    PostgreSQL database named by its URL (postgresql://...).

    migrate=False is for serving: an existing database with pending migrations raises
    server.store.errors.PendingMigrations instead of being migrated under the feet of
    other nodes still running the older release. An unreachable one raises StoreUnavailable.
    """
    if is_postgres(path):
        from server.store.postgres.store import PostgresStore

        return PostgresStore(path, clock, migrate=migrate)
    from server.store.sqlite.store import SQLiteStore

    return SQLiteStore(path, clock, migrate=migrate)


def is_postgres(location: str) -> bool:
    """A PostgreSQL URL (BEATSYNC_DATABASE_URL) rather than a SQLite file's path."""
    return location.startswith(("postgresql://", "postgres://"))


def shown(location: str) -> str:
    """The location as messages and logs may show it: a URL without its password."""
    if not is_postgres(location):
        return location
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def pending_migrations(location: str) -> list[str]:
    """The migrations this release has that the database at location has not had, in
    order; every one for a database that does not exist yet. Changes nothing."""
    import sqlite3
    from pathlib import Path

    from sqlite_utils import Database

    from server.store.sqlite import migrations

    if is_postgres(location):
        import psycopg

        from server.store.postgres import schema

        with psycopg.connect(location, autocommit=True, connect_timeout=10) as pg:
            have = set(schema.applied(pg))
        return [name for name in schema.known() if name not in have]
    if not Path(location).exists():
        return migrations.known()
    conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
    try:
        applied = set(migrations.applied(Database(conn)))
    finally:
        conn.close()
    return [name for name in migrations.known() if name not in applied]


def migrate(location: str, clock: Clock) -> list[str]:
    """Bring the database at location up to this release, creating it if new; returns the
    names of the migrations applied now. Run with no node of an older release serving."""
    pending = pending_migrations(location)
    open_store(location, clock, migrate=True).close()
    return pending
