"""Group commit: pushes that arrive together share one transaction, and each keeps its
own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.store.group_commit import GroupCommit


class Writer:
    """A run function that holds the first group until told, so the rest queue up."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def run(self, jobs: Sequence[str]) -> list[str | BaseException]:
        self.groups.append(list(jobs))
        if len(self.groups) == 1:
            self.first_started.set()
            assert self.release.wait(10)
        if "explode" in jobs:
            raise RuntimeError("disk full")
        return [ValueError(job) if job.startswith("bad") else job.upper() for job in jobs]


def submit_while_first_is_held(
    writer: Writer, later: list[str], group: GroupCommit[str, str] | None = None
) -> tuple[object, list[object]]:
    group = group or GroupCommit(writer.run)

    def outcome(job: str) -> object:
        try:
            return group.submit(job)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(later) + 1) as pool:
        first = pool.submit(outcome, "first")
        assert writer.first_started.wait(10)
        rest = [pool.submit(outcome, job) for job in later]
        while len(group._queue) < len(later):
            threading.Event().wait(0.005)
        writer.release.set()
        return first.result(10), [f.result(10) for f in rest]


def test_pushes_queued_behind_a_write_share_the_next_transaction() -> None:
    writer = Writer()
    first, rest = submit_while_first_is_held(writer, ["a", "b", "c"])
    assert first == "FIRST"
    assert rest == ["A", "B", "C"]
    assert writer.groups[0] == ["first"]
    assert sorted(writer.groups[1]) == ["a", "b", "c"]


def test_a_failed_push_is_the_answer_of_that_push_alone() -> None:
    writer = Writer()
    _, rest = submit_while_first_is_held(writer, ["a", "bad", "c"])
    assert rest[0] == "A"
    assert rest[2] == "C"
    assert isinstance(rest[1], ValueError)


def test_a_failed_transaction_fails_its_group_and_the_next_push_still_runs() -> None:
    writer = Writer()
    group: GroupCommit[str, str] = GroupCommit(writer.run)
    _, rest = submit_while_first_is_held(writer, ["a", "explode"], group)
    assert all(isinstance(r, RuntimeError) for r in rest)
    assert group.submit("later") == "LATER"


def test_an_error_in_the_leader_reaches_its_caller() -> None:
    def run(jobs: Sequence[str]) -> list[str | BaseException]:
        raise RuntimeError("disk full")

    group: GroupCommit[str, str] = GroupCommit(run)
    with pytest.raises(RuntimeError, match="disk full"):
        group.submit("x")
    with pytest.raises(RuntimeError, match="disk full"):
        group.submit("y")
