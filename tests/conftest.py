"""Fixtures: a real SQLite file in a temp dir, a manual clock, the real app over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.logs import configure_logging
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from tests.support import backend
from tests.support.city import TinyCity, build_tiny_city

configure_logging(json=True, level="info")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "beatsync.db"


@pytest.fixture
def database(db_path: Path) -> Iterator[str]:
    """Where the test's store lives: the SQLite file, or its own PostgreSQL database."""
    yield backend.location_for(db_path.parent, db_path.name)
    backend.drop_for(db_path.parent)


@pytest.fixture
def store(database: str, clock: ManualClock) -> Iterator[Store]:
    the_store = open_store(database, clock)
    yield the_store
    the_store.close()


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    # Real Argon2id, with the cost turned down so the suite stays quick.
    return Passwords(time_cost=1, memory_kib=1024)


@pytest.fixture
def settings(database: str, db_path: Path) -> Settings:
    return Settings(
        env="test",
        database_path=database,
        # Beside the SQLite file, as by default; named, since a URL has nothing beside it.
        photo_dir=str(db_path.parent / "beatsync-photos"),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


@pytest.fixture
def city(store: Store, passwords: Passwords) -> TinyCity:
    return build_tiny_city(store, passwords)


@pytest.fixture
def app(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, city: TinyCity
) -> Litestar:
    return create_app(settings, store=store, clock=clock, passwords=passwords)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://beatsync.test", timeout=10
    ) as c:
        yield c
