"""The ranking (the completion report with by_officer=false) reads the store's fast path,
which packs each warning into one integer; where a warning does not fit that (a sub-unit
the units table does not list, an amount past what the integer holds, a first contact
julianday() cannot read) its figures are still the full report's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import as_user
from tests.support.day import run_day

pytestmark = pytest.mark.anyio
REPORT = "/api/v1/reports/completion"
DAYS = {"date_from": "2026-11-24", "date_to": "2026-11-25"}


async def both(client: Any, login: str) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = await as_user(client, login)
    full = await client.get(REPORT, headers=headers, params=DAYS)
    ranking = await client.get(REPORT, headers=headers, params={**DAYS, "by_officer": "false"})
    assert full.status_code == ranking.status_code == 200, (full.text, ranking.text)
    return full.json(), ranking.json()


def assert_same(full: dict[str, Any], ranking: dict[str, Any]) -> None:
    assert ranking["by_officer"] == []
    assert {**ranking, "by_officer": None} == {**full, "by_officer": None}


async def test_warnings_the_packed_key_cannot_hold_count_the_same(
    client, store, clock, city
) -> None:
    day = await run_day(client, store, clock, city)
    with store.transaction() as conn:
        # W5 (411602-02) filed under a county the units table does not list.
        conn.execute("UPDATE warnings SET county_id = '411699' WHERE id = ?", (day.warnings["W5"],))
        # First contacts unreadable (W3 alone at its risk level, W2 beside W1): visited,
        # but no minutes, neither on time nor late.
        conn.executemany(
            "UPDATE warnings SET first_contact_at = 'soon' WHERE id = ?",
            [(day.warnings["W3"],), (day.warnings["W2"],)],
        )
    full, ranking = await both(client, "admin")
    assert_same(full, ranking)
    by_unit = {r["key"]: r["warnings"] for r in ranking["by_unit"]}
    assert set(by_unit) == {"411602", "411621", "411699"}
    assert (by_unit["411699"]["received"], by_unit["411699"]["amount_prevented"]) == (1, 5000)
    chuanhui = by_unit["411602"]
    assert (chuanhui["visited"], chuanhui["on_time"], chuanhui["late"]) == (3, 1, 0)
    assert_same(*(await both(client, "county1")))

    with store.transaction() as conn:
        # Past what the packed integer holds: the report reads it the slow way.
        conn.execute(
            "UPDATE warnings SET outcome_amount = ? WHERE id = ?",
            (10**12, day.warnings["W1"]),
        )
    full, ranking = await both(client, "admin")
    assert_same(full, ranking)
    assert ranking["total"]["warnings"]["amount_prevented"] == 10**12 + 5000
