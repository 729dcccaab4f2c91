"""Commits made by other processes on the same database, told to this process's listeners.

beatsync may run as several processes over one database (`beatsync serve --workers N`,
or several `serve` commands on one file or one PostgreSQL). A phone's event stream is
held by one of them; the warning that concerns it may be written by another. Each store
therefore watches the database's own logs (the scope change log, the audit chain, the
escalation steps) and hands what is new to the same listeners its own commits call.

It polls: a few indexed `max(id)` reads every WATCH_INTERVAL_S, and the new rows only when
there are some. That is the cross-process mechanism on SQLite, where there is no
LISTEN/NOTIFY, and it works the same on any backend. Its own process's commits come
round too, a moment after their direct call; every listener keeps the newest id or seq it
has told and ignores one that is not newer (server/sync/events.py), so nothing is told
twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from server.logs import get_logger

# Well inside the second within which a phone must hear of its work.
WATCH_INTERVAL_S = 0.2

log = get_logger("beatsync.store")


class PeerCommitWatcher:
    """A daemon thread calling `poll` every `interval_s` seconds until closed."""

    def __init__(self, poll: Callable[[], object], interval_s: float = WATCH_INTERVAL_S) -> None:
        self._poll = poll
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peer-commits", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._poll()
            except Exception:
                # A locked or briefly unreachable database: the next poll catches up,
                # since it reads everything after the last id it told.
                log.exception("peer_commits_poll_failed")
