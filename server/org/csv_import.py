"""Read the unit, grid and user spreadsheets a bureau's staff export from Excel or WPS.

A file is accepted whole or not at all: every bad row is reported in one InputError
(code IMPORT_REJECTED), each fault as a FieldError naming the column as the file heads it
(a column the file lacks by its Chinese heading) and the spreadsheet row (the header is
row 1), with the reason in Chinese: the people who fix the sheet read it in a zh-CN
table, and `name: 'name' is empty` told them nothing about a column headed 单位名称.

Lookups into the existing store are passed in as callbacks so the parser stays pure.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn, TypeVar

from server.errors import ErrorCode, FieldError, InputError
from server.store.records import ROLE_LEVEL, Datum, Grid, GridKind, Level, Role, Unit, User

MAX_IMPORT_ROWS = 50_000
MAX_NAME_LENGTH = 100
PASSWORD_LENGTH = (8, 128)

# Header as written in the sheet -> canonical column. English is matched case-insensitively
# (keys here are lower case); full-width letters count as their ASCII twins.
UNIT_HEADERS: dict[str, str] = {
    "单位编码": "code",
    "code": "code",
    "单位名称": "name",
    "name": "name",
    "级别": "level",
    "level": "level",
    "上级单位编码": "parent_code",
    "parent_code": "parent_code",
}
# parent_code must be a column even though a city row leaves it empty: a file without it
# would otherwise fail once per county and station row instead of once.
UNIT_REQUIRED = ("code", "name", "level", "parent_code")

GRID_HEADERS: dict[str, str] = {
    "网格编码": "code",
    "code": "code",
    "网格名称": "name",
    "name": "name",
    "类型": "kind",
    "kind": "kind",
    "所属派出所编码": "station_code",
    "station_code": "station_code",
    "责任民警警号": "officer_login",
    "officer_login": "officer_login",
    "纬度": "lat",
    "lat": "lat",
    "经度": "lon",
    "lon": "lon",
    "坐标系": "datum",
    "datum": "datum",
}
GRID_REQUIRED = ("code", "name", "kind", "station_code")

USER_HEADERS: dict[str, str] = {
    "警号": "login",
    "login": "login",
    "姓名": "name",
    "name": "name",
    "角色": "role",
    "role": "role",
    "所属单位编码": "unit_code",
    "unit_code": "unit_code",
    "状态": "active",
    "active": "active",
    "初始密码": "password",
    "password": "password",
}
USER_REQUIRED = ("login", "name", "role", "unit_code")

LEVEL_WORDS: dict[str, Level] = {
    "市": Level.CITY,
    "市局": Level.CITY,
    "city": Level.CITY,
    "县": Level.COUNTY,
    "区": Level.COUNTY,
    "县区": Level.COUNTY,
    "county": Level.COUNTY,
    "派出所": Level.STATION,
    "所": Level.STATION,
    "station": Level.STATION,
}

KIND_WORDS: dict[str, GridKind] = {
    "村": GridKind.VILLAGE,
    "行政村": GridKind.VILLAGE,
    "village": GridKind.VILLAGE,
    "社区": GridKind.COMMUNITY,
    "community": GridKind.COMMUNITY,
}

# Which map the centroid was read off: phones report WGS-84, Amap and Tencent show GCJ-02,
# Baidu BD-09. An empty cell means WGS-84.
DATUM_WORDS: dict[str, Datum] = {
    "wgs-84": Datum.WGS84,
    "wgs84": Datum.WGS84,
    "gcj-02": Datum.GCJ02,
    "gcj02": Datum.GCJ02,
    "火星坐标": Datum.GCJ02,
    "高德": Datum.GCJ02,
    "腾讯": Datum.GCJ02,
    "bd-09": Datum.BD09,
    "bd09": Datum.BD09,
    "百度": Datum.BD09,
}
COORDINATE_RANGE = {"lat": 90.0, "lon": 180.0}

# Role.PLATFORM is missing on purpose: machine clients are never created from a sheet.
ROLE_WORDS: dict[str, Role] = {
    "民警": Role.OFFICER,
    "辅警": Role.OFFICER,
    "officer": Role.OFFICER,
    "所长": Role.STATION_SUPERVISOR,
    "派出所负责人": Role.STATION_SUPERVISOR,
    "station_supervisor": Role.STATION_SUPERVISOR,
    "县局负责人": Role.COUNTY_SUPERVISOR,
    "county_supervisor": Role.COUNTY_SUPERVISOR,
    "管理员": Role.CITY_ADMIN,
    "city_admin": Role.CITY_ADMIN,
}

# An empty cell means active.
ACTIVE_WORDS: dict[str, bool] = {
    "在岗": True,
    "启用": True,
    "active": True,
    "1": True,
    "true": True,
    "是": True,
    "停用": False,
    "离岗": False,
    "disabled": False,
    "0": False,
    "false": False,
    "否": False,
}

# The level a unit's parent must have.
PARENT_LEVEL: dict[Level, Level] = {
    Level.COUNTY: Level.CITY,
    Level.STATION: Level.COUNTY,
}

# Levels and roles as the reasons name them.
LEVEL_NAMES: dict[Level, str] = {
    Level.CITY: "市局",
    Level.COUNTY: "县区",
    Level.STATION: "派出所",
}
ROLE_NAMES: dict[Role, str] = {
    Role.OFFICER: "民警",
    Role.STATION_SUPERVISOR: "派出所负责人",
    Role.COUNTY_SUPERVISOR: "县局负责人",
    Role.CITY_ADMIN: "管理员",
    Role.PLATFORM: "平台客户端",
}

_SAVE_AS_CSV = "请在 Excel 或 WPS 中“另存为” CSV"
# Files people upload by mistake, recognised by their first bytes.
FILE_SIGNATURES: dict[bytes, str] = {
    b"PK\x03\x04": f"这是 Excel 工作簿（.xlsx），不是 CSV 文件；{_SAVE_AS_CSV}",
    b"\xd0\xcf\x11\xe0": f"这是 Excel 工作簿（.xls），不是 CSV 文件；{_SAVE_AS_CSV}",
    b"\xff\xfe": "这是 UTF-16（“Unicode 文本”）文件；请另存为 CSV 或 CSV UTF-8",
    b"\xfe\xff": "这是 UTF-16（“Unicode 文本”）文件；请另存为 CSV 或 CSV UTF-8",
}


class _Format(NamedTuple):
    pattern: re.Pattern[str]
    rule: str  # completes "应为…" in an error


UNIT_CODE = _Format(re.compile(r"[A-Za-z0-9._-]{1,32}"), "1 到 32 位字母、数字、“.”、“_”或“-”")
GRID_CODE = _Format(re.compile(r"[0-9]{12}"), "12 位数字（村级统计区划代码）")
LOGIN = _Format(re.compile(r"[A-Za-z0-9._-]{1,64}"), "1 到 64 位字母、数字、“.”、“_”或“-”")
# What Excel writes for a long number in a General-formatted column, e.g. 4.11602E+11;
# the digits are gone for good, so say how to avoid it rather than just "bad format".
EXCEL_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?[eE]\+?[0-9]+")

LEVEL_ORDER = {Level.CITY: 0, Level.COUNTY: 1, Level.STATION: 2}

V = TypeVar("V")


# -- reading the file ------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """Bytes of a CSV file as text: UTF-8 (with or without BOM), else GBK/GB18030."""
    for signature, reason in FILE_SIGNATURES.items():
        if data.startswith(signature):
            _reject_file(reason)
    if data.startswith(codecs.BOM_UTF8):
        text = _decode(data[len(codecs.BOM_UTF8) :], "utf-8")
        if text is None:
            _reject_file("文件以 UTF-8 标记开头，但内容不是有效的 UTF-8")
    else:
        # GB18030 is a superset of GBK, which is what Excel on Chinese Windows writes.
        text = _decode(data, "utf-8")
        if text is None:
            text = _decode(data, "gb18030")
        if text is None:
            _reject_file(f"文件既不是 UTF-8 也不是 GBK 文本；{_SAVE_AS_CSV}")
    if "\x00" in text:
        _reject_file("文件含有二进制数据，不是 CSV 文本")
    return text


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]
    headings: Mapping[str, str]  # canonical column -> as the file heads it

    def heading(self, column: str) -> str:
        return self.headings.get(column, column)

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

    def token(self, column: str) -> str:
        """A code or keyword: full-width letters and digits (from a Chinese IME) made ASCII."""
        return unicodedata.normalize("NFKC", self.text(column)).strip()


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-empty records with their spreadsheet row number.

    The row number counts records, not text lines, so it matches the row Excel shows even
    when a quoted cell holds a line break.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for line, record in enumerate(reader, start=1):
            cells = [cell.strip() for cell in record]
            if any(cells):
                yield line, cells
    except csv.Error as exc:
        _reject_file(f"文件不是有效的 CSV：{exc}")


def _read_rows(data: bytes, aliases: Mapping[str, str], required: tuple[str, ...]) -> list[_Row]:
    records = _records(decode_csv(data))
    header = next(records, None)
    if header is None:
        _reject_file("文件是空的")
    header_line, names = header
    columns = _map_header(header_line, names, aliases, required)
    headings = {**_unheaded(aliases, names), **{col: names[i] for i, col in columns.items()}}
    rows: list[_Row] = []
    for line, cells in records:
        if len(rows) == MAX_IMPORT_ROWS:
            _reject_file(f"文件超过 {MAX_IMPORT_ROWS:,} 行；请拆成几个文件分别导入")
        values = {col: cells[i] if i < len(cells) else "" for i, col in columns.items()}
        rows.append(_Row(line, values, headings))
    if not rows:
        _reject_file("文件只有表头，没有数据行")
    return rows


def _unheaded(aliases: Mapping[str, str], names: list[str]) -> dict[str, str]:
    """Canonical column -> how to name it where the file lacks it: in English when every
    heading the file gives is English, by its first Chinese heading otherwise."""
    known = [n for n in names if unicodedata.normalize("NFKC", n).strip().casefold() in aliases]
    english = bool(known) and all(n.isascii() for n in known)
    headings: dict[str, str] = {}
    for heading, column in aliases.items():
        if heading.isascii() == english:
            headings.setdefault(column, heading)
    return headings


def _map_header(
    line: int, names: list[str], aliases: Mapping[str, str], required: tuple[str, ...]
) -> dict[int, str]:
    """Column index -> canonical column; unknown columns are left out."""
    columns: dict[int, str] = {}
    errors: list[FieldError] = []
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        column = aliases.get(unicodedata.normalize("NFKC", name).strip().casefold())
        if column is None:
            continue
        if column in first:
            earlier = names[first[column]]
            reason = (
                f"同一列出现了两次：第 {first[column] + 1} 列“{earlier}”和第 {index + 1} 列“{name}”"
            )
            errors.append(FieldError(field=earlier, reason=reason, line=line))
            continue
        first[column] = index
        columns[index] = column
    unheaded = _unheaded(aliases, names)
    for column in required:
        if column not in first:
            named = unheaded[column]
            chinese = next(k for k, v in aliases.items() if v == column and not k.isascii())
            other = f" {column}" if named == chinese else f"“{chinese}”"
            reason = f"表头缺少“{named}”列（也可写作{other}）"
            errors.append(FieldError(field=unheaded[column], reason=reason, line=line))
    if errors:
        _reject(errors, whole_file=True)
    return columns


# -- errors ----------------------------------------------------------------------------


class _Errors:
    """A sheet's faults, each naming its column as the sheet heads it."""

    def __init__(self, rows: list[_Row]) -> None:
        self.items: list[FieldError] = []
        self.headings: Mapping[str, str] = rows[0].headings if rows else {}

    def heading(self, column: str) -> str:
        return self.headings.get(column, column)

    def add(self, line: int, column: str, reason: str) -> None:
        self.items.append(FieldError(field=self.heading(column), reason=reason, line=line))

    def raise_if_any(self) -> None:
        if self.items:
            _reject(self.items)


def _reject_file(reason: str) -> NoReturn:
    _reject([FieldError(field="file", reason=reason, line=None)], whole_file=True)


def _reject(errors: list[FieldError], *, whole_file: bool = False) -> NoReturn:
    ordered = sorted(errors, key=lambda e: e.line or 0)
    bad_rows = len({e.line for e in ordered})
    if whole_file:
        detail = "the file was rejected; nothing was imported"
    elif bad_rows == 1:
        detail = "1 row has errors; nothing was imported"
    else:
        detail = f"{bad_rows} rows have errors; nothing was imported"
    raise InputError(detail, code=ErrorCode.IMPORT_REJECTED, errors=ordered)


# -- cells -----------------------------------------------------------------------------


def _required(row: _Row, column: str, value: str, errors: _Errors) -> str | None:
    if not value:
        errors.add(row.line, column, f"“{errors.heading(column)}”为空；此列必填")
        return None
    return value


def _formatted(row: _Row, column: str, value: str, fmt: _Format, errors: _Errors) -> str | None:
    if fmt.pattern.fullmatch(value):
        return value
    if EXCEL_NUMBER.fullmatch(value):
        reason = f"“{value}”是被 Excel 缩写的数字；请把该列设置为文本格式，重新输入编码后再导出"
    else:
        reason = f"“{value}”不是有效的{errors.heading(column)}：应为{fmt.rule}"
    errors.add(row.line, column, reason)
    return None


def _code(row: _Row, column: str, fmt: _Format, errors: _Errors) -> str | None:
    value = _required(row, column, row.token(column), errors)
    return None if value is None else _formatted(row, column, value, fmt, errors)


def _name(row: _Row, errors: _Errors) -> str | None:
    value = _required(row, "name", row.text("name"), errors)
    if value is not None and len(value) > MAX_NAME_LENGTH:
        errors.add(row.line, "name", f"“{value[:20]}…”超过 {MAX_NAME_LENGTH} 个字符")
        return None
    return value


def _word(row: _Row, column: str, table: Mapping[str, V], errors: _Errors) -> V | None:
    value = _required(row, column, row.token(column), errors)
    if value is None:
        return None
    found = table.get(value.casefold())
    if found is None:
        errors.add(row.line, column, _not_allowed(value, table))
    return found


def _not_allowed(value: str, table: Mapping[str, Any]) -> str:
    return f"“{value}”不是可用的值；可用：{'、'.join(table)}"


def _first_time(
    first_line: dict[str, int], key: str, row: _Row, column: str, errors: _Errors
) -> bool:
    """Record the key; a repeat is an error on the later row."""
    if key in first_line:
        reason = f"“{key}”与第 {first_line[key]} 行重复"
        errors.add(row.line, column, reason)
        return False
    first_line[key] = row.line
    return True


def _unregistered(code: str) -> str:
    return f"单位“{code}”尚未登记；请先导入单位"


def _memo(lookup: Callable[[str], V]) -> Callable[[str], V]:
    """The same unit or user is looked up for many rows; ask the store once."""
    cache: dict[str, V] = {}

    def cached(key: str) -> V:
        if key not in cache:
            cache[key] = lookup(key)
        return cache[key]

    return cached


# -- units -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _UnitRow:
    line: int
    code: str
    name: str | None
    level: Level | None
    parent_code: str | None
    parent_malformed: bool


def parse_units(data: bytes, get_unit: Callable[[str], Unit | None]) -> list[Unit]:
    """Units of a file, parents before children, so they can be stored in that order."""
    rows = _read_rows(data, UNIT_HEADERS, UNIT_REQUIRED)
    errors = _Errors(rows)
    lookup = _memo(get_unit)
    first_line: dict[str, int] = {}
    in_file: dict[str, _UnitRow] = {}
    for row in rows:
        unit_row = _read_unit(row, errors)
        if unit_row is not None and _first_time(first_line, unit_row.code, row, "code", errors):
            in_file[unit_row.code] = unit_row
    # Second pass: a parent may sit anywhere in the file, even after its children.
    units: list[Unit] = []
    for unit_row in in_file.values():
        _check_against_store(unit_row, lookup(unit_row.code), errors)
        unit = _resolve_unit(unit_row, in_file, lookup, errors)
        if unit is not None:
            units.append(unit)
    errors.raise_if_any()
    return sorted(units, key=lambda u: LEVEL_ORDER[u.level])


def _read_unit(row: _Row, errors: _Errors) -> _UnitRow | None:
    code = _code(row, "code", UNIT_CODE, errors)
    name = _name(row, errors)
    level = _word(row, "level", LEVEL_WORDS, errors)
    parent_code = row.token("parent_code") or None
    malformed = parent_code is not None and (
        _formatted(row, "parent_code", parent_code, UNIT_CODE, errors) is None
    )
    if code is None:
        return None
    return _UnitRow(row.line, code, name, level, parent_code, malformed)


def _check_against_store(row: _UnitRow, existing: Unit | None, errors: _Errors) -> None:
    """Refuse changes that would leave stored children with a wrong ancestry.

    Users, grids and child units copy city_id/county_id/station_id from their unit; an
    import sees only this file, so it cannot rewrite them when a unit changes level or
    moves under another parent.
    """
    if existing is None or row.level is None or row.parent_malformed:
        return
    if existing.level is not row.level:
        reason = (
            f"单位“{row.code}”已登记为{LEVEL_NAMES[existing.level]}，"
            f"导入不能把它改为{LEVEL_NAMES[row.level]}"
        )
        errors.add(row.line, "level", reason)
    elif existing.parent_id != row.parent_code:
        reason = (
            f"单位“{row.code}”已登记在“{existing.parent_id}”之下，"
            f"导入不能把它移到“{row.parent_code}”之下"
        )
        errors.add(row.line, "parent_code", reason)


class _Parent(NamedTuple):
    code: str
    level: Level | None  # None: the parent's own row has a bad level, reported there
    city_id: str | None


def _resolve_unit(
    row: _UnitRow,
    in_file: Mapping[str, _UnitRow],
    lookup: Callable[[str], Unit | None],
    errors: _Errors,
) -> Unit | None:
    if row.level is Level.CITY:
        return _city_unit(row, errors)
    parent = _find_parent(row, in_file, lookup, errors)
    if parent is None or row.level is None or not _parent_level_ok(row, row.level, parent, errors):
        return None
    if row.level is Level.COUNTY:
        return _unit(row, city_id=parent.code, county_id=row.code, station_id=None)
    if parent.city_id is None:  # the parent row is faulty itself, and reported there
        return None
    return _unit(row, city_id=parent.city_id, county_id=parent.code, station_id=row.code)


def _city_unit(row: _UnitRow, errors: _Errors) -> Unit | None:
    if row.parent_code is not None:
        reason = f"市局没有上级单位，但填写了“{row.parent_code}”"
        errors.add(row.line, "parent_code", reason)
        return None
    return _unit(row, city_id=row.code, county_id=None, station_id=None)


def _find_parent(
    row: _UnitRow,
    in_file: Mapping[str, _UnitRow],
    lookup: Callable[[str], Unit | None],
    errors: _Errors,
) -> _Parent | None:
    """The parent, from the file first: that version is what will be stored.

    None when there is no usable parent; the error is reported unless it already was.
    """
    code = row.parent_code
    if row.parent_malformed:
        return None
    if code is None:
        if row.level is not None:
            heading = errors.heading("parent_code")
            reason = f"“{heading}”为空；{LEVEL_NAMES[row.level]}须填写上级单位的编码"
            errors.add(row.line, "parent_code", reason)
        return None
    if code == row.code:
        errors.add(row.line, "parent_code", f"单位“{code}”不能是自己的上级单位")
        return None
    if code in in_file:
        found = in_file[code]
        city = found.code if found.level is Level.CITY else found.parent_code
        return _Parent(code, found.level, city)
    stored = lookup(code)
    if stored is None:
        reason = f"上级单位“{code}”既不在本文件中，也尚未登记"
        errors.add(row.line, "parent_code", reason)
        return None
    return _Parent(code, stored.level, stored.city_id)


def _parent_level_ok(row: _UnitRow, level: Level, parent: _Parent, errors: _Errors) -> bool:
    if parent.level is None:
        return False
    expected = PARENT_LEVEL[level]
    if parent.level is not expected:
        reason = (
            f"{LEVEL_NAMES[level]}的上级单位须是{LEVEL_NAMES[expected]}，"
            f"但“{parent.code}”是{LEVEL_NAMES[parent.level]}"
        )
        errors.add(row.line, "parent_code", reason)
        return False
    return True


def _unit(
    row: _UnitRow, *, city_id: str, county_id: str | None, station_id: str | None
) -> Unit | None:
    if row.name is None or row.level is None:
        return None
    return Unit(
        id=row.code,
        name=row.name,
        level=row.level,
        parent_id=row.parent_code,
        city_id=city_id,
        county_id=county_id,
        station_id=station_id,
    )


# -- grids -----------------------------------------------------------------------------


def parse_grids(
    data: bytes,
    get_unit: Callable[[str], Unit | None],
    get_user_by_login: Callable[[str], User | None],
) -> list[Grid]:
    """Grids of a file; stations and responsible officers must already be registered."""
    rows = _read_rows(data, GRID_HEADERS, GRID_REQUIRED)
    errors = _Errors(rows)
    units = _memo(get_unit)
    users = _memo(get_user_by_login)
    first_line: dict[str, int] = {}
    grids: list[Grid] = []
    for row in rows:
        code = _code(row, "code", GRID_CODE, errors)
        fresh = code is not None and _first_time(first_line, code, row, "code", errors)
        grid = _read_grid(row, code, units, users, errors)
        if fresh and grid is not None:
            grids.append(grid)
    errors.raise_if_any()
    return grids


def _read_grid(
    row: _Row,
    code: str | None,
    units: Callable[[str], Unit | None],
    users: Callable[[str], User | None],
    errors: _Errors,
) -> Grid | None:
    name = _name(row, errors)
    kind = _word(row, "kind", KIND_WORDS, errors)
    station = _station(row, units, errors)
    officer_id = _officer(row, station, users, errors)
    placed, position = _position(row, errors)
    datum = _datum(row, errors)
    if code is None or name is None or kind is None or station is None:
        return None
    if station.county_id is None or not placed or datum is None:
        return None  # reported already
    lat, lon = position or (None, None)
    return Grid(
        code=code,
        name=name,
        kind=kind,
        station_id=station.id,
        county_id=station.county_id,
        city_id=station.city_id,
        officer_id=officer_id,
        lat=lat,
        lon=lon,
        datum=datum,
    )


def _position(row: _Row, errors: _Errors) -> tuple[bool, tuple[float, float] | None]:
    """(valid, (lat, lon)): a row may give both or neither; a fault is reported."""
    lat, lon = _coordinate(row, "lat", errors), _coordinate(row, "lon", errors)
    given = [c for c in ("lat", "lon") if row.token(c)]
    if len(given) == 1:
        missing = "lon" if given == ["lat"] else "lat"
        reason = (
            f"填写了“{errors.heading(given[0])}”，但“{errors.heading(missing)}”为空；"
            "两者须同时填写或同时不填"
        )
        errors.add(row.line, missing, reason)
        return False, None
    if lat is None or lon is None:
        return not given, None
    return True, (lat, lon)


def _coordinate(row: _Row, column: str, errors: _Errors) -> float | None:
    value = row.token(column)
    if not value:
        return None
    limit = COORDINATE_RANGE[column]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not -limit <= number <= limit:  # NaN fails this too
        expected = f"十进制度数，-{limit:g} 到 {limit:g}"
        errors.add(row.line, column, f"“{value}”不是有效的{errors.heading(column)}：应为{expected}")
        return None
    return number


def _datum(row: _Row, errors: _Errors) -> Datum | None:
    value = row.token("datum")
    if not value:
        return Datum.WGS84
    found = DATUM_WORDS.get(value.casefold())
    if found is None:
        errors.add(row.line, "datum", _not_allowed(value, DATUM_WORDS))
    return found


def _station(row: _Row, units: Callable[[str], Unit | None], errors: _Errors) -> Unit | None:
    code = _code(row, "station_code", UNIT_CODE, errors)
    if code is None:
        return None
    unit = units(code)
    if unit is None:
        errors.add(row.line, "station_code", _unregistered(code))
        return None
    if unit.level is not Level.STATION:
        reason = f"单位“{code}”是{LEVEL_NAMES[unit.level]}，不是派出所"
        errors.add(row.line, "station_code", reason)
        return None
    if unit.county_id is None:
        errors.add(row.line, "station_code", f"派出所“{code}”登记时没有所属县区")
        return None
    return unit


def _officer(
    row: _Row, station: Unit | None, users: Callable[[str], User | None], errors: _Errors
) -> int | None:
    login = row.token("officer_login")
    if not login or _formatted(row, "officer_login", login, LOGIN, errors) is None:
        return None
    user = users(login)
    reason = _officer_fault(login, user, station)
    if reason is not None:
        errors.add(row.line, "officer_login", reason)
        return None
    return None if user is None else user.id  # a missing user always has a fault


def _officer_fault(login: str, user: User | None, station: Unit | None) -> str | None:
    if user is None:
        return f"没有警号为“{login}”的用户；请先导入用户"
    if user.role is not Role.OFFICER:
        return f"用户“{login}”是{ROLE_NAMES[user.role]}；只有民警能负责网格"
    if not user.active:
        return f"用户“{login}”已停用"
    if station is not None and user.station_id != station.id:
        return f"民警“{login}”属于派出所“{user.station_id}”，不属于“{station.id}”"
    return None


# -- users -----------------------------------------------------------------------------


def parse_users(data: bytes, get_unit: Callable[[str], Unit | None]) -> list[dict[str, Any]]:
    """Users of a file as dicts for the store; `password` is plain text, only when given."""
    rows = _read_rows(data, USER_HEADERS, USER_REQUIRED)
    errors = _Errors(rows)
    units = _memo(get_unit)
    first_line: dict[str, int] = {}
    users: list[dict[str, Any]] = []
    for row in rows:
        login = _code(row, "login", LOGIN, errors)
        fresh = login is not None and _first_time(first_line, login, row, "login", errors)
        user = _read_user(row, login, units, errors)
        if fresh and user is not None:
            users.append(user)
    errors.raise_if_any()
    return users


def _read_user(
    row: _Row, login: str | None, units: Callable[[str], Unit | None], errors: _Errors
) -> dict[str, Any] | None:
    name = _name(row, errors)
    role = _role(row, errors)
    unit = _user_unit(row, role, units, errors)
    active = _active(row, errors)
    password = _password(row, errors)
    if login is None or name is None or role is None or unit is None or active is None:
        return None
    user: dict[str, Any] = {
        "login": login,
        "name": name,
        "role": role.value,
        "unit_id": unit.id,
        "city_id": unit.city_id,
        "county_id": unit.county_id,
        "station_id": unit.station_id,
        "active": active,
    }
    if password is not None:
        user["password"] = password
    return user


def _role(row: _Row, errors: _Errors) -> Role | None:
    value = row.token("role")
    if value.casefold() == Role.PLATFORM.value:
        reason = f"“{value}”（平台客户端）不能从文件导入；可用：{'、'.join(ROLE_WORDS)}"
        errors.add(row.line, "role", reason)
        return None
    return _word(row, "role", ROLE_WORDS, errors)


def _user_unit(
    row: _Row, role: Role | None, units: Callable[[str], Unit | None], errors: _Errors
) -> Unit | None:
    code = _code(row, "unit_code", UNIT_CODE, errors)
    if code is None:
        return None
    unit = units(code)
    if unit is None:
        errors.add(row.line, "unit_code", _unregistered(code))
        return None
    if role is not None and unit.level is not ROLE_LEVEL[role]:
        reason = (
            f"{ROLE_NAMES[role]}须属于{LEVEL_NAMES[ROLE_LEVEL[role]]}，"
            f"但“{code}”是{LEVEL_NAMES[unit.level]}"
        )
        errors.add(row.line, "unit_code", reason)
        return None
    return unit


def _active(row: _Row, errors: _Errors) -> bool | None:
    value = row.token("active")
    if not value:
        return True
    found = ACTIVE_WORDS.get(value.casefold())
    if found is None:
        errors.add(row.line, "active", _not_allowed(value, ACTIVE_WORDS))
    return found


def _password(row: _Row, errors: _Errors) -> str | None:
    # The reason never quotes the value: errors go back to the client and into logs.
    value = row.text("password")
    low, high = PASSWORD_LENGTH
    if value and not low <= len(value) <= high:
        reason = f"初始密码须为 {low} 到 {high} 个字符，而不是 {len(value)} 个"
        errors.add(row.line, "password", reason)
        return None
    return value or None
