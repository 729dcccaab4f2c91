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
other nodes' commits by watching the logs, as a second SQLite process does
(server/store/peer_commits.py), woken by the NOTIFY that ends every write (notices.py).

When the server goes away (a restart, a failover), requests fail with StoreUnavailable,
which the API answers 503 with Retry-After; the pool and the writer connect again by
themselves once it is back (`_writable`, `_first_statement`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from server.store.errors import PendingMigrations, StoreUnavailable, register_unavailable
from server.store.peer_commits import PeerCommitWatcher
from server.store.postgres import schema
from server.store.postgres.connection import Connection, Cursor, configure
from server.store.postgres.notices import NOTIFY, CommitNotices
from server.store.sqlite.store import SQLiteStore

# pg_advisory_xact_lock key every write holds: 'beat' and 2.
WRITE_LOCK = 0x6265_6174_0002
POOL_MAX = 8
POOL_WAIT_S = 3
CONNECT_S = 5
RECONNECT_S = 2.0
T = TypeVar("T")


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.OperationalError | PoolTimeout)


register_unavailable(_unavailable)


class _Reader:
    """What `_reader()` gives the shared code: each statement on a pooled connection."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        raw, cursor = _first_statement(self._pool, lambda conn: conn.execute(sql, params))
        self._pool.putconn(raw)
        return cursor


def _first_statement(
    pool: ConnectionPool[Any], first: Callable[[Connection], T]
) -> tuple[psycopg.Connection[Any], T]:
    """A connection checked out of the pool, and what its first statement gave.

    A server restart leaves every idle connection in the pool dead. The first statement
    to fail on one has the pool check the rest, and runs once more on a fresh connection:
    nothing has happened on the dead one, so once the server is back a restart costs
    the readers nothing. While it is down the error goes up, and the request gets 503."""
    for attempt in (1, 2):
        raw = pool.getconn()
        try:
            return raw, first(Connection(raw))
        except psycopg.OperationalError:
            pool.putconn(raw)  # a broken connection is discarded, not kept
            if attempt == 2 or not raw.broken:
                raise
            pool.check()
        except BaseException:
            pool.putconn(raw)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


class PostgresStore(SQLiteStore):
    """Implements server.store.interface.Store on a PostgreSQL database (a URL)."""

    _typed_columns = True

    @staticmethod
    def _json_items(column: str) -> str:
        return f"json_array_elements(({column})::json)"

    @staticmethod
    def _json_item(alias: str, key: str) -> str:
        return f"({alias}->>'{key}')::bigint"

    # -- connections (the hooks of sqlite.base.SQLiteBase) ---------------------------------

    def _open(self) -> None:
        url = self.path
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True},
            configure=configure,
            open=False,
            # A request waits this long for a connection before it is told 503.
            timeout=POOL_WAIT_S,
            # The pool retries a lost connection with a backoff that doubles up to this
            # long, then gives it up; the next request that wants one tries at once. Kept
            # short, so that a node is serving within seconds of the server's return
            # rather than after a backoff grown through a long outage.
            reconnect_timeout=RECONNECT_S,
            name="beatsync",
        )
        try:
            # The writer first: a server that refuses says so at once, where the pool
            # would retry until its timeout before giving up.
            self._writer_raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_S)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot open the database at {_safe(url)}: {exc}") from exc
        try:
            self._pool.open(wait=True, timeout=10)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._pool.close()
            self._writer_raw.close()
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

    def _writable(self) -> Any:
        """The writer connection; a new one when the old died with the server (a restart,
        a failover): the write that follows then goes through, or fails with 503 while
        the server is still down."""
        if self._writer_raw.closed or self._writer_raw.broken:
            try:
                self._writer_raw.close()
                raw = psycopg.connect(self.path, autocommit=True, connect_timeout=CONNECT_S)
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"cannot reach the database at {_safe(self.path)}: {exc}"
                ) from exc
            configure(raw)
            self._writer_raw = raw
            self._writer = Connection(raw)  # type: ignore[assignment]
        return self._writer

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN")
        conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    def _before_commit(self, conn: Any) -> None:
        # Delivered at COMMIT to every node's LISTEN (notices.py), never on a rollback.
        conn.execute(NOTIFY)

    def _rollback(self, conn: Any) -> None:
        if not self._writer_raw.broken:  # a dead connection has nothing to roll back
            conn.execute("ROLLBACK")

    def _peer_watcher(self) -> PeerCommitWatcher:
        return PeerCommitWatcher(
            self._poll_peer_commits, interval_s=1.0, wakeup=CommitNotices(self.path)
        )

    def close(self) -> None:
        if self._watcher is not None and not self._writer_raw.broken:
            # Wakes this node's watcher (and, harmlessly, every other's) so it stops now.
            with suppress(psycopg.Error):
                self._writer_raw.execute(NOTIFY)
        super().close()

    def _committed(self) -> None:
        """Nothing to do after a commit: PostgreSQL checkpoints by itself."""

    def _reader(self) -> Any:
        return self._reader_proxy

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        raw, _ = _first_statement(
            self._pool, lambda conn: conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        )
        conn = Connection(raw)
        try:
            yield conn
        finally:
            try:
                if not raw.broken:
                    conn.execute("COMMIT")
            finally:
                self._pool.putconn(raw)

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
        # On a pooled connection: the writer's may be inside another thread's write.
        with self._pool.connection() as raw:
            return schema.applied(raw)

    def _has_table(self, name: str) -> bool:
        return self._one("SELECT to_regclass(?) IS NOT NULL AS x", (name,)) == {"x": True}


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items())
