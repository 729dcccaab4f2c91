"""The platform delivers warnings; each lands with the right officer, or in a queue."""

from __future__ import annotations

import pytest

from tests.support.api import a_warning, as_platform
from tests.support.city import TinyCity

pytestmark = pytest.mark.anyio


async def test_a_batch_is_routed_to_each_residents_officer(client, city: TinyCity) -> None:
    platform = await as_platform(client)
    batch = [a_warning("411602001001"), a_warning("411602002001"), a_warning("411621001001")]
    response = await client.post(
        "/api/v1/platform/warnings", json={"warnings": batch}, headers=platform
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["created"], out["duplicates"], out["rejected"]) == (3, 0, 0)
    assert [r["officer_id"] for r in out["results"]] == [
        city.id("o1"),
        city.id("o3"),
        city.id("o4"),
    ]
    assert {r["state"] for r in out["results"]} == {"dispatched"}
    assert [r["station_id"] for r in out["results"]] == ["411602-01", "411602-02", "411621-01"]
