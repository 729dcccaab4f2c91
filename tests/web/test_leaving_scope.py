"""A warning handed to another officer leaves this phone, with every detail of the resident."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk


def test_a_reassigned_warning_leaves_the_phone_with_the_residents_details(
    phone: Phone, desk: ServerDesk
) -> None:
    kept = desk.deliver(name="孙桂兰", phone="13911110000")
    leaving = desk.deliver(name="欧阳淑芬", phone="13922223333")
    phone.open().log_in("o1")
    phone.wait_for_cards(2)
    assert "欧阳淑芬" in phone.device_data()

    desk.reassign(leaving, desk.user_id("o2"))

    expect(phone.card(leaving)).to_have_count(0, timeout=10_000)
    expect(phone.card(kept)).to_be_visible()
    tables = phone.wait_for_device(lambda t: [r["id"] for r in t["tasks"]] == [kept], timeout_s=10)
    assert [r["id"] for r in tables["tasks"]] == [kept]
    everything = phone.device_data()
    assert "欧阳淑芬" not in everything
    assert "13922223333" not in everything
    assert "13911110000" in everything  # the warning that stays keeps its details
