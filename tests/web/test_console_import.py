"""The city administrator brings in new officers from the city's sheet: a file with two bad
rows shows both, with line, column and reason, and writes nothing; the corrected file goes
in, and the new officer can log in."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.support.web import Console, ServerDesk

HEADER = "警号,姓名,角色,所属单位编码,状态,初始密码\n"
GOOD = "o9,周警官,民警,411602-01,在岗,Welcome-2026\n"
# Line 3: no such unit; line 4: a role the city does not have.
BAD = (
    HEADER
    + GOOD
    + "o10,吴警官,民警,411699-09,在岗,Welcome-2026\n"
    + "o11,郑警官,队长,411602-01,在岗,Welcome-2026\n"
)


def choose(console: Console, sheet: str) -> None:
    console.page.locator("[data-test=import-file]").set_input_files(
        files=[{"name": "民警名单.csv", "mimeType": "text/csv", "buffer": sheet.encode()}]
    )


def test_a_sheet_with_two_bad_rows_writes_nothing_then_the_good_one_adds_the_officer(
    console: Console, desk: ServerDesk
) -> None:
    console.open("admin").log_in("admin")
    page = console.page
    page.locator("[data-test=import-kind]").get_by_text("用户", exact=True).click()

    choose(console, BAD)
    page.locator("[data-test=import-dry-run]").click()
    errors = page.locator("[data-test=import-errors] tbody tr")
    expect(errors).to_have_count(2)
    line3, line4 = (cells for cells in (errors.nth(0), errors.nth(1)))
    # Line, the column as the sheet heads it, and the reason, all in Chinese.
    expect(line3).to_contain_text("3")
    expect(line3).to_contain_text("所属单位编码")
    expect(line3).to_contain_text("单位“411699-09”尚未登记")
    expect(line4).to_contain_text("4")
    expect(line4).to_contain_text("角色")
    expect(line4).to_contain_text("“队长”不是可用的值")
    expect(page.locator("[data-test=import-commit]")).to_be_disabled()
    console.screenshot("console-import-errors")
    logins = {u["login"] for u in desk.call("GET", "/api/v1/users", "admin")}
    assert "o9" not in logins  # not even the good row

    choose(console, HEADER + GOOD)
    page.locator("[data-test=import-dry-run]").click()
    expect(page.locator("[data-test=import-ok]")).to_be_visible()
    page.locator("[data-test=import-commit]").click()
    expect(page.locator("[data-test=import-ok]")).to_contain_text("1")
    expect(page.locator("[data-test=user-row][data-login=o9]")).to_have_count(1)

    # The sheet's password is an initial one: the new officer chooses their own with it
    # (issue 12), then logs in.
    first = httpx.post(
        f"{console.base}/api/v1/auth/login",
        json={"login": "o9", "password": "Welcome-2026", "device_id": "phone-of-o9"},
    )
    assert first.status_code == 403
    assert first.json()["code"] == "password_change_required"
    chosen = httpx.post(
        f"{console.base}/api/v1/auth/password",
        json={"login": "o9", "password": "Welcome-2026", "new_password": "Zhou-chose-this"},
    )
    assert chosen.status_code == 204, chosen.text
    response = httpx.post(
        f"{console.base}/api/v1/auth/login",
        json={"login": "o9", "password": "Zhou-chose-this", "device_id": "phone-of-o9"},
    )
    assert response.status_code == 200, response.text
