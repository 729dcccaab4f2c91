"""PostgreSQL databases for tests: one per test, copied from a template migrated once.

`BEATSYNC_TEST_POSTGRES` names a server and a role that may create databases (as
postgresql://user:password@host:port/postgres); `.ci/run` starts PostgreSQL and sets it.
Unset, the PostgreSQL store is not among the implementations the suite runs; set but
unreachable, the suite fails rather than quietly running without it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from server.clock import ManualClock
from server.store.interface import Store
from server.store.opening import open_store

SERVER = os.environ.get("BEATSYNC_TEST_POSTGRES", "")
_TEMPLATE = f"bs_template_{os.getpid()}"
_made: set[str] = set()
_lock = threading.Lock()


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(SERVER, autocommit=True, connect_timeout=10)


def _url(name: str) -> str:
    """The server's URL with another database's name in its path."""
    base, _, _ = SERVER.rpartition("/")
    return f"{base}/{name}"


def _create(admin: psycopg.Connection[tuple[object, ...]], name: str, template: str) -> None:
    admin.execute(
        sql.SQL(
            "CREATE DATABASE {} TEMPLATE {} LC_COLLATE 'C' LC_CTYPE 'C' ENCODING 'UTF8'"
        ).format(sql.Identifier(name), sql.Identifier(template))
    )
    _made.add(name)


def _name(folder: Path) -> str:
    return "bs_" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]


def _drop(admin: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _template() -> str:
    """The migrated, empty database every test's copy starts from; made once a run."""
    if _TEMPLATE not in _made:
        with _admin() as admin:
            _create(admin, _TEMPLATE, "template0")
        open_store(_url(_TEMPLATE), ManualClock()).close()
    return _TEMPLATE


def database_for(folder: Path) -> str:
    """The URL of the database that belongs to a test's folder, made on first use: the
    same folder opens the same database again, as a second process would."""
    name = _name(folder)
    with _lock:
        if name not in _made:
            template = _template()
            with _admin() as admin:
                _create(admin, name, template)
    return _url(name)


@contextmanager
def gone(folder: Path) -> Iterator[None]:
    """The test's database as a server restart looks to the nodes on it: every connection
    cut, and new ones refused, until the block ends."""
    name = sql.Identifier(_name(folder))
    with _admin() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (_name(folder),),
        )
    try:
        yield
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def open_postgres(folder: Path, clock: ManualClock) -> Store:
    return open_store(database_for(folder), clock)


def drop_database_for(folder: Path) -> None:
    """Drop a test's database once the test is over (its stores are closed by then)."""
    name = _name(folder)
    with _lock:
        if name not in _made:
            return
        with _admin() as admin:
            _drop(admin, name)
        _made.discard(name)


@atexit.register
def _drop_all() -> None:
    if not _made:
        return
    with _admin() as admin:
        for name in [*sorted(_made - {_TEMPLATE}), _TEMPLATE]:
            _drop(admin, name)
