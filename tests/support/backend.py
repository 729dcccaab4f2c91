"""Which store backend this run's stories use, and where a test's database lives on it.

SQLite by default; with BEATSYNC_TEST_BACKEND=postgres, a database of the test's own on
the PostgreSQL server BEATSYNC_TEST_POSTGRES names (`.ci/run` runs the suite once on each).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import postgres

BACKEND = os.environ.get("BEATSYNC_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres") or (BACKEND == "postgres" and not postgres.SERVER):
    raise RuntimeError("BEATSYNC_TEST_BACKEND=postgres wants BEATSYNC_TEST_POSTGRES set")
ON_POSTGRES = BACKEND == "postgres"


def location_for(folder: Path, file_name: str = "beatsync.db") -> str:
    """The store location that belongs to a test's folder: the SQLite file in it, or the
    PostgreSQL database named after it (made on first use, the same one each time)."""
    if ON_POSTGRES:
        return postgres.database_for(folder)
    return str(folder / file_name)


def drop_for(folder: Path) -> None:
    """Once the test's stores are closed: its PostgreSQL database goes (a file stays with
    its folder, which pytest cleans up)."""
    if ON_POSTGRES:
        postgres.drop_database_for(folder)
