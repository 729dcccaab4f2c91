"""SQL straight against a store's database, SQLite file or PostgreSQL URL alike.

For the few things a story must see or set that no API shows: how many sessions exist,
an upload made to expire, a migration a newer release left behind. Statements use `?`
placeholders and SQL both engines read; a test that needs one engine's SQL says so.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import psycopg
from psycopg.rows import dict_row


def is_postgres(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def _pg(statement: str) -> str:
    """psycopg's placeholders: a literal % doubled, each ? a %s."""
    return statement.replace("%", "%%").replace("?", "%s")


def rows(location: str, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """The rows one statement reads, each a dict by column name."""
    if is_postgres(location):
        with psycopg.connect(location, row_factory=dict_row) as conn:
            return list(conn.execute(_pg(statement), params).fetchall())
    with closing(sqlite3.connect(f"file:{location}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(statement, params)]


def execute(location: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """One statement that writes, committed before it returns."""
    if is_postgres(location):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(_pg(statement), params)
        return
    with closing(sqlite3.connect(location)) as conn, conn:
        conn.execute(statement, params)


def count(location: str, table: str) -> int:
    [row] = rows(location, f"SELECT count(*) AS n FROM {table}")  # noqa: S608 - a test's table
    return int(row["n"])
