"""Background jobs run once, not once per process.

Every process of beatsync (several on one SQLite file, or several nodes over one
database) starts the same periodic jobs: maintenance, escalation and webhooks. Before
each pass a process takes or renews the job's lease in the store (Store.take_lease) for
a few of its intervals, and runs the pass only while it holds it; the others skip the
pass and try again an interval later. A holder that stops cleanly gives its leases up,
so another process takes over at its next pass; one that dies keeps them until they
expire, then another takes over.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from server.logs import get_logger
from server.store.interface import Store

log = get_logger("beatsync.leases")
T = TypeVar("T")

# A lease lasts this many intervals of its job: a holder that misses one pass (a slow
# disk, a long pass) keeps it, one that is gone loses it within a few.
TTL_INTERVALS = 3
MIN_TTL_SECONDS = 30
# How long shutdown waits for a pass under way before giving the lease up.
RELEASE_WAIT_SECONDS = 10.0


def new_holder() -> str:
    """This process's name on the leases it takes: host, pid and a random suffix, so that a
    restarted process with a reused pid is a new holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_ttl(interval_seconds: float) -> timedelta:
    return timedelta(seconds=max(TTL_INTERVALS * interval_seconds, MIN_TTL_SECONDS))


class JobLease:
    """One job's lease as one process holds it (or not)."""

    def __init__(self, store: Store, name: str, holder: str, interval_seconds: float) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = lease_ttl(interval_seconds)
        # What the last try found: None before the first.
        self.held: bool | None = None
        self._busy = threading.Lock()

    def take(self) -> bool:
        """Run this pass? Takes the lease, or renews it, and says whether this process
        holds it now; logs when that changes."""
        held = self.store.take_lease(self.name, self.holder, self.ttl)
        if held and not self.held:
            log.info(
                "lease_taken", job=self.name, holder=self.holder, ttl_s=self.ttl.total_seconds()
            )
        elif not held and self.held:
            log.warning("lease_lost", job=self.name, holder=self.holder)
        elif not held and self.held is None:
            log.info("lease_held_elsewhere", job=self.name, holder=self.holder)
        self.held = held
        return held

    def run_pass(self, fn: Callable[[], T]) -> T | None:
        """fn() when this process holds the lease; None, running nothing, when another
        does. Blocking: call it from a worker thread."""
        with self._busy:
            if not self.take():
                return None
            return fn()

    def release(self, wait_seconds: float = RELEASE_WAIT_SECONDS) -> None:
        """Give the lease up, once a pass under way has ended, so that another process
        takes over at once. A pass still running after `wait_seconds` keeps it (it
        expires by itself). Blocking: call it from a worker thread."""
        if not self._busy.acquire(timeout=wait_seconds):
            log.warning("lease_kept_pass_running", job=self.name, holder=self.holder)
            return
        try:
            if self.held:
                self.held = False
                self.store.release_lease(self.name, self.holder)
                log.info("lease_released", job=self.name, holder=self.holder)
        except Exception:
            # Shutting down: the lease expires by itself.
            log.exception("lease_release_failed", job=self.name, holder=self.holder)
        finally:
            self._busy.release()
