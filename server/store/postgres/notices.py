"""Commits announced between nodes: every write ends with `NOTIFY beatsync_commits` and
each node's peer-commit watcher waits on a connection that LISTENs to it.

PostgreSQL delivers a notification when the transaction that sent it commits, and never
for one rolled back, so a wake-up always finds the commit it announces.
"""

from __future__ import annotations

import contextlib
import time

import psycopg

from server.logs import get_logger

CHANNEL = "beatsync_commits"
NOTIFY = f"NOTIFY {CHANNEL}"

log = get_logger("beatsync.store")


class CommitNotices:
    """A LISTEN connection of its own; `wait` is the watcher's wake-up (peer_commits.Wakeup)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def wait(self, timeout_s: float) -> None:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._listen(timeout_s)
            return  # a poll now reads whatever was committed while no one listened
        try:
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.Error:
            self._drop()

    def _listen(self, timeout_s: float) -> None:
        self._drop()
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            log.warning("commit_notices_unavailable", error_type=type(exc).__name__)
            time.sleep(timeout_s)  # the watcher polls, and fails, no faster than before
            return
        self._conn = conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop()
