"""Closed work leaves the phones after the retention period, with its residents' data."""

from __future__ import annotations

import pytest

from server import maintenance
from server.settings import Settings
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user
from tests.support.sync import pull_all, push, visit

pytestmark = pytest.mark.anyio


async def test_a_closed_warning_stays_for_the_retention_period_then_is_removed(
    client, city, store: Store, clock, settings: Settings
) -> None:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            headers=await as_platform(client),
            json={"warnings": [a_warning("411602001001")]},
        )
    ).json()
    warning = out["results"][0]["warning_id"]
    o1 = await as_user(client, "o1")
    _, cursor, _ = await pull_all(client, o1)
    await push(client, o1, visit(warning))
    changes, cursor, _ = await pull_all(client, o1, cursor)
    assert changes[0]["task"]["state"] == "completed"  # still there: the officer sees it end

    clock.advance(hours=settings.scope_retention_hours - 1)
    assert maintenance.run_once(store, settings) == (0, 0)
    clock.advance(hours=2)
    swept, _ = maintenance.run_once(store, settings)
    assert swept == 1
    o1 = await as_user(client, "o1")
    changes, _, digest = await pull_all(client, o1, cursor)
    assert [(c["type"], c["reason"]) for c in changes] == [("remove", "retention")]
    assert digest == "0" * 16
    # The record itself stays on the server, of course.
    assert len(store.visit_logs_for("warning", warning)) == 1
    assert store.get_warning(warning) is not None
