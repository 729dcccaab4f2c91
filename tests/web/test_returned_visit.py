"""A supervisor sends a visit back; the officer sees why, redoes it, and the station sees
the correction take the place of the first entry."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk
from tests.web.test_offline_visit import record_face_to_face_visit


def test_a_returned_visit_is_redone_and_the_supervisor_sees_it_superseded(
    phone: Phone, desk: ServerDesk
) -> None:
    warning = desk.deliver(name="陈秀英")
    phone.open().log_in("o1")
    phone.wait_for_cards(1)
    record_face_to_face_visit(phone, warning, photo=None)
    phone.page.locator("[data-test=visit-save]").click()
    phone.sync_now()

    # Face to face without a photo: the station's review queue holds it.
    queue = []
    for _ in range(50):
        queue = desk.review_queue()
        if queue:
            break
        phone.page.wait_for_timeout(200)
    [first] = queue
    assert "no_photo" in first["reasons"]
    desk.return_visit(first["entry_id"], "请补拍见面照片")

    phone.sync_now()
    returned = phone.page.locator("[data-test=returned-entry]")
    expect(returned).to_contain_text("请补拍见面照片", timeout=10_000)
    returned.scroll_into_view_if_needed()
    phone.screenshot("officer-returned-visit")
    returned.locator("[data-test=redo-visit]").click()
    phone.page.locator("[data-test=visit-contact-face_to_face]").click()
    phone.page.locator("[data-test=visit-outcome-dissuaded]").click()
    phone.page.locator("[data-test=visit-locate]").click()
    phone.page.locator("[data-test=visit-save]").click()
    phone.sync_now()

    redo = None
    for _ in range(50):
        redo = next((i for i in desk.review_queue() if i["supersedes"]), None)
        if redo:
            break
        phone.page.wait_for_timeout(200)
    assert redo is not None, "the correction never reached the review queue"
    assert redo["supersedes"] == first["entry_id"]
    assert "resubmitted" in redo["reasons"]
