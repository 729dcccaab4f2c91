"""The phone in these stories is the reference DeviceClient, talking HTTP to the real app
in-process (Litestar's test transport, behind a FaultyTransport the story can break)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport

from clients.device import DeviceClient, RetryPolicy
from server.clock import ManualClock
from server.settings import Settings
from tests.sim.faults import FaultyTransport
from tests.sim.world import Api
from tests.support.api import a_warning
from tests.support.city import PASSWORD

BASE = "http://beatsync.test"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    # No background maintenance: the stories sweep and compact when they say so.
    return Settings(
        env="test",
        database_path=str(db_path),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        maintenance_interval_seconds=0,
    )


@pytest.fixture
def server(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=BASE, timeout=10) as client:
        yield client


@pytest.fixture
def api(server: TestClient[Litestar]) -> Api:
    return Api(server)


class Handset:
    """A phone: its database file, its network, and the app that may be killed on it."""

    def __init__(
        self,
        server: TestClient[Litestar],
        clock: ManualClock,
        root: Path,
        device_id: str,
        **options: Any,
    ) -> None:
        self.device_id = device_id
        self.db_path = root / f"{device_id}.db"
        self.clock = clock
        self.skew_s = float(options.pop("skew_s", 0.0))
        self.options = options
        self.net = FaultyTransport(
            inner=TestClientTransport(server),
            device=device_id,
            server_ms=lambda: int(clock.now().timestamp() * 1000),
        )
        self.sleeps: list[float] = []
        self.app = self.start()

    def start(self) -> DeviceClient:
        self.app = DeviceClient(
            BASE,
            self.db_path,
            self.device_id,
            transport=self.net,
            now=lambda: self.clock.now().timestamp() + self.skew_s,
            sleep=self.sleeps.append,
            rng=random.Random(7),
            **{"retry": RetryPolicy(attempts=4), **self.options},
        )
        return self.app

    def kill_and_restart(self) -> DeviceClient:
        """The process died: the connection goes without a commit; a new app opens the
        same file."""
        self.app.http.close()
        self.app.local.db.conn.close()
        return self.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already closed by a kill
            self.app.close()


@pytest.fixture
def handset(server: TestClient[Litestar], clock: ManualClock, tmp_path: Path) -> Iterator[Any]:
    made: list[Handset] = []

    def make(login: str = "o1", device_id: str | None = None, **options: Any) -> Handset:
        phone = Handset(server, clock, tmp_path, device_id or f"{login}-phone", **options)
        phone.app.login(login, PASSWORD)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.close()


def deliver(api: Api, *grids: str, **extra: Any) -> list[int]:
    """The platform sends one warning per grid; their ids."""
    out = api.call(
        "platform",
        "POST",
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning(g, **extra) for g in grids]},
    ).json()
    return [r["warning_id"] for r in out["results"]]
