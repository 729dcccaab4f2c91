"""Work the writer hands off after a commit: done soon, off the request's path.

A commit pokes the task; a thread of its own runs the work at most once per pause, so a
burst of commits shares one run. An idle thread ends, and the next poke starts another,
so a store that is not written to holds no thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# An idle thread ends; the next poke starts another.
IDLE_EXIT_S = 5.0


class BackgroundTask:
    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        pause_s: float,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        self._name = name
        self._work = work
        self._on_close = on_close
        self._pause_s = pause_s
        self._pending = threading.Event()
        # Set on close: the pause after a run ends at once rather than holding close up.
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def poke(self) -> None:
        """Ask for a run soon; called by the writer after a commit."""
        self._pending.set()
        with self._lock:
            if self._closed or self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread, letting a run in progress finish."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stopping.set()
        self._pending.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if self._on_close is not None:
            self._on_close()

    def _run(self) -> None:
        while self._next():
            self._work()
            self._stopping.wait(self._pause_s)

    def _next(self) -> bool:
        """Wait for a poke; False once closed or idle (the thread then ends)."""
        while True:
            if self._pending.wait(IDLE_EXIT_S):
                self._pending.clear()
                return not self._closed
            with self._lock:
                # Decided under the lock that poke() takes, so a poke either sees this
                # thread gone and starts another, or lands before and is served here.
                if self._pending.is_set() and not self._closed:
                    continue
                self._thread = None
                return False
