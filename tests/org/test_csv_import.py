"""Spreadsheet imports: encodings, headers, every validation rule, all-or-nothing."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from server.errors import ErrorCode, FieldError, InputError
from server.org import csv_import
from server.org.csv_import import decode_csv, parse_grids, parse_units, parse_users
from server.store.records import Grid, GridKind, Level, Role, Unit, User

CITY, COUNTY, STATION = "411600000000", "411602000000", "411602010000"
OTHER_STATION = "411602020000"

UNITS_ZH = (
    "单位编码,单位名称,级别,上级单位编码\n"
    f"{CITY},周口市公安局,市局,\n"
    f"{COUNTY},川汇分局,区,{CITY}\n"
    f"{STATION},陈州派出所,派出所,{COUNTY}\n"
)

EXPECTED_UNITS = [
    Unit(
        id=CITY,
        name="周口市公安局",
        level=Level.CITY,
        parent_id=None,
        city_id=CITY,
        county_id=None,
        station_id=None,
    ),
    Unit(
        id=COUNTY,
        name="川汇分局",
        level=Level.COUNTY,
        parent_id=CITY,
        city_id=CITY,
        county_id=COUNTY,
        station_id=None,
    ),
    Unit(
        id=STATION,
        name="陈州派出所",
        level=Level.STATION,
        parent_id=COUNTY,
        city_id=CITY,
        county_id=COUNTY,
        station_id=STATION,
    ),
]

STORE_UNITS = {
    **{u.id: u for u in EXPECTED_UNITS},
    OTHER_STATION: Unit(
        id=OTHER_STATION,
        name="人和派出所",
        level=Level.STATION,
        parent_id=COUNTY,
        city_id=CITY,
        county_id=COUNTY,
        station_id=OTHER_STATION,
    ),
}


def _user(user_id: int, login: str, role: Role, unit: str, *, active: bool = True) -> User:
    u = STORE_UNITS[unit]
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return User(
        id=user_id,
        login=login,
        name=f"user {login}",
        role=role,
        unit_id=u.id,
        city_id=u.city_id,
        county_id=u.county_id,
        station_id=u.station_id,
        active=active,
        password_hash="x",
        demo_password=False,
        created_at=now,
        updated_at=now,
    )


STORE_USERS = {
    u.login: u
    for u in [
        _user(1, "041001", Role.OFFICER, STATION),
        _user(2, "041002", Role.OFFICER, OTHER_STATION),
        _user(3, "041003", Role.STATION_SUPERVISOR, STATION),
        _user(4, "041004", Role.OFFICER, STATION, active=False),
    ]
}


def no_units(code: str) -> Unit | None:
    return None


def store_unit(code: str) -> Unit | None:
    return STORE_UNITS.get(code)


def store_user(login: str) -> User | None:
    return STORE_USERS.get(login)


def rejected(call: Callable[[], Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.code is ErrorCode.IMPORT_REJECTED
    assert caught.value.errors
    return caught.value


def only_error(call: Callable[[], Any]) -> FieldError:
    errors = rejected(call).errors
    assert errors is not None
    assert len(errors) == 1, errors
    return errors[0]


def units_error(text: str) -> FieldError:
    return only_error(lambda: parse_units(text.encode(), no_units))


UNIT_HEADER = "code,name,level,parent_code\n"

# -- decoding and reading ---------------------------------------------------------------


def test_units_in_chinese_utf8_with_bom() -> None:
    data = codecs.BOM_UTF8 + UNITS_ZH.encode("utf-8")
    assert parse_units(data, no_units) == EXPECTED_UNITS


def test_units_in_gbk_as_excel_on_chinese_windows_saves_them() -> None:
    data = UNITS_ZH.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert parse_units(data, no_units) == EXPECTED_UNITS


def test_english_headers_any_case_any_order_extra_columns_ignored() -> None:
    text = (
        "Parent_Code,NAME,remark,Level,Code\n"
        f",周口市公安局,seed,City,{CITY}\n"
        f"{CITY},川汇分局,,COUNTY,{COUNTY}\n"
        f"{COUNTY},陈州派出所,,station,{STATION}\n"
    )
    assert parse_units(text.encode(), no_units) == EXPECTED_UNITS


def test_parents_after_children_come_back_parents_first() -> None:
    lines = UNITS_ZH.splitlines()
    text = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    assert parse_units(text.encode(), no_units) == EXPECTED_UNITS


def test_reparsing_yields_identical_records() -> None:
    data = UNITS_ZH.encode("gbk")
    assert parse_units(data, no_units) == parse_units(data, no_units)


def test_cells_are_stripped_of_ascii_and_full_width_spaces() -> None:
    text = (
        "单位编码,单位名称,级别,上级单位编码\n"
        f"\u3000{CITY} ,\u3000周口市公安局\u3000, 市局 ,\n"
        f"{COUNTY},川汇分局,区,\u3000{CITY}\n"
        f"{STATION},陈州派出所,派出所,{COUNTY}\u3000\n"
    )
    assert parse_units(text.encode(), no_units) == EXPECTED_UNITS


def test_full_width_digits_in_codes_are_read_as_ascii() -> None:
    full_width = CITY.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    text = UNIT_HEADER + f"{full_width},周口市公安局,市,\n"
    assert parse_units(text.encode(), no_units)[0].id == CITY


def test_empty_rows_are_skipped_but_still_count_as_lines() -> None:
    text = UNIT_HEADER + f"\n,,,\n{CITY},周口市公安局,市,\n{COUNTY},,区,{CITY}\n"
    error = units_error(text)
    assert (error.field, error.line) == ("name", 5)


def test_a_line_break_inside_a_cell_does_not_shift_row_numbers() -> None:
    text = UNIT_HEADER + f'{CITY},"周口市\n公安局",市,\n{COUNTY},川汇分局,区县,{CITY}\n'
    error = units_error(text)
    assert (error.field, error.line) == ("level", 3)


def test_undecodable_bytes_are_rejected_as_a_file_error() -> None:
    error = only_error(lambda: decode_csv(b"code,name\n\x80\xff\xfe\n"))
    assert error.field == "file"
    assert error.line is None


def test_bom_then_invalid_utf8_is_rejected() -> None:
    error = only_error(lambda: decode_csv(codecs.BOM_UTF8 + "市".encode("gbk")))
    assert error.field == "file"
    assert "UTF-8" in error.reason


def test_an_xlsx_workbook_is_recognised() -> None:
    error = only_error(lambda: parse_units(b"PK\x03\x04rest-of-zip", no_units))
    assert error.field == "file"
    assert ".xlsx" in error.reason


def test_an_empty_file_is_rejected() -> None:
    error = only_error(lambda: parse_units(b"\n\n", no_units))
    assert error.field == "file"
    assert "空" in error.reason


def test_a_header_without_rows_is_rejected() -> None:
    error = only_error(lambda: parse_units((UNIT_HEADER + ",,,\n").encode(), no_units))
    assert error.field == "file"
    assert "没有数据行" in error.reason


def test_too_many_rows_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_import, "MAX_IMPORT_ROWS", 2)
    rows = "".join(f"41160000000{i},unit {i},市,\n" for i in range(3))
    error = only_error(lambda: parse_units((UNIT_HEADER + rows).encode(), no_units))
    assert error.field == "file"
    assert "超过 2 行" in error.reason


def test_exactly_max_rows_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_import, "MAX_IMPORT_ROWS", 3)
    rows = "".join(f"41160000000{i},unit {i},市,\n" for i in range(3))
    assert len(parse_units((UNIT_HEADER + rows).encode(), no_units)) == 3


# -- headers ---------------------------------------------------------------------------


def test_each_missing_required_column_is_one_error_on_line_1() -> None:
    err = rejected(lambda: parse_units(f"单位编码,单位名称\n{CITY},周口\n".encode(), no_units))
    assert err.errors is not None
    # Named as a sheet headed in Chinese would head them.
    assert [(e.field, e.line) for e in err.errors] == [("级别", 1), ("上级单位编码", 1)]
    assert err.errors[0].reason == "表头缺少“级别”列（也可写作 level）"
    assert err.detail == "the file was rejected; nothing was imported"


def test_a_column_given_twice_is_refused() -> None:
    error = units_error(f"code,单位编码,name,level,parent_code\n{CITY},{CITY},周口,市,\n")
    assert (error.field, error.line) == ("code", 1)
    assert "单位编码" in error.reason


# -- units -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field", "needle"),
    [
        (f"{CITY},,市,", "name", "name"),
        (",周口,市,", "code", "code"),
        (f"{CITY},周口,省,", "level", "“省”"),
        ("4116 0000,周口,市,", "code", "“4116 0000”"),
        (f"{COUNTY},川汇,区,", "parent_code", "县区"),
        (f"{CITY},周口,市,{COUNTY}", "parent_code", COUNTY),
        (f"{COUNTY},川汇,区,{COUNTY}", "parent_code", "自己的上级"),
        (f"{COUNTY},川汇,区,999", "parent_code", "“999”"),
        (f"{COUNTY},川汇,区,41/16", "parent_code", "“41/16”"),
    ],
)
def test_unit_row_errors(row: str, field: str, needle: str) -> None:
    error = units_error(UNIT_HEADER + row + "\n")
    assert (error.field, error.line) == (field, 2)
    assert needle in error.reason


def test_a_chinese_sheet_hears_of_its_faults_by_its_own_headings_in_chinese() -> None:
    text = "单位编码,单位名称,级别,上级单位编码\n" + f"{CITY},,市局,\n4116 0000,周口,市局,\n"
    err = rejected(lambda: parse_units(text.encode(), no_units))
    assert [(e.line, e.field, e.reason) for e in err.errors or []] == [
        (2, "单位名称", "“单位名称”为空；此列必填"),
        (3, "单位编码", "“4116 0000”不是有效的单位编码：应为1 到 32 位字母、数字、“.”、“_”或“-”"),
    ]


def test_level_words_list_what_is_allowed() -> None:
    error = units_error(UNIT_HEADER + f"{CITY},周口,省,\n")
    assert "派出所" in error.reason
    assert "county" in error.reason


def test_duplicate_unit_code_names_the_first_line() -> None:
    error = units_error(UNIT_HEADER + f"{CITY},周口,市,\n{CITY},周口市,市,\n")
    assert (error.field, error.line) == ("code", 3)
    assert CITY in error.reason
    assert "第 2 行" in error.reason


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        # a station directly under the city
        (f"{CITY},周口,市,\n{STATION},陈州所,所,{CITY}\n", "上级单位须是县区"),
        # a county under a station
        (f"{STATION},陈州所,所,{COUNTY}\n{COUNTY},川汇,区,{STATION}\n", "上级单位须是市局"),
    ],
)
def test_level_order_is_enforced(rows: str, needle: str) -> None:
    err = rejected(lambda: parse_units((UNIT_HEADER + rows).encode(), store_unit))
    assert err.errors is not None
    assert any(e.field == "parent_code" and needle in e.reason for e in err.errors)


def test_parent_in_the_store_supplies_the_ancestry() -> None:
    text = UNIT_HEADER + f"411602030000,李埠口派出所,派出所,{COUNTY}\n"
    [unit] = parse_units(text.encode(), store_unit)
    assert (unit.city_id, unit.county_id, unit.station_id) == (CITY, COUNTY, "411602030000")


def test_a_new_county_under_a_registered_city_passes_the_city_to_its_stations() -> None:
    text = UNIT_HEADER + f"411603010000,城关所,所,411603000000\n411603000000,淮阳区,区,{CITY}\n"
    units = parse_units(text.encode(), store_unit)
    assert [u.id for u in units] == ["411603000000", "411603010000"]
    assert (units[1].city_id, units[1].county_id) == (CITY, "411603000000")


def test_an_import_cannot_change_a_registered_units_level() -> None:
    error = only_error(
        lambda: parse_units((UNIT_HEADER + f"{COUNTY},川汇,市,\n").encode(), store_unit)
    )
    assert (error.field, error.line) == ("level", 2)
    assert COUNTY in error.reason


def test_an_import_cannot_move_a_registered_unit() -> None:
    text = UNIT_HEADER + f"{CITY},周口,市,\n{OTHER_STATION},人和所,所,411603000000\n"
    text += f"411603000000,淮阳区,区,{CITY}\n"
    error = only_error(lambda: parse_units(text.encode(), store_unit))
    assert (error.field, error.line) == ("parent_code", 3)
    assert COUNTY in error.reason


def test_updating_a_registered_unit_in_place_is_fine() -> None:
    text = UNIT_HEADER + f"{STATION},陈州派出所（新）,派出所,{COUNTY}\n"
    [unit] = parse_units(text.encode(), store_unit)
    assert unit.name == "陈州派出所（新）"


def test_all_errors_of_a_file_are_reported_together_sorted_by_line() -> None:
    text = UNIT_HEADER + (
        f"{STATION},陈州所,所,{CITY}\n"  # 2: wrong parent level
        f"{CITY},,市,\n"  # 3: no name
        f"{COUNTY},川汇,区,{CITY}\n"  # 4: fine
        f"{CITY},周口,市,\n"  # 5: duplicate of line 3
        "ABC!,x,乡,\n"  # 6: bad code and bad level
    )
    err = rejected(lambda: parse_units(text.encode(), no_units))
    assert err.errors is not None
    assert [(e.line, e.field) for e in err.errors] == [
        (2, "parent_code"),
        (3, "name"),
        (5, "code"),
        (6, "code"),
        (6, "level"),
    ]
    assert err.detail == "4 rows have errors; nothing was imported"


# -- grids -----------------------------------------------------------------------------

GRID_HEADER = "网格编码,网格名称,类型,所属派出所编码,责任民警警号\n"


def grids(rows: str) -> list[Grid]:
    return parse_grids((GRID_HEADER + rows).encode(), store_unit, store_user)


def grid_error(rows: str) -> FieldError:
    return only_error(lambda: grids(rows))


def test_grids_with_and_without_an_officer() -> None:
    result = grids(
        f"411602010001,东关村,行政村,{STATION},041001\n411602010002,七一社区,社区,{STATION},\n"
    )
    assert result == [
        Grid(
            code="411602010001",
            name="东关村",
            kind=GridKind.VILLAGE,
            station_id=STATION,
            county_id=COUNTY,
            city_id=CITY,
            officer_id=1,
        ),
        Grid(
            code="411602010002",
            name="七一社区",
            kind=GridKind.COMMUNITY,
            station_id=STATION,
            county_id=COUNTY,
            city_id=CITY,
            officer_id=None,
        ),
    ]


def test_grid_english_headers_without_officer_column() -> None:
    data = f"Code,Name,Kind,Station_Code\n411602010001,东关村,Village,{STATION}\n".encode()
    [grid] = parse_grids(data, store_unit, store_user)
    assert grid.kind is GridKind.VILLAGE
    assert grid.officer_id is None


@pytest.mark.parametrize(
    ("row", "field", "needle"),
    [
        (f"411602010001,东关村,行政村,{STATION},041002", "责任民警警号", OTHER_STATION),
        (f"411602010001,东关村,行政村,{STATION},041003", "责任民警警号", "“041003”"),
        (f"411602010001,东关村,行政村,{STATION},041004", "责任民警警号", "已停用"),
        (f"411602010001,东关村,行政村,{STATION},999999", "责任民警警号", "“999999”"),
        (f"411602010001,东关村,行政村,{COUNTY},", "所属派出所编码", COUNTY),
        ("411602010001,东关村,行政村,411699999999,", "所属派出所编码", "411699999999"),
        (f"41160201000,东关村,行政村,{STATION},", "网格编码", "“41160201000”"),
        (f"4116020100AB,东关村,行政村,{STATION},", "网格编码", "12 位数字"),
        (f"4.11602E+11,东关村,行政村,{STATION},", "网格编码", "文本格式"),
        (f"411602010001,东关村,乡,{STATION},", "类型", "“乡”"),
        (f"411602010001,,村,{STATION},", "网格名称", "网格名称"),
    ],
)
def test_grid_row_errors(row: str, field: str, needle: str) -> None:
    error = grid_error(row + "\n")
    assert (error.field, error.line) == (field, 2)
    assert needle in error.reason


def test_duplicate_grid_code_names_the_first_line() -> None:
    row = f"411602010001,东关村,村,{STATION},\n"
    error = grid_error(row + row)
    assert (error.field, error.line) == ("网格编码", 3)
    assert "第 2 行" in error.reason


# -- users -----------------------------------------------------------------------------

USER_HEADER = "警号,姓名,角色,所属单位编码,状态,初始密码\n"


def users(rows: str) -> list[dict[str, Any]]:
    return parse_users((USER_HEADER + rows).encode("gbk"), store_unit)


def user_error(rows: str) -> FieldError:
    return only_error(lambda: users(rows))


def test_users_carry_the_ancestry_of_their_unit() -> None:
    result = users(f"041010,张伟,民警,{STATION},,secret-pass\nzk.admin,李娜,管理员,{CITY},,\n")
    assert result[0] == {
        "login": "041010",
        "name": "张伟",
        "role": "officer",
        "unit_id": STATION,
        "city_id": CITY,
        "county_id": COUNTY,
        "station_id": STATION,
        "active": True,
        "password": "secret-pass",
    }


def test_password_key_only_when_the_file_gives_one() -> None:
    [user] = users(f"admin.zk,李娜,管理员,{CITY},,\n")
    assert "password" not in user
    assert user["role"] == "city_admin"
    assert (user["county_id"], user["station_id"]) == (None, None)


@pytest.mark.parametrize(
    ("word", "active"),
    [
        ("", True),
        ("在岗", True),
        ("启用", True),
        ("Active", True),
        ("1", True),
        ("TRUE", True),
        ("是", True),
        ("停用", False),
        ("离岗", False),
        ("disabled", False),
        ("0", False),
        ("false", False),
        ("否", False),
    ],
)
def test_active_words(word: str, active: bool) -> None:
    [user] = users(f"041010,张伟,辅警,{STATION},{word},\n")
    assert user["active"] is active


@pytest.mark.parametrize(
    ("row", "field", "needle"),
    [
        (f"041010,张伟,民警,{COUNTY},,", "所属单位编码", COUNTY),
        (f"041010,张伟,县局负责人,{STATION},,", "所属单位编码", STATION),
        (f"041010,张伟,管理员,{COUNTY},,", "所属单位编码", "市局"),
        (f"041010,张伟,platform,{CITY},,", "角色", "“platform”"),
        (f"041010,张伟,局长,{STATION},,", "角色", "“局长”"),
        ("041010,张伟,民警,411699999999,,", "所属单位编码", "411699999999"),
        (f"041010,张伟,民警,{STATION},休假,", "状态", "“休假”"),
        (f"张伟,张伟,民警,{STATION},,", "警号", "“张伟”"),
        (f"{'a' * 65},张伟,民警,{STATION},,", "警号", "64"),
        (f",张伟,民警,{STATION},,", "警号", "“警号”为空"),
    ],
)
def test_user_row_errors(row: str, field: str, needle: str) -> None:
    error = user_error(row + "\n")
    assert (error.field, error.line) == (field, 2)
    assert needle in error.reason


def test_station_supervisor_and_county_supervisor_levels() -> None:
    result = users(f"s1,王所长,所长,{STATION},,\nc1,赵局,county_supervisor,{COUNTY},,\n")
    assert [u["role"] for u in result] == [Role.STATION_SUPERVISOR, Role.COUNTY_SUPERVISOR]
    assert result[1]["station_id"] is None


@pytest.mark.parametrize("password", ["short", "x" * 129])
def test_bad_password_length_does_not_echo_the_password(password: str) -> None:
    error = user_error(f"041010,张伟,民警,{STATION},,{password}\n")
    assert (error.field, error.line) == ("初始密码", 2)
    assert password not in error.reason
    assert str(len(password)) in error.reason


def test_duplicate_login_names_the_first_line() -> None:
    error = user_error(f"041010,张伟,民警,{STATION},,\n041010,张伟伟,民警,{STATION},,\n")
    assert (error.field, error.line) == ("警号", 3)
    assert "“041010”" in error.reason
    assert "第 2 行" in error.reason


def test_one_bad_user_rejects_the_whole_file() -> None:
    err = rejected(lambda: users(f"041010,张伟,民警,{STATION},,\n041011,,民警,{STATION},,\n"))
    assert err.errors is not None
    assert [(e.field, e.line) for e in err.errors] == [("姓名", 3)]
    assert err.detail == "1 row has errors; nothing was imported"
