"""The phone follows its event stream and pulls when told; it resumes where it stopped and
long-polls when streams keep breaking. Over a real socket: an in-process transport hands
back a body only once the app has finished it, which a stream never does."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from clients.device import DeviceClient, RetryPolicy
from tests.sim.world import Api
from tests.support.api import a_warning
from tests.support.city import PASSWORD
from tests.support.live import serve_in_thread

O1_GRID = "411602001001"
FAST = RetryPolicy(attempts=3, base_seconds=0.02, cap_seconds=0.1)


@pytest.fixture
def live(app: Litestar) -> Iterator[str]:
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
def desk(live: str) -> Iterator[Api]:
    with httpx.Client(base_url=live, timeout=10) as http:
        yield Api(http)


def deliver(desk: Api) -> int:
    out = desk.call(
        "platform", "POST", "/api/v1/platform/warnings", json={"warnings": [a_warning(O1_GRID)]}
    )
    return int(out.json()["results"][0]["warning_id"])


class Follower:
    """follow_events on a thread of its own; every change it reports is pulled at once."""

    def __init__(self, phone: DeviceClient, **options: int) -> None:
        self.phone = phone
        self.heard: queue.Queue[int] = queue.Queue()
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, kwargs=options, daemon=True)
        self.thread.start()

    def _run(self, **options: int) -> None:
        def on_change(seq: int) -> None:
            self.phone.pull()
            self.heard.put(seq)

        try:
            self.phone.follow_events(on_change, self.stop, **options)
        except BaseException as exc:
            self.failure = exc

    def until_held(self, warning: int, timeout: float = 10) -> list[int]:
        """The seqs heard up to the pull that brought `warning`."""
        seqs = []
        deadline = time.monotonic() + timeout
        while True:
            seqs.append(self.heard.get(timeout=max(0.01, deadline - time.monotonic())))
            if self.phone.task("warning", warning) is not None:
                return seqs

    def end(self, desk: Api) -> None:
        self.stop.set()
        deliver(desk)  # a last event, so that a stream blocked on its next line sees stop
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert self.failure is None, self.failure


def a_phone(live: str, tmp_path: Path, **options: object) -> DeviceClient:
    phone = DeviceClient(live, tmp_path / "phone.db", "o1-phone", retry=FAST, **options)  # type: ignore[arg-type]
    phone.login("o1", PASSWORD)
    phone.pull()
    return phone


def test_the_phone_hears_of_new_work_within_a_second_and_pulls_it(
    live: str, desk: Api, tmp_path: Path
) -> None:
    phone = a_phone(live, tmp_path)
    follower = Follower(phone)
    assert follower.heard.get(timeout=5) == 0  # on connecting without an event id: pull
    started = time.monotonic()
    warning = deliver(desk)
    seqs = follower.until_held(warning, timeout=5)
    assert time.monotonic() - started < 1.5
    assert seqs
    assert seqs[-1] > 0
    assert phone.local.event_seq() == seqs[-1]
    follower.end(desk)
    phone.close()


def test_a_phone_that_stopped_listening_resumes_from_its_last_event(
    live: str, desk: Api, tmp_path: Path
) -> None:
    phone = a_phone(live, tmp_path)
    follower = Follower(phone)
    follower.until_held(deliver(desk))
    follower.end(desk)
    seen = phone.local.event_seq()
    missed = deliver(desk)  # while nobody listened
    assert phone.task("warning", missed) is None

    again = Follower(phone)  # reconnects with Last-Event-ID
    seqs = again.until_held(missed)
    assert 0 not in seqs
    assert seqs[0] > seen
    again.end(desk)
    phone.close()


class _StreamsBreak(httpx.BaseTransport):
    """A network that cuts every long-lived stream at once; short requests get through."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.streams = 0
        self.waits = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sync/events"):
            self.streams += 1
            raise httpx.RemoteProtocolError("connection reset by the carrier", request=request)
        if request.url.path.endswith("/sync/wait"):
            self.waits += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_when_streams_keep_breaking_the_phone_long_polls(
    live: str, desk: Api, tmp_path: Path
) -> None:
    network = _StreamsBreak()
    phone = a_phone(live, tmp_path, transport=network)
    follower = Follower(phone, poll_timeout=1, failures_before_polling=3)
    warning = deliver(desk)
    follower.until_held(warning, timeout=10)
    assert network.streams == 3
    assert network.waits >= 1
    follower.end(desk)
    phone.close()
