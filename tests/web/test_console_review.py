"""A supervisor reviews two visits in the console: one approved, one returned with a note,
which the officer's phone then shows on its task."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from clients.device import DeviceClient
from tests.support.web import Console, ServerDesk


def test_one_visit_approved_one_returned_and_the_officers_phone_sees_the_return(
    console: Console, desk: ServerDesk, officer_phone: DeviceClient
) -> None:
    fine, doubtful = desk.deliver(name="陈秀英"), desk.deliver(name="王建国")
    officer_phone.pull()
    entries = {}
    for warning in (fine, doubtful):
        # Face to face with no photo of the meeting: the station must look at it.
        entries[warning] = officer_phone.record_visit(
            "warning",
            warning,
            arrived_at=datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
            contact="face_to_face",
            outcome="dissuaded",
            position={"lat": 33.6255, "lon": 114.6478, "accuracy_m": 12},
        )
    officer_phone.push()

    console.open("review").log_in("sup1")
    page = console.page
    items = page.locator("[data-test=review-item]")
    expect(items).to_have_count(2)
    first = page.locator(f"[data-test=review-item][data-entry='{entries[fine]}']")
    second = page.locator(f"[data-test=review-item][data-entry='{entries[doubtful]}']")
    expect(first).to_contain_text("无现场照片")
    console.screenshot("console-review")

    first.locator("[data-test=approve]").click()
    expect(items).to_have_count(1)
    second.locator("[data-test=return]").click()
    page.locator("[data-test=return-note]").fill("请补拍与群众见面的照片")
    page.locator("[data-test=return-confirm]").click()
    expect(page.locator("[data-test=review-item]")).to_have_count(0)

    officer_phone.pull()
    verdicts = {
        v.entry_id: v.review
        for task in officer_phone.tasks()
        for v in task.visits
        if v.review is not None
    }
    assert verdicts[entries[fine]].decision == "approved"
    returned = verdicts[entries[doubtful]]
    assert (returned.decision, returned.note) == ("returned", "请补拍与群众见面的照片")
