"""far_from_address measures in WGS-84, as phones report: a grid centroid read off Amap or
Tencent (GCJ-02) or Baidu (BD-09) is converted first, or a visit at the very door would
be flagged hundreds of metres away."""

from __future__ import annotations

from pathlib import Path

import httpx
import prcoords
import pytest

from server.settings import Settings
from tests.support.api import a_warning, as_platform, as_user
from tests.support.sync import push, visit

pytestmark = pytest.mark.anyio
QUEUE = "/api/v1/review"
GRID = "411602001001"
# Where the community really is, in WGS-84, and where the officer's phone stood: 4.4 m
# north of it, at the door.
TRUE_CENTRE = (33.62, 114.65)
AT_THE_DOOR = {"lat": 33.62004, "lon": 114.65, "accuracy_m": 8.0}


@pytest.fixture
def settings(db_path: Path) -> Settings:
    # A village's doors lie within a few hundred metres of its centre; 200 m makes the
    # GCJ-02 shift (about 530 m here) and BD-09 shift (about 1.2 km) show.
    return Settings(
        env="test",
        database_path=str(db_path),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        review_distance_m=200,
    )


async def set_centre(client: httpx.AsyncClient, lat: float, lon: float, word: str) -> None:
    sheet = (
        "网格编码,网格名称,类型,所属派出所编码,责任民警警号,纬度,经度,坐标系\n"
        f"{GRID},七一路社区,社区,411602-01,o1,{lat:.6f},{lon:.6f},{word}\n"
    )
    response = await client.post(
        "/api/v1/admin/imports/grids",
        content=sheet.encode(),
        headers={**await as_user(client, "admin"), "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text


async def deliver(client: httpx.AsyncClient) -> int:
    body = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning(GRID)]},
            headers=await as_platform(client),
        )
    ).json()
    return int(body["results"][0]["warning_id"])


@pytest.mark.parametrize(
    ("word", "shown_on_the_map", "shift_m"),
    [
        ("GCJ-02", prcoords.wgs_gcj, (500, 560)),
        ("高德", prcoords.wgs_gcj, (500, 560)),
        ("BD-09", prcoords.wgs_bd, (1_150, 1_250)),
        ("百度", prcoords.wgs_bd, (1_150, 1_250)),
    ],
)
async def test_a_visit_at_the_door_is_near_a_centre_given_in_a_chinese_datum(
    client: httpx.AsyncClient,
    city: object,
    word: str,
    shown_on_the_map: object,
    shift_m: tuple[int, int],
) -> None:
    shown = shown_on_the_map(TRUE_CENTRE)  # type: ignore[operator]
    await set_centre(client, shown.lat, shown.lon, word)
    o1 = await as_user(client, "o1", "phone-o1")
    with_photo, without_photo = await deliver(client), await deliver(client)
    await push(client, o1, visit(with_photo, photos=["a" * 64], position=AT_THE_DOOR))
    await push(client, o1, visit(without_photo, position=AT_THE_DOOR))
    sup1 = await as_user(client, "sup1")

    [item] = (await client.get(QUEUE, headers=sup1)).json()["items"]
    assert item["task_id"] == without_photo
    assert item["reasons"] == ["no_photo"]  # not far_from_address
    assert item["distance_m"] < 10  # 4.4 m, give or take the conversion

    # The very same numbers declared as WGS-84: the centre now sits where the map shows
    # it, and both visits are flagged.
    await set_centre(client, shown.lat, shown.lon, "WGS-84")
    items = (await client.get(QUEUE, headers=sup1)).json()["items"]
    assert {i["task_id"]: i["reasons"] for i in items} == {
        with_photo: ["far_from_address"],
        without_photo: ["no_photo", "far_from_address"],
    }
    low, high = shift_m
    assert all(low < i["distance_m"] < high for i in items)
