"""The store implementations the contract suite (tests/store/test_contract*.py) runs against.

Every contract test takes `any_store` (or `tiny`, a tiny city in it) and so runs once per
implementation listed here: SQLite, and PostgreSQL where BEATSYNC_TEST_POSTGRES names a
server (tests/support/postgres.py; `.ci/run` starts one). Both pass every contract file
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.store.interface import Store
from server.store.opening import open_store
from tests.support import postgres
from tests.support.city import TinyCity, build_tiny_city
from tests.support.contract import Opener

IMPLEMENTATIONS: dict[str, Opener] = {
    "sqlite": lambda tmp, clock: open_store(str(tmp / "contract.db"), clock),
}
if postgres.SERVER:
    IMPLEMENTATIONS["postgres"] = postgres.open_postgres


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store_opener(request: pytest.FixtureRequest) -> Opener:
    return IMPLEMENTATIONS[request.param]


@pytest.fixture
def any_store(store_opener: Opener, tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    store = store_opener(tmp_path, clock)
    yield store
    store.close()
    if store_opener is IMPLEMENTATIONS.get("postgres"):
        postgres.drop_database_for(tmp_path)


@pytest.fixture
def tiny(any_store: Store, passwords: Passwords) -> TinyCity:
    return build_tiny_city(any_store, passwords)
