"""The store on PostgreSQL: the shared SQL code over a pool of psycopg connections.

Every write takes `pg_advisory_xact_lock(WRITE_LOCK)` as its first statement and holds it
to its COMMIT: the writes of every process and node on the database take turns, as the
writes of one SQLite file do. That one rule is what keeps three guarantees whole across
nodes (docs/scaling.md):

- the sequence behind the phones' cursors has no gap a phone could skip past: a seq is
  reserved inside a write and becomes visible at its commit, and no other write commits
  between the reservation and that commit, so seqs become visible in order;
- the audit chain stays one chain: an append reads the head and links to it under the
  lock, so no two appends link to the same entry;
- two nodes handling pushes for the same task decide as one would: each push reads the
  task under the lock, after the previous push's commit.

Reads take a pooled connection each and never wait for the writers (MVCC); a read that
must see one moment (`_snapshot`) runs in a REPEATABLE READ transaction. A node hears of
other nodes' commits as a second SQLite process does, by watching the logs
(server/store/peer_commits.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from server.store.errors import PendingMigrations, StoreUnavailable, register_unavailable
from server.store.postgres import schema
from server.store.postgres.connection import Connection, Cursor, configure
from server.store.sqlite import SQLiteStore

# pg_advisory_xact_lock key every write holds: 'beat' and 2.
WRITE_LOCK = 0x6265_6174_0002
POOL_MAX = 8


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.OperationalError | PoolTimeout)


register_unavailable(_unavailable)


class _Reader:
    """What `_reader()` gives the shared code: each statement on a pooled connection."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        with self._pool.connection() as raw:
            return Connection(raw).execute(sql, params)


class PostgresStore(SQLiteStore):
    """Implements server.store.interface.Store on a PostgreSQL database (a URL)."""

    _typed_columns = True

    @staticmethod
    def _json_items(column: str) -> str:
        return f"json_array_elements(({column})::json)"

    @staticmethod
    def _json_item(alias: str, key: str) -> str:
        return f"({alias}->>'{key}')::bigint"

    _typed_columns = True

    # -- connections (the hooks of sqlite_base.SQLiteBase) ---------------------------------

    def _open(self) -> None:
        url = self.path
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True},
            configure=configure,
            open=False,
            timeout=10,
            name="beatsync",
        )
        try:
            self._pool.open(wait=True, timeout=10)
            self._writer_raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot open the database at {_safe(url)}: {exc}") from exc
        configure(self._writer_raw)
        self._writer = Connection(self._writer_raw)  # type: ignore[assignment]
        self._reader_proxy = _Reader(self._pool)
        self._check_collation()

    def _check_collation(self) -> None:
        row = self._writer_raw.execute(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        if row is None or row[0] not in ("C", "POSIX"):
            self._close_connections()
            raise StoreUnavailable(
                f"the database at {_safe(self.path)} sorts text by {row[0] if row else '?'};"
                " beatsync needs byte order: create it with LC_COLLATE 'C' (TEMPLATE template0)"
            )

    def _close_connections(self) -> None:
        self._pool.close()
        self._writer_raw.close()

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN")
        conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    def _committed(self) -> None:
        """Nothing to do after a commit: PostgreSQL checkpoints by itself."""

    def _reader(self) -> Any:
        return self._reader_proxy

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        with self._pool.connection() as raw:
            conn = Connection(raw)
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    # -- migrations ------------------------------------------------------------------------

    def _migrate(self) -> list[str]:
        with self._write_lock:
            return schema.apply(self._writer_raw)

    def _refuse_pending(self) -> None:
        applied = self.applied_migrations()
        pending = [name for name in schema.known() if name not in applied]
        if applied and pending:
            self._close_connections()
            raise PendingMigrations(_safe(self.path), pending)

    def known_migrations(self) -> list[str]:
        return schema.known()

    def applied_migrations(self) -> list[str]:
        return schema.applied(self._writer_raw)

    def _has_table(self, name: str) -> bool:
        return self._one("SELECT to_regclass(?) IS NOT NULL AS x", (name,)) == {"x": True}


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items())
