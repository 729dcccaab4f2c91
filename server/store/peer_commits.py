"""Commits made by other processes on the same database, told to this process's listeners.

beatsync may run as several processes over one database (`beatsync serve --workers N`,
or several `serve` commands on one file or one PostgreSQL). A phone's event stream is
held by one of them; the warning that concerns it may be written by another. Each store
therefore watches the database's own logs (the scope change log, the audit chain, the
escalation steps) and hands what is new to the same listeners its own commits call.

It polls: a few indexed `max(id)` reads, and the new rows only when there are some. On
SQLite, which has no LISTEN/NOTIFY, it polls every WATCH_INTERVAL_S. On PostgreSQL every
write transaction ends with a NOTIFY and each node LISTENs (server/store/postgres/notices.py):
the poll runs as soon as a commit is announced, and only once a second otherwise. The
notice carries nothing; the logs stay the one source of what changed, so a notice lost
with a dropped connection costs at most a second, never a change. Its own process's commits come
round too, a moment after their direct call; every listener keeps the newest id or seq it
has told and ignores one that is not newer (server/sync/events.py), so nothing is told
twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from server.logs import get_logger

# Well inside the second within which a phone must hear of its work.
WATCH_INTERVAL_S = 0.2

log = get_logger("beatsync.store")


class Wakeup(Protocol):
    """What tells the watcher that another process committed (PostgreSQL's LISTEN)."""

    def wait(self, timeout_s: float) -> None:
        """Return when a commit was announced, or after timeout_s, whichever is first."""

    def close(self) -> None: ...


class PeerCommitWatcher:
    """A daemon thread calling `poll` every `interval_s` seconds until closed; with a
    wakeup, as soon as it announces a commit (at most one poll per MIN_GAP_S), and every
    `interval_s` anyway, so an announcement lost with its connection delays nothing long."""

    MIN_GAP_S = 0.05

    def __init__(
        self,
        poll: Callable[[], object],
        interval_s: float = WATCH_INTERVAL_S,
        wakeup: Wakeup | None = None,
    ) -> None:
        self._poll = poll
        self._interval_s = interval_s
        self._wakeup = wakeup
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peer-commits", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if self._wakeup is not None:
            self._wakeup.close()

    def _run(self) -> None:
        while True:
            if self._wakeup is None:
                if self._stop.wait(self._interval_s):
                    return
            else:
                self._wakeup.wait(self._interval_s)
                # Under a stream of commits, one poll reads a whole burst of them.
                if self._stop.wait(self.MIN_GAP_S):
                    return
            try:
                self._poll()
            except Exception:
                # A locked or briefly unreachable database: the next poll catches up,
                # since it reads everything after the last id it told.
                log.exception("peer_commits_poll_failed")
