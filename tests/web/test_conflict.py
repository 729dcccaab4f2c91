"""A visit made offline on a warning the station cancelled meanwhile: the visit stands, and
the app says in words what the server decided."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk
from tests.web.test_offline_visit import record_face_to_face_visit


def test_a_visit_on_a_warning_cancelled_meanwhile_shows_the_verdict_in_words(
    phone: Phone, desk: ServerDesk
) -> None:
    warning = desk.deliver(name="陈秀英")
    phone.open().log_in("o1")
    phone.wait_for_cards(1)

    phone.offline()
    record_face_to_face_visit(phone, warning, photo=None)
    phone.page.locator("[data-test=visit-save]").click()
    desk.cancel(warning)
    phone.online()

    phone.tab("outbox")
    row = phone.page.locator("[data-test=outbox-row][data-status=conflict]")
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator("[data-test=conflict-verdict]")).to_contain_text("撤销")
    phone.screenshot("officer-conflict")

    # The visit is on record at the station, flagged for a supervisor to decide.
    [entry_id] = [r["entry_id"] for r in phone.device_tables()["recorded"]]
    [conflict] = [c for c in desk.conflicts() if c["task_id"] == warning]
    assert conflict["rule"] == "visit_after_cancel"
    assert conflict["entry_id"] == entry_id
    [queued] = [i for i in desk.review_queue() if i["entry_id"] == entry_id]
    assert queued["outcome"] == "dissuaded"
    assert desk.warning(warning)["state"] == "cancelled"
