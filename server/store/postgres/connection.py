"""A psycopg connection that answers the calls the shared SQL code makes of sqlite3's.

The SQL backends share their statement code (server/store/sqlite/*.py), which calls
`execute`, `executemany` and `cursor` on a DB-API connection and reads rows as dicts (or
as tuples where it asked for them). This wraps a psycopg connection so those calls run on
PostgreSQL: each statement through dialect.translate, rows as dicts (or tuples), and
numeric results (PostgreSQL's sum and avg) as int or float, as SQLite gives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.rows import dict_row, tuple_row

from server.store.postgres.dialect import translate

Params = Sequence[Any] | Mapping[str, Any]


class NumericLoader(Loader):
    """PostgreSQL's numeric (sum of bigints, avg) as SQLite gives it: int or float."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def configure(conn: psycopg.Connection[Any]) -> None:
    """Set up a fresh pooled connection: numeric as int or float."""
    conn.adapters.register_loader("numeric", NumericLoader)


class Cursor:
    """Rows of one statement, fetched at once: a pooled connection goes back right after."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        row = self._rows[self._next]
        self._next += 1
        return row

    def fetchmany(self, size: int) -> list[Any]:
        rows = self._rows[self._next : self._next + size]
        self._next += len(rows)
        return rows

    def fetchall(self) -> list[Any]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        while (row := self.fetchone()) is not None:
            yield row


class TupleCursor:
    """`conn.cursor()` with `row_factory = None`: rows as tuples, as sqlite3 gives them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.row_factory: object = "dict"
        self._result = Cursor([], 0)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        self._result = self._conn._run(sql, params, tuples=self.row_factory is None)
        return self._result

    def fetchone(self) -> Any:
        return self._result.fetchone()

    def fetchmany(self, size: int) -> list[Any]:
        return self._result.fetchmany(size)

    def fetchall(self) -> list[Any]:
        return self._result.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._result)


class Connection:
    """One psycopg connection, in autocommit mode: BEGIN and COMMIT are statements, as
    they are on the SQLite connections the shared code was written for."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return self._run(sql, params, tuples=False)

    def executemany(self, sql: str, rows: Any) -> Cursor:
        rows = list(rows)
        if not rows:
            return Cursor([], 0)
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql), rows)
            return Cursor([], cur.rowcount)

    def cursor(self) -> TupleCursor:
        return TupleCursor(self)

    def _run(self, sql: str, params: Params, *, tuples: bool) -> Cursor:
        with self.raw.cursor(row_factory=tuple_row if tuples else dict_row) as cur:
            cur.execute(translate(sql), params)
            rows = cur.fetchall() if cur.description is not None else []
            return Cursor(rows, cur.rowcount)

    def close(self) -> None:
        self.raw.close()
