"""A grids sheet says which map its centroids were read off (坐标系): WGS-84 as phones
report, GCJ-02 from Amap or Tencent, BD-09 from Baidu; beatsync keeps them as given and
converts to WGS-84 only to measure."""

from __future__ import annotations

import httpx
import prcoords
import pytest

from server.errors import FieldError, InputError
from server.geo import to_wgs84
from server.org.csv_import import parse_grids
from server.store.interface import Store
from server.store.records import Datum, Grid, GridKind, Level, Unit, User
from tests.support.api import as_user, assert_problem
from tests.support.city import TinyCity

IMPORTS = "/api/v1/admin/imports"
STATION = Unit(
    id="411602-01",
    name="城区派出所",
    level=Level.STATION,
    parent_id="411602",
    city_id="411600",
    county_id="411602",
    station_id="411602-01",
)
HEADER = "网格编码,网格名称,类型,所属派出所编码,纬度,经度,坐标系\n"
# Tiananmen, as published: WGS-84 and what Amap shows for the same spot (GCJ-02).
TIANANMEN_WGS84 = (39.90872, 116.39748)
TIANANMEN_GCJ02 = (39.91012, 116.40372)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(prcoords.Coords(*a).distance(prcoords.Coords(*b)))


def no_user(login: str) -> User | None:
    return None


def parsed(rows: str) -> list[Grid]:
    return parse_grids(
        (HEADER + rows).encode(), lambda c: STATION if c == STATION.id else None, no_user
    )


def only_error(rows: str) -> FieldError:
    with pytest.raises(InputError) as caught:
        parsed(rows)
    [error] = caught.value.errors
    return error


# -- the conversion --------------------------------------------------------------------


def test_the_published_tiananmen_pair_converts_within_a_metre() -> None:
    assert metres(to_wgs84(*TIANANMEN_GCJ02, Datum.GCJ02), TIANANMEN_WGS84) < 1.0
    # The two are some 530 m apart, which is what the datum is for.
    assert 500 < metres(TIANANMEN_GCJ02, TIANANMEN_WGS84) < 600


@pytest.mark.parametrize(
    ("datum", "forward"),
    [(Datum.GCJ02, prcoords.wgs_gcj), (Datum.BD09, prcoords.wgs_bd)],
)
@pytest.mark.parametrize("spot", [(33.62, 114.65), (22.54, 114.06), (45.75, 126.65)])
def test_round_trips_come_back_within_a_decimetre(
    datum: Datum, forward: object, spot: tuple[float, float]
) -> None:
    shown = forward(spot)  # type: ignore[operator]
    assert metres(spot, shown) > 300  # the maps really are off
    assert metres(to_wgs84(shown.lat, shown.lon, datum), spot) < 0.1


def test_wgs84_and_places_outside_china_are_left_as_they_are() -> None:
    assert to_wgs84(33.62, 114.65, "wgs84") == (33.62, 114.65)
    assert to_wgs84(48.8584, 2.2945, Datum.GCJ02) == (48.8584, 2.2945)


# -- the sheet -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "datum"),
    [
        ("", Datum.WGS84),
        ("WGS-84", Datum.WGS84),
        ("WGS84", Datum.WGS84),
        ("wgs84", Datum.WGS84),
        ("GCJ-02", Datum.GCJ02),
        ("gcj02", Datum.GCJ02),
        ("火星坐标", Datum.GCJ02),
        ("高德", Datum.GCJ02),
        ("腾讯", Datum.GCJ02),
        ("BD-09", Datum.BD09),
        ("BD09", Datum.BD09),
        ("百度", Datum.BD09),
        ("ＧＣＪ－０２", Datum.GCJ02),  # typed with a Chinese IME in full width
    ],
)
def test_datum_words(word: str, datum: Datum) -> None:
    [grid] = parsed(f"411602001001,七一路社区,社区,411602-01,33.61835,114.65537,{word}\n")
    assert (grid.lat, grid.lon, grid.datum) == (33.61835, 114.65537, datum)


def test_a_sheet_without_the_columns_gives_no_position() -> None:
    data = "网格编码,网格名称,类型,所属派出所编码\n411602001001,七一路社区,社区,411602-01\n"
    [grid] = parse_grids(data.encode(), lambda c: STATION, no_user)
    assert (grid.lat, grid.lon, grid.datum) == (None, None, Datum.WGS84)


@pytest.mark.parametrize(
    ("cells", "field", "needle"),
    [
        ("33.6,114.6,Mercator", "坐标系", "“Mercator”不是可用的值；可用：wgs-84"),
        ("33.6,,高德", "经度", "填写了“纬度”，但“经度”为空"),
        (",114.6,", "纬度", "填写了“经度”，但“纬度”为空"),
        ("93.6,114.6,", "纬度", "-90 到 90"),
        ("33.6,東經114,", "经度", "十进制度数"),
        ("nan,114.6,", "纬度", "“nan”"),
    ],
)
def test_bad_position_cells_name_line_and_column(cells: str, field: str, needle: str) -> None:
    error = only_error(f"411602001001,七一路社区,社区,411602-01,{cells}\n")
    assert (error.line, error.field) == (2, field)
    assert needle in error.reason


# -- through the API -------------------------------------------------------------------


def sheet(*rows: str) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


@pytest.mark.anyio
async def test_a_bad_datum_rejects_the_whole_file(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    before = store.list_grids()
    response = await client.post(
        f"{IMPORTS}/grids",
        content=sheet(
            "411602001001,七一路社区,社区,411602-01,33.61835,114.65537,高德",
            "411602001002,八一路社区,社区,411602-01,33.63,114.66,北京54",
        ),
        headers={**admin, "content-type": "text/csv"},
    )
    body = assert_problem(response, 422, "import_rejected")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "坐标系")]
    assert "nothing was imported" in body["detail"]
    assert store.list_grids() == before
    assert store.get_grid("411602001001").lat is None  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_positions_are_kept_as_given_and_listed_with_their_datum(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    upload = {**admin, "content-type": "text/csv"}
    rows = (
        "411602001001,七一路社区,社区,411602-01,33.61835,114.65537,高德",
        "411602001002,八一路社区,社区,411602-01,33.624025,114.661988,BD-09",
    )
    first = await client.post(f"{IMPORTS}/grids", content=sheet(*rows), headers=upload)
    assert first.status_code == 200, first.text
    assert first.json()["updated"] == 2
    again = await client.post(f"{IMPORTS}/grids", content=sheet(*rows), headers=upload)
    assert again.json()["updated"] == 0  # the same positions again change nothing

    listed = (await client.get("/api/v1/grids", headers=admin)).json()
    by_code = {g["code"]: (g["lat"], g["lon"], g["datum"]) for g in listed}
    assert by_code["411602001001"] == (33.61835, 114.65537, "gcj02")
    assert by_code["411602001002"] == (33.624025, 114.661988, "bd09")
    assert by_code["411602001003"] == (None, None, "wgs84")

    # A later sheet without the position columns leaves the centroids alone.
    plain = "网格编码,网格名称,类型,所属派出所编码\n411602001001,七一路社区,社区,411602-01\n"
    for dry_run in ("true", "false"):
        kept = await client.post(
            f"{IMPORTS}/grids",
            content=plain.encode(),
            params={"dry_run": dry_run},
            headers=upload,
        )
        assert kept.json()["updated"] == 0, dry_run
    grid = store.get_grid("411602001001")
    assert grid is not None
    assert (grid.lat, grid.lon, grid.datum) == (33.61835, 114.65537, Datum.GCJ02)
    assert grid.kind is GridKind.COMMUNITY
    # Read off Amap for a community whose centre is (33.62, 114.65) in WGS-84.
    assert metres(to_wgs84(33.61835, 114.65537, grid.datum), (33.62, 114.65)) < 2
