"""The store's SQL, written for SQLite, as PostgreSQL reads it.

The SQL backends share their statements (server/store/sqlite/*.py); most of them are
already the SQL both databases speak. What differs is rewritten here once per statement
and cached: parameter marks (`?` and `:name` become psycopg's `%s` and `%(name)s`, so a
literal `%` is doubled), `INSERT OR IGNORE`, SQLite's two-argument scalar `max`, its
`printf('%012d', x)` and its `NOT INDEXED` hint. The functions SQLite has and PostgreSQL
lacks (`julianday`, `unixepoch`) are created in the database by the first migration with
SQLite's meaning (server/store/postgres/schema.py), so a report reads the same on both.
A statement a rule cannot express raises here, at its first use, rather than running
with another meaning.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PRINTF_PAD = re.compile(r"printf\('%0(\d+)d',\s*([\w.]+)\)")
_MIN_MAX = re.compile(r"\b(max|min)\(", re.IGNORECASE)
_NOT_INDEXED = re.compile(r"\s+(NOT INDEXED|INDEXED BY \w+)")
# SQLite's `a IS b` with b a value, not NULL: PostgreSQL's IS NOT DISTINCT FROM.
_IS_VALUE = re.compile(r"\bIS\s+(NOT\s+)?(?=('|\?|:\w|\d))")
_ROWID = re.compile(r"\b(\w+\.)?rowid\b")


class UntranslatableSQL(ValueError):
    """A statement with SQLite-only SQL no rule here covers."""


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The statement for psycopg: same meaning, PostgreSQL's words and marks."""
    text = _PRINTF_PAD.sub(lambda m: f"lpad(({m.group(2)})::text, {m.group(1)}, '0')", sql)
    text = _scalar_min_max(text)
    text = _NOT_INDEXED.sub("", text)
    text = _IS_VALUE.sub(
        lambda m: "IS DISTINCT FROM " if m.group(1) else "IS NOT DISTINCT FROM ", text
    )
    # Every table the shared SQL reads by rowid has an INTEGER PRIMARY KEY named id, which
    # is the rowid in SQLite.
    text = _ROWID.sub(lambda m: f"{m.group(1) or ''}id", text)
    if text.lstrip().upper().startswith("INSERT OR IGNORE INTO"):
        if " ON CONFLICT" in text.upper():
            raise UntranslatableSQL(f"INSERT OR IGNORE with ON CONFLICT: {sql}")
        text = text.replace("INSERT OR IGNORE INTO", "INSERT INTO", 1) + " ON CONFLICT DO NOTHING"
    for word in ("json_each", "json_extract", "PRAGMA", "printf(", "GLOB", "WITHOUT ROWID"):
        if word in text:
            raise UntranslatableSQL(f"{word} has no PostgreSQL rule here: {sql}")
    return _marks(text)


def _scalar_min_max(text: str) -> str:
    """SQLite's max(a, b) and min(a, b), the scalar forms, as GREATEST and LEAST; the
    one-argument aggregates stay as they are."""
    out, at = [], 0
    for m in _MIN_MAX.finditer(text):
        depth, i, comma = 1, m.end(), False
        while i < len(text) and depth:
            c = text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "," and depth == 1:
                comma = True
            elif c == "'":
                i = text.index("'", i + 1)
            i += 1
        if comma:
            out.append(text[at : m.start()])
            out.append("GREATEST(" if m.group(1).lower() == "max" else "LEAST(")
            at = m.end()
    out.append(text[at:])
    return "".join(out)


def _marks(text: str) -> str:
    """`?` and `:name` outside string literals to psycopg's marks; `%` doubled."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            end = text.index("'", i + 1)
            while end + 1 < n and text[end + 1] == "'":  # '' inside a literal
                end = text.index("'", end + 2)
            out.append(text[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif c == "%":
            out.append("%%")
            i += 1
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == ":" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] == "_"):
            if i > 0 and text[i - 1] == ":":  # a PostgreSQL cast, x::text
                out.append(c)
                i += 1
                continue
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(f"%({text[i + 1 : j]})s")
            i = j
        elif c == ":" and i + 1 < n and text[i + 1] == ":":
            out.append("::")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
