"""The order a phone's first pull walks its scope in: open work first, soonest deadline
(or publicity window end) first, then kind and id, as one text key.

Kept on each scope_members row (sort_key) and indexed with the officer, so that a page of
a pull is a range scan of that index whatever the size of the scope; computed here from a
task row aliased `t`, wherever a member row is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SORT_KEY_SQL = {
    "warning": (
        "CASE WHEN t.state IN ('new', 'dispatched', 'in_progress') THEN 0 ELSE 1 END"
        " || '|' || t.deadline_at || '|w|' || printf('%012d', t.id)"
    ),
    "publicity": (
        "CASE WHEN t.status IN ('planned', 'in_progress') THEN 0 ELSE 1 END"
        " || '|' || t.window_end || '|p|' || printf('%012d', t.id)"
    ),
}
TASK_TABLE = {"warning": "warnings", "publicity": "publicity_tasks"}
_OPEN = {"warning": ("new", "dispatched", "in_progress"), "publicity": ("planned", "in_progress")}
_STATE = {"warning": "state", "publicity": "status"}
_DUE = {"warning": "deadline_at", "publicity": "window_end"}


def sort_key(kind: str, row: Mapping[str, Any]) -> str:
    """SORT_KEY_SQL in Python, for a writer that holds the task row already (a push): the
    same text to the byte, from the columns as stored."""
    rank = 0 if row[_STATE[kind]] in _OPEN[kind] else 1
    return f"{rank}|{row[_DUE[kind]]}|{kind[0]}|{int(row['id']):012d}"


# (officer, kind, task id, version, task id): a member row with its key, new or updated.
UPSERT_MEMBER = {
    kind: (
        "INSERT INTO scope_members (officer_id, task_kind, task_id, version, sort_key)"  # noqa: S608 - our own constants
        f" SELECT ?, ?, ?, ?, {expression} FROM {TASK_TABLE[kind]} t WHERE t.id = ?"
        " ON CONFLICT (officer_id, task_kind, task_id)"
        " DO UPDATE SET version = excluded.version, sort_key = excluded.sort_key"
    )
    for kind, expression in SORT_KEY_SQL.items()
}
# (officer, kind, task id, version, key): the same, with the key already known.
UPSERT_MEMBER_KEYED = (
    "INSERT INTO scope_members (officer_id, task_kind, task_id, version, sort_key)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (officer_id, task_kind, task_id)"
    " DO UPDATE SET version = excluded.version, sort_key = excluded.sort_key"
)
