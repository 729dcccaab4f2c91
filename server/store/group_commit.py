"""Group commit: concurrent writers share one transaction.

Eight phones pushing at once would otherwise take the single writer one after another,
each paying for its own COMMIT and writing the same index pages again. Here a caller
hands in its job and waits; the first caller to find no leader becomes the leader and
runs every job queued by then in one go, while the next jobs queue up behind it. The
runner keeps each job all-or-nothing on its own (a savepoint each), so one job's
failure is that job's answer only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class _Job(Generic[A, R]):
    __slots__ = ("arg", "done", "error", "result")

    def __init__(self, arg: A) -> None:
        self.arg = arg
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def settle(self, outcome: R | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.error = outcome
        else:
            self.result = outcome
        self.done = True

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        assert self.result is not None  # noqa: S101 -- settled with a result
        return self.result


class GroupCommit(Generic[A, R]):
    """`run(args)` applies jobs in order and returns, for each, its result or the exception
    that job ended with; an exception raised by `run` itself ends every job of the group."""

    def __init__(self, run: Callable[[Sequence[A]], Sequence[R | BaseException]]) -> None:
        self._run = run
        self._cond = threading.Condition()
        self._queue: list[_Job[A, R]] = []
        self._leading = False

    def submit(self, arg: A) -> R:
        job: _Job[A, R] = _Job(arg)
        with self._cond:
            self._queue.append(job)
            while self._leading and not job.done:
                self._cond.wait()
            if job.done:
                return job.outcome()
            self._leading = True
            jobs, self._queue = self._queue, []
        outcomes: Sequence[R | BaseException] = ()
        try:
            outcomes = self._run([j.arg for j in jobs])
        except BaseException as exc:
            outcomes = [exc] * len(jobs)
            raise
        finally:
            with self._cond:
                for j, outcome in zip(jobs, outcomes, strict=True):
                    j.settle(outcome)
                self._leading = False
                self._cond.notify_all()
        return job.outcome()
