"""`beatsync import`: how a new city's sheets and first administrator get into a database."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from server.auth.passwords import Passwords
from server.cli import main
from server.clock import SystemClock
from server.store.opening import open_store

UNITS = (
    codecs.BOM_UTF8
    + (
        "单位编码,单位名称,级别,上级单位编码\n"
        "411600,周口市公安局,市局,\n"
        "411602,川汇分局,区,411600\n"
        "411602-01,城区派出所,派出所,411602\n"
    ).encode()
)
USERS = (
    "警号,姓名,角色,所属单位编码,初始密码\n"
    "admin,市局管理员,管理员,411600,First-admin-1\n"
    "o1,张警官,民警,411602-01,\n"
).encode("gbk")


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEATSYNC_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("BEATSYNC_ARGON2_MEMORY_KIB", "1024")


def sheet(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_new_city_and_its_first_administrator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "city.db")

    assert main(["import", "units", sheet(tmp_path, "units.csv", UNITS), "--db", db]) == 0
    assert capsys.readouterr().out == "units: 3 rows, 3 created, 0 updated, 0 unchanged\n"
    assert main(["import", "users", sheet(tmp_path, "users.csv", USERS), "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "users: 2 rows, 2 created, 0 updated, 0 unchanged",
        "1 users have no password and cannot log in until an administrator sets one",
    ]

    store = open_store(db, SystemClock())
    try:
        admin = store.get_user_by_login("admin")
        assert admin is not None
        assert (admin.role, admin.city_id) == ("city_admin", "411600")
        assert Passwords(time_cost=1, memory_kib=1024).verify(admin.password_hash, "First-admin-1")
        # Changes made from the command line are audited as the system's.
        entries = store.list_audit(entity="user", entity_id=str(admin.id))
        assert [(e.action, e.actor_user_id) for e in entries] == [("user.create", None)]
    finally:
        store.close()


def test_every_error_is_printed_with_its_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "city.db")
    bad = (
        "code,name,level,parent_code\n"
        "411600,周口市公安局,city,\n"
        "411602,川汇分局,province,411600\n"
        "4.11602E+11,陈州派出所,station,411602\n"
    ).encode()

    assert main(["import", "units", sheet(tmp_path, "bad.csv", bad), "--db", db]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].endswith("2 rows have errors; nothing was imported")
    # Each names its column as the sheet heads it, the reason in Chinese.
    assert lines[1].startswith("line 3, level: “province”不是可用的值")
    assert lines[2].startswith("line 4, code: “4.11602E+11”是被 Excel 缩写的数字")
    store = open_store(db, SystemClock())
    try:
        assert store.list_units() == []
    finally:
        store.close()


def test_a_file_level_error_has_no_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sheet(tmp_path, "units.xlsx", b"PK\x03\x04workbook")
    assert main(["import", "units", path, "--db", str(tmp_path / "city.db")]) == 1
    assert capsys.readouterr().err.splitlines()[1].startswith("file: 这是 Excel 工作簿")


def test_a_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "city.db")
    path = sheet(tmp_path, "units.csv", UNITS)
    assert main(["import", "units", path, "--db", db, "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "units: 3 rows, 3 created, 0 updated, 0 unchanged (dry run: nothing was written)\n"
    )
    store = open_store(db, SystemClock())
    try:
        assert store.list_units() == []
    finally:
        store.close()


def test_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.csv")
    assert main(["import", "grids", missing, "--db", str(tmp_path / "city.db")]) == 2
    assert "cannot read" in capsys.readouterr().err
