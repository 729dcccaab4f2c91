"""A network between a phone and the server that fails the way village networks do.

FaultyTransport wraps the in-process transport of the app. Faults are either planned
(a story says "lose the answer of the next push") or drawn at random per request from a
seeded generator (the simulation). Every request that reaches the server is logged in
order, so a checker can replay what the server saw.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

SYNC_PATHS = ("/api/v1/sync/push", "/api/v1/sync/pull")


class Killed(BaseException):
    """The phone's app died here. A BaseException, so that nothing in the SDK can catch
    it as a network error and carry on as if it were alive."""


class Fault(StrEnum):
    OFFLINE = "offline"  # never leaves the phone
    SERVER_DOWN = "server_down"  # a proxy answers 503; the app never sees it
    LOSE = "lose"  # the server processes it; the answer is lost (read timeout)
    DUPLICATE = "duplicate"  # reaches the server twice (a retrying proxy)
    REPLAY_OLD = "replay_old"  # an older push reaches the server again, before this one
    KILL_BEFORE = "kill_before"  # the app dies before the request leaves
    KILL_AFTER = "kill_after"  # the app dies after the server processed it, before the answer


@dataclass
class FaultRates:
    """Chance of each fault per request to a sync endpoint."""

    lose: float = 0.0
    duplicate: float = 0.0
    replay_old: float = 0.0
    server_down: float = 0.0
    kill_before: float = 0.0
    kill_after: float = 0.0

    def draw(self, rng: random.Random) -> Fault | None:
        roll = rng.random()
        for fault, rate in (
            (Fault.LOSE, self.lose),
            (Fault.DUPLICATE, self.duplicate),
            (Fault.REPLAY_OLD, self.replay_old),
            (Fault.SERVER_DOWN, self.server_down),
            (Fault.KILL_BEFORE, self.kill_before),
            (Fault.KILL_AFTER, self.kill_after),
        ):
            if roll < rate:
                return fault
            roll -= rate
        return None


@dataclass
class Arrival:
    """A request as the server received it."""

    device: str
    method: str
    path: str
    body: bytes
    authorization: str | None
    at_ms: int
    status: int = 0  # the server's answer, whether or not the phone got to read it


@dataclass
class FaultyTransport(httpx.BaseTransport):
    inner: httpx.BaseTransport
    device: str = "phone"
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    rates: FaultRates = field(default_factory=FaultRates)
    # Paths random faults apply to. Auth is left alone on purpose: see the simulation's
    # note on refresh tokens.
    fault_paths: tuple[str, ...] = SYNC_PATHS
    offline: bool = False
    # The server's clock, in ms, stamped on each arrival.
    server_ms: Callable[[], int] = lambda: 0
    # Shared between the phones of one world: the order the server saw things in.
    arrivals: list[Arrival] = field(default_factory=list)
    planned: list[list[Any]] = field(default_factory=list)  # [path, fault, to skip]
    faults_seen: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _pushes: list[bytes] = field(default_factory=list)

    def plan(
        self, fault: Fault, path: str = "/api/v1/sync/push", *, times: int = 1, skip: int = 0
    ) -> None:
        """After `skip` more requests whose path contains `path`, the next `times` of them
        suffer `fault`. Plans apply in the order they were made."""
        self.planned += [[path, fault, skip] for _ in range(times)]

    def _choose(self, path: str) -> Fault | None:
        for index, planned in enumerate(self.planned):
            wanted, fault, skip = planned
            if wanted in path:
                if skip:
                    planned[2] -= 1
                    return None
                del self.planned[index]
                return fault  # type: ignore[no-any-return]
        if any(path.startswith(p) for p in self.fault_paths):
            return self.rates.draw(self.rng)
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        fault = Fault.OFFLINE if self.offline else self._choose(path)
        if fault is not None:
            self.faults_seen[fault.value] = self.faults_seen.get(fault.value, 0) + 1
        if fault is Fault.OFFLINE:
            raise httpx.ConnectError("no signal", request=request)
        if fault is Fault.KILL_BEFORE:
            raise Killed(f"{self.device} killed before {path}")
        if fault is Fault.SERVER_DOWN:
            return httpx.Response(503, headers={"retry-after": "1"}, request=request)
        body = request.read()
        if fault is Fault.REPLAY_OLD and path.endswith("/push") and self._pushes:
            old = self.rng.choice(self._pushes)
            self._forward(_with_body(request, old))
        response = self._forward(request)
        if path.endswith("/push"):
            self._pushes = [*self._pushes[-20:], body]
        if fault is Fault.DUPLICATE:
            response = self._forward(request)
        if fault is Fault.LOSE:
            raise httpx.ReadTimeout("the answer never came", request=request)
        if fault is Fault.KILL_AFTER:
            raise Killed(f"{self.device} killed after the server processed {path}")
        return response

    def _forward(self, request: httpx.Request) -> httpx.Response:
        arrival = Arrival(
            device=self.device,
            method=request.method,
            path=request.url.path,
            body=request.read(),
            authorization=request.headers.get("authorization"),
            at_ms=self.server_ms(),
        )
        self.arrivals.append(arrival)
        response = self.inner.handle_request(request)
        response.read()
        arrival.status = response.status_code
        return response


def _with_body(request: httpx.Request, body: bytes) -> httpx.Request:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
    return httpx.Request(
        request.method, request.url, headers=headers, content=body, extensions=request.extensions
    )
