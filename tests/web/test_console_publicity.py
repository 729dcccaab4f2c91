"""A station supervisor sends an officer to give an anti-fraud talk, and afterwards sees
what was held: the attendance and the materials handed out, as reported from the phone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from clients.device import DeviceClient
from tests.support.web import Console, ServerDesk

TITLE = "七一路社区老年人防骗讲座"


def test_a_talk_is_set_up_in_the_console_and_what_was_held_comes_back(
    console: Console, desk: ServerDesk, officer_phone: DeviceClient
) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    console.open("publicity").log_in("sup1")
    page = console.page
    page.locator("[data-test=publicity-create]").click()
    dialog = page.locator(".el-dialog")
    title = dialog.locator("[data-test=publicity-title] input, input[data-test=publicity-title]")
    title.fill(TITLE)
    dialog.locator("[data-test=publicity-grid]").click()
    page.locator(".el-select-dropdown__item:visible", has_text="七一路社区").click()
    window = dialog.locator(".el-range-editor input")
    window.nth(0).fill(today)
    window.nth(1).fill(today)
    window.nth(1).press("Enter")
    dialog.locator("[data-test=publicity-officers]").click()
    page.locator(".el-select-dropdown__item:visible", has_text="张警官").click()
    dialog.locator("[data-test=publicity-save]").click()
    expect(dialog).to_be_hidden()
    row = page.locator("[data-test=publicity-row]", has_text=TITLE)
    expect(row).to_be_visible()
    task = int(row.get_attribute("data-id") or 0)

    # At the community centre: 38 came, leaflets and posters handed out.
    officer_phone.pull()
    assert officer_phone.task("publicity", task) is not None
    officer_phone.record_visit(
        "publicity",
        task,
        held_at=datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
        attendance=38,
        materials=[{"kind": "leaflet", "count": 120}, {"kind": "poster", "count": 6}],
        notes="社区活动室，老年人为主",
        completed=True,
    )
    officer_phone.push()

    page.reload()
    row = page.locator("[data-test=publicity-row]", has_text=TITLE).locator("xpath=ancestor::tr")
    row.locator(".el-table__expand-icon").click()
    held = page.locator("[data-test=publicity-held]")
    expect(held.locator("[data-test=held-attendance]")).to_have_text("38")
    expect(held.locator("[data-test=held-materials]")).to_have_text("126")
    expect(held.locator("[data-test=held-session]")).to_contain_text("宣传单 120")
    expect(held.locator("[data-test=held-session]")).to_contain_text("社区活动室")
    console.screenshot("console-publicity")
