"""What is late: a warning nobody reached in time is on the station supervisor's "late"
page, climbs a level when escalation runs (while the page is open), and is handed to
another officer from there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.live import LiveServer
from tests.support.web import Console, ServerDesk, seed_overdue_warning

LATE_NAME = "孙玉梅"


@pytest.fixture
def late_warning() -> list[int]:
    return []


@pytest.fixture
def server(tmp_path: Path, built_app: Path, late_warning: list[int]) -> Iterator[LiveServer]:
    """The tiny city with a high-risk warning that reached o1 45 minutes ago (30 allowed)
    and was never visited: written before the server starts, as its clock is the real one."""
    live = LiveServer(tmp_path, BEATSYNC_WEB_DIR=str(built_app))
    late_warning.append(seed_overdue_warning(live.location, minutes_ago=45, name=LATE_NAME))
    live.start()
    yield live
    live.stop()


def test_an_overdue_warning_escalates_on_the_late_page_and_is_reassigned_there(
    console: Console, desk: ServerDesk, late_warning: list[int]
) -> None:
    [warning] = late_warning
    console.open("late").log_in("sup1")
    page = console.page
    row = page.locator(f"[data-test=late-row][data-id='{warning}']").locator("xpath=ancestor::tr")
    expect(row).to_contain_text(LATE_NAME)
    expect(row).to_contain_text("未按时接触")
    expect(row.locator("[data-test=escalation-level]")).to_have_count(0)

    escalated = desk.call("POST", "/api/v1/escalations/run", "admin")
    assert escalated["escalated"] >= 1
    # The open page hears of it: the level appears without a reload.
    expect(row.locator("[data-test=escalation-level]")).to_have_text("派出所", timeout=10_000)
    console.screenshot("console-late")

    row.locator("[data-test=reassign]").click()
    page.locator("[data-test=reassign-officer]").click()
    page.locator(".el-select-dropdown__item", has_text="(o2)").or_(
        page.locator(".el-select-dropdown__item", has_text="（o2）")
    ).click()
    page.locator("[data-test=action-reason]").fill("张警官外出，改派李警官")
    page.locator("[data-test=action-confirm]").click()
    expect(page.locator(".el-dialog")).to_be_hidden()

    assert desk.warning(warning)["officer_id"] == desk.user_id("o2")
    trail = desk.call("GET", f"/api/v1/warnings/{warning}/timeline", "sup1")
    assert any("reassign" in str(event) for event in trail["events"])
