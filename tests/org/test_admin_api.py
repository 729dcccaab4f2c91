"""An administrator loads a city's sheets and manages people; supervisors see their own."""

from __future__ import annotations

import codecs
from typing import Any

import httpx
import pytest

from server.auth.passwords import Passwords
from server.store.interface import Store
from server.store.records import Actor, Jurisdiction, Level, Unit
from tests.support.api import a_warning, as_platform, as_user, assert_problem, bearer, login
from tests.support.city import PASSWORD, TinyCity

pytestmark = pytest.mark.anyio

IMPORTS = "/api/v1/admin/imports"
INITIAL = "Chushi-2024"

# A new county of the tiny city, as its staff would save it: Excel's "CSV UTF-8" (BOM),
# WPS on Chinese Windows (GBK), and plain UTF-8.
UNITS_CSV = (
    codecs.BOM_UTF8
    + (
        "单位编码,单位名称,级别,上级单位编码\r\n"
        "411622,西华县公安局,县,411600\r\n"
        "411622-01,城关派出所,派出所,411622\r\n"
        "411622-02,红花派出所,派出所,411622\r\n"
    ).encode()
)

USERS_ROWS = [
    "警号,姓名,角色,所属单位编码,状态,初始密码",
    f"xh-boss,西华县局负责人,县局负责人,411622,在岗,{INITIAL}",
    f"xh-sup,城关所长,所长,411622-01,在岗,{INITIAL}",
    f"xh-o1,孙警官,民警,411622-01,,{INITIAL}",
    "xh-o2,周警官,辅警,411622-02,在岗,",
]
USERS_CSV = "\r\n".join(USERS_ROWS).encode("gbk")

GRIDS_CSV = (
    "网格编码,网格名称,类型,所属派出所编码,责任民警警号\n"
    "411622001001,东关社区,社区,411622-01,xh-o1\n"
    "411622002001,红花村,村,411622-02,xh-o2\n"
    "411622002002,李庄村,行政村,411622-02,\n"
).encode()


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kind: str,
    data: bytes,
    *,
    dry_run: bool = False,
    content_type: str = "text/csv",
) -> httpx.Response:
    return await client.post(
        f"{IMPORTS}/{kind}",
        content=data,
        params={"dry_run": "true"} if dry_run else {},
        headers={**headers, "content-type": content_type},
    )


async def imported(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, data: bytes, **kw: Any
) -> dict[str, Any]:
    response = await upload(client, headers, kind, data, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def load_new_county(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await imported(client, admin, "units", UNITS_CSV)
    await imported(client, admin, "users", USERS_CSV)
    await imported(client, admin, "grids", GRIDS_CSV)


def users_csv(*rows: str) -> bytes:
    return "\n".join(["login,name,role,unit_code,active,password", *rows]).encode()


# -- imports ------------------------------------------------------------------------------


async def test_admin_loads_a_county_from_its_sheets_and_warnings_reach_its_officers(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")

    units = await imported(client, admin, "units", UNITS_CSV)
    assert units == {
        "kind": "units",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "dry_run": False,
        "without_password": 0,
    }
    station = store.get_unit("411622-02")
    assert station is not None
    assert (station.level, station.city_id, station.county_id) == (
        Level.STATION,
        "411600",
        "411622",
    )

    users = await imported(client, admin, "users", USERS_CSV, content_type="text/plain")
    assert (users["rows"], users["created"], users["updated"]) == (4, 4, 0)
    assert users["without_password"] == 1
    o1 = store.get_user_by_login("xh-o1")
    assert o1 is not None
    assert (o1.role, o1.station_id, o1.county_id, o1.active) == (
        "officer",
        "411622-01",
        "411622",
        True,
    )

    grids = await imported(client, admin, "grids", GRIDS_CSV, content_type="application/json")
    assert (grids["rows"], grids["created"]) == (3, 3)
    grid = store.get_grid("411622001001")
    assert grid is not None
    assert grid.officer_id == o1.id

    # The officer chooses a password of their own with the sheet's initial one (which
    # logs nobody in), and the platform's next warning for the village lands on their phone.
    await choose_own(client, "xh-o1", INITIAL, "Xh-own-pass-1")
    officer = bearer(await login(client, "xh-o1", password="Xh-own-pass-1"))
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning("411622001001")]},
            headers=await as_platform(client),
        )
    ).json()
    assert out["results"][0]["officer_id"] == o1.id
    mine = (await client.get("/api/v1/warnings", headers=officer)).json()
    assert [w["grid_code"] for w in mine["items"]] == ["411622001001"]


async def choose_own(client: httpx.AsyncClient, who: str, given: str, own: str) -> None:
    """Log in with a password an administrator gave, as its owner must: refused, then the
    owner's own chosen with it, then logged in with that."""
    refused = await client.post(
        "/api/v1/auth/login", json={"login": who, "password": given, "device_id": "phone-1"}
    )
    assert_problem(refused, 403, "password_change_required")
    chosen = await client.post(
        "/api/v1/auth/password", json={"login": who, "password": given, "new_password": own}
    )
    assert chosen.status_code == 204, chosen.text
    await login(client, who, password=own)


async def test_a_user_without_a_password_cannot_log_in_until_the_admin_sets_one(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    await load_new_county(client, admin)
    o2 = store.get_user_by_login("xh-o2")
    assert o2 is not None
    for password in ("anything-1", INITIAL):
        response = await client.post(
            "/api/v1/auth/login",
            json={"login": "xh-o2", "password": password, "device_id": "phone-1"},
        )
        assert_problem(response, 401, "invalid_credentials")
    seen = (await client.get(f"/api/v1/users/{o2.id}", headers=admin)).json()
    assert seen["has_password"] is False

    response = await client.patch(
        f"/api/v1/users/{o2.id}", json={"password": "Zhou-1234"}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["has_password"] is True
    await choose_own(client, "xh-o2", "Zhou-1234", "Zhou-own-5678")


async def test_a_file_with_three_bad_rows_names_them_all_and_changes_nothing(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    before = store.list_users()
    sheet = users_csv(
        "new-1,钱警官,巡警,411602-01,,",  # line 2: no such role
        "new-2,孙警官,officer,411602-01,,",  # line 3: fine
        "new-3,吴警官,officer,411699-01,,",  # line 4: no such unit
        f"new-4,郑警官,officer,411602,,{INITIAL}",  # line 5: a county is not a station
    )
    body = assert_problem(await upload(client, admin, "users", sheet), 422, "import_rejected")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (2, "role"),
        (4, "unit_code"),
        (5, "unit_code"),
    ]
    assert "nothing was imported" in body["detail"]
    assert store.list_users() == before
    assert store.get_user_by_login("new-2") is None


async def test_reimporting_a_corrected_sheet_updates_in_place(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    await load_new_county(client, admin)
    first = store.get_user_by_login("xh-o2")
    corrected = "\r\n".join([*USERS_ROWS[:-1], "xh-o2,周建国,辅警,411622-02,在岗,"]).encode("gbk")

    report = await imported(client, admin, "users", corrected)

    assert (report["created"], report["updated"], report["rows"]) == (0, 1, 4)
    after = store.get_user_by_login("xh-o2")
    assert first is not None
    assert after is not None
    assert (after.id, after.name) == (first.id, "周建国")
    units = await imported(client, admin, "units", UNITS_CSV)
    assert (units["created"], units["updated"]) == (0, 0)


async def test_the_sheet_password_never_overwrites_one_the_user_has(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    await load_new_county(client, admin)
    o1 = store.get_user_by_login("xh-o1")
    assert o1 is not None
    await client.patch(f"/api/v1/users/{o1.id}", json={"password": "Given-pass-1"}, headers=admin)
    await choose_own(client, "xh-o1", "Given-pass-1", "Own-pass-1")

    report = await imported(client, admin, "users", USERS_CSV)

    assert (report["created"], report["updated"]) == (0, 0)
    await login(client, "xh-o1", password="Own-pass-1")
    assert_problem(
        await client.post(
            "/api/v1/auth/login",
            json={"login": "xh-o1", "password": INITIAL, "device_id": "phone-2"},
        ),
        401,
        "invalid_credentials",
    )


async def test_a_sheet_without_a_status_column_does_not_bring_back_a_disabled_user(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    await client.patch(f"/api/v1/users/{city.id('o2')}", json={"active": False}, headers=admin)
    sheet = "警号,姓名,角色,所属单位编码\no2,李警官,民警,411602-01\nnew-5,钱警官,民警,411602-01\n"

    report = await imported(client, admin, "users", sheet.encode())

    assert (report["created"], report["updated"]) == (1, 0)
    o2 = store.get_user(city.id("o2"))
    new = store.get_user_by_login("new-5")
    assert o2 is not None
    assert new is not None
    assert (o2.active, new.active) == (False, True)


async def test_a_dry_run_checks_and_counts_but_writes_nothing(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    audit_before = store.list_audit(limit=1000)

    units = await imported(client, admin, "units", UNITS_CSV, dry_run=True)

    assert units == {
        "kind": "units",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "dry_run": True,
        "without_password": 0,
    }
    assert store.get_unit("411622") is None
    renamed = users_csv(
        "o1,张建军,officer,411602-01,,", f"new-6,钱警官,officer,411602-01,,{INITIAL}"
    )
    users = await imported(client, admin, "users", renamed, dry_run=True)
    assert (users["created"], users["updated"], users["without_password"]) == (1, 1, 0)
    o1 = store.get_user(city.id("o1"))
    assert o1 is not None
    assert o1.name == "张警官"
    assert store.get_user_by_login("new-6") is None
    assert store.list_audit(limit=1000) == audit_before
    # ...and the real run then reports what the dry run predicted.
    real = await imported(client, admin, "users", renamed)
    assert {**real, "dry_run": True} == users


async def test_a_dry_run_reports_the_same_faults(client: httpx.AsyncClient, city: TinyCity) -> None:
    admin = await as_user(client, "admin")
    body = assert_problem(
        await upload(client, admin, "units", b"code,name,level\n1,x,city\n", dry_run=True),
        422,
        "import_rejected",
    )
    assert body["errors"] == [
        {
            "field": "parent_code",
            "line": 1,
            "reason": "表头缺少“parent_code”列（也可写作“上级单位编码”）",
        }
    ]


async def test_a_sheet_headed_in_chinese_is_told_its_faults_by_its_own_headings(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    # The console shows line, column and reason in a Chinese table: `name: 'name' is
    # empty` told the administrator nothing about the column the sheet heads 单位名称.
    admin = await as_user(client, "admin")
    before = store.list_units()
    sheet = "单位编码,单位名称,级别,上级单位编码\n411603,,区,411600\n411604,淮阳分局,乡,411600\n"
    body = assert_problem(
        await upload(client, admin, "units", sheet.encode()), 422, "import_rejected"
    )
    assert body["errors"] == [
        {"field": "单位名称", "line": 2, "reason": "“单位名称”为空；此列必填"},
        {
            "field": "级别",
            "line": 3,
            "reason": "“乡”不是可用的值；可用：市、市局、city、县、区、县区、county、"
            "派出所、所、station",
        },
    ]
    assert store.list_units() == before


async def test_rows_outside_the_admins_city_are_refused(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    other = Unit(
        id="410100",
        name="郑州市公安局",
        level=Level.CITY,
        parent_id=None,
        city_id="410100",
        county_id=None,
        station_id=None,
    )
    county = Unit(
        id="410102",
        name="中原分局",
        level=Level.COUNTY,
        parent_id="410100",
        city_id="410100",
        county_id="410102",
        station_id=None,
    )
    store.upsert_units([other, county], Actor.system())
    admin = await as_user(client, "admin")
    units = (
        "code,name,level,parent_code\n"
        "410103,二七分局,county,410100\n"  # under another city
        "410102,中原分局,county,411600\n"  # another city's unit, moved into this one
        "420100,武汉市公安局,city,\n"  # another city altogether
    ).encode()
    body = assert_problem(await upload(client, admin, "units", units), 422, "import_rejected")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (2, "parent_code"),
        (3, "code"),
        (4, "code"),
    ]
    users = users_csv("zz-1,郑警官,county_supervisor,410102,,")
    body = assert_problem(await upload(client, admin, "users", users), 422, "import_rejected")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "unit_code")]
    assert store.get_unit("410102") == county
    assert store.get_unit("410103") is None


async def test_a_sheet_cannot_touch_the_platform_client_or_lock_the_admin_out(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    sheet = users_csv(
        "platform,预警平台,officer,411602-01,,",
        "admin,市局管理员,city_admin,411600,停用,",
    )
    body = assert_problem(await upload(client, admin, "users", sheet), 422, "import_rejected")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "login"), (3, "active")]
    platform = store.get_user_by_login("platform")
    assert platform is not None
    assert platform.role == "platform"


async def test_only_the_admin_imports_and_only_known_kinds(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    county = await as_user(client, "county1")
    assert_problem(await upload(client, county, "units", UNITS_CSV), 403, "forbidden")
    admin = await as_user(client, "admin")
    assert_problem(await upload(client, admin, "residents", UNITS_CSV), 400, "validation_failed")
    body = assert_problem(
        await upload(client, admin, "units", b"PK\x03\x04rest-of-a-workbook"),
        422,
        "import_rejected",
    )
    assert body["errors"][0]["field"] == "file"
    assert "xlsx" in body["errors"][0]["reason"]


# -- reading the organisation -------------------------------------------------------------


async def test_each_person_sees_the_units_of_their_own_jurisdiction(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    async def unit_ids(who: str) -> list[str]:
        response = await client.get("/api/v1/units", headers=await as_user(client, who))
        assert response.status_code == 200, response.text
        return [u["id"] for u in response.json()]

    assert await unit_ids("o1") == ["411602-01"]
    assert await unit_ids("sup2") == ["411602-02"]
    assert await unit_ids("county1") == ["411602", "411602-01", "411602-02"]
    assert len(await unit_ids("admin")) == 6


async def test_a_station_supervisor_lists_only_their_stations_people(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    response = await client.get("/api/v1/users", headers=sup1)
    assert response.status_code == 200, response.text
    people = response.json()
    assert sorted(u["login"] for u in people) == ["o1", "o2", "sup1"]
    assert {u["station_id"] for u in people} == {"411602-01"}
    assert all("password_hash" not in u and "demo_password" not in u for u in people)
    officers = (await client.get("/api/v1/users?role=officer", headers=sup1)).json()
    assert sorted(u["login"] for u in officers) == ["o1", "o2"]


async def test_filters_on_users_and_grids(client: httpx.AsyncClient, city: TinyCity) -> None:
    admin = await as_user(client, "admin")
    await client.patch(f"/api/v1/users/{city.id('o2')}", json={"active": False}, headers=admin)
    county1 = await as_user(client, "county1")
    inactive = (await client.get("/api/v1/users?active=false", headers=county1)).json()
    assert [u["login"] for u in inactive] == ["o2"]
    grids = (await client.get("/api/v1/grids", headers=county1)).json()
    assert len(grids) == 4
    station = (await client.get("/api/v1/grids?station_id=411602-02", headers=county1)).json()
    assert station == [
        {
            "code": "411602002001",
            "name": "西关村",
            "kind": "village",
            "station_id": "411602-02",
            "county_id": "411602",
            "city_id": "411600",
            "officer_id": city.id("o3"),
            "lat": None,
            "lon": None,
            "datum": "wgs84",
        }
    ]
    elsewhere = await client.get("/api/v1/grids?station_id=411621-01", headers=county1)
    assert elsewhere.json() == []


async def test_another_countys_person_is_not_found(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    county2 = await as_user(client, "county2")
    assert_problem(
        await client.get(f"/api/v1/users/{city.id('o1')}", headers=county2), 404, "not_found"
    )
    assert_problem(await client.get("/api/v1/users/999999", headers=county2), 404, "not_found")
    own = await client.get(f"/api/v1/users/{city.id('o4')}", headers=county2)
    assert own.status_code == 200, own.text
    assert own.json()["login"] == "o4"


async def test_officers_may_not_list_people_or_grids(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    officer = await as_user(client, "o1")
    assert_problem(await client.get("/api/v1/users", headers=officer), 403, "forbidden")
    assert_problem(await client.get("/api/v1/grids", headers=officer), 403, "forbidden")
    assert_problem(
        await client.get(f"/api/v1/users/{city.id('o1')}", headers=officer), 403, "forbidden"
    )


# -- changing people ----------------------------------------------------------------------


async def test_admin_moves_one_officer_and_disables_another(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(client, "o1")
    o2_phone = await as_user(client, "o2", device="o2-phone")
    o2_tablet = await as_user(client, "o2", device="o2-tablet")
    admin = await as_user(client, "admin")

    moved = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json={"unit_id": "411602-02"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["station_id"], moved.json()["unit_id"]) == ("411602-02", "411602-02")
    # The move takes effect on o1's very next request, with the same token.
    assert [u["id"] for u in (await client.get("/api/v1/units", headers=o1)).json()] == [
        "411602-02"
    ]
    sup2 = await as_user(client, "sup2")
    assert "o1" in [u["login"] for u in (await client.get("/api/v1/users", headers=sup2)).json()]

    disabled = await client.patch(
        f"/api/v1/users/{city.id('o2')}", json={"active": False}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    for device in (o2_phone, o2_tablet):
        body = assert_problem(
            await client.get("/api/v1/units", headers=device), 401, "user_disabled"
        )
        assert body["action"] == "wipe"


async def test_an_admin_cannot_lock_themself_out(client: httpx.AsyncClient, city: TinyCity) -> None:
    admin = await as_user(client, "admin")
    me = f"/api/v1/users/{city.id('admin')}"
    assert_problem(
        await client.patch(me, json={"active": False}, headers=admin),
        409,
        "invalid_transition",
        field="active",
    )
    assert_problem(
        await client.patch(
            me, json={"role": "county_supervisor", "unit_id": "411602"}, headers=admin
        ),
        409,
        "invalid_transition",
        field="role",
    )
    assert (await client.get("/api/v1/units", headers=admin)).status_code == 200


async def test_role_and_unit_level_must_agree(client: httpx.AsyncClient, city: TinyCity) -> None:
    admin = await as_user(client, "admin")
    assert_problem(
        await client.patch(
            f"/api/v1/users/{city.id('o1')}", json={"role": "county_supervisor"}, headers=admin
        ),
        400,
        "validation_failed",
        field="role",
    )
    promoted = await client.patch(
        f"/api/v1/users/{city.id('o1')}",
        json={"role": "county_supervisor", "unit_id": "411621"},
        headers=admin,
    )
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["county_id"], promoted.json()["station_id"]) == ("411621", None)
    assert_problem(
        await client.patch(
            f"/api/v1/users/{city.id('platform')}", json={"role": "officer"}, headers=admin
        ),
        409,
        "invalid_transition",
        field="role",
    )


async def test_admin_creates_a_user_who_can_then_log_in(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    admin = await as_user(client, "admin")
    body = {
        "login": "o9",
        "name": "冯警官",
        "role": "officer",
        "unit_id": "411621-01",
        "password": "Feng-pass-9",
    }
    response = await client.post("/api/v1/users", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["station_id"], created["county_id"], created["has_password"]) == (
        "411621-01",
        "411621",
        True,
    )
    assert "password_hash" not in created
    # The administrator's password is an initial one: it lets 冯警官 choose his own.
    await choose_own(client, "o9", "Feng-pass-9", "Feng-own-pass")
    entries = store.list_audit(entity="user", entity_id=str(created["id"]))
    assert [(e.action, e.actor_user_id) for e in entries] == [
        ("user.create", city.id("admin")),
        ("user.password", created["id"]),  # chosen by 冯警官 himself
    ]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"unit_id": "411602"}, 400, "validation_failed", "unit_id"),
        ({"role": "city_admin"}, 400, "validation_failed", "unit_id"),
        ({"role": "platform", "unit_id": "411600"}, 400, "validation_failed", "role"),
        ({"unit_id": "411699-01"}, 422, "unknown_reference", "unit_id"),
        ({"login": "o1"}, 409, "already_exists", "login"),
        ({"login": "张三"}, 400, "validation_failed", "login"),
        ({"password": "short"}, 400, "validation_failed", "password"),
        ({"name": "   "}, 400, "validation_failed", "name"),
        ({"badge": "x"}, 400, "validation_failed", None),
    ],
)
async def test_create_user_refusals(
    client: httpx.AsyncClient,
    city: TinyCity,
    change: dict[str, str],
    status: int,
    code: str,
    field: str | None,
) -> None:
    admin = await as_user(client, "admin")
    body = {
        "login": "o9",
        "name": "冯警官",
        "role": "officer",
        "unit_id": "411621-01",
        "password": "Feng-pass-9",
        **change,
    }
    assert_problem(
        await client.post("/api/v1/users", json=body, headers=admin), status, code, field=field
    )


async def test_only_the_admin_changes_people(client: httpx.AsyncClient, city: TinyCity) -> None:
    sup1 = await as_user(client, "sup1")
    assert_problem(
        await client.patch(f"/api/v1/users/{city.id('o1')}", json={"name": "x"}, headers=sup1),
        403,
        "forbidden",
    )
    body = {
        "login": "o9",
        "name": "x",
        "role": "officer",
        "unit_id": "411602-01",
        "password": PASSWORD,
    }
    assert_problem(await client.post("/api/v1/users", json=body, headers=sup1), 403, "forbidden")


# -- the store underneath -----------------------------------------------------------------


def test_an_officers_units_are_their_station(store: Store, city: TinyCity) -> None:
    scope = Jurisdiction(column="officer_id", value=city.id("o3"))
    assert [u.id for u in store.list_units(scope)] == ["411602-02"]


def test_disabling_by_upsert_ends_sessions_too(
    store: Store, city: TinyCity, passwords: Passwords
) -> None:
    o1 = store.get_user(city.id("o1"))
    assert o1 is not None
    session, _ = store.open_session(o1.id, "p-1", "phone", "h" * 64, store.clock.now())
    store.upsert_users([{"login": "o1", "active": False}], Actor.system())
    state = store.auth_state(session)
    assert state is not None
    assert state.session_revoked
