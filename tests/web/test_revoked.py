"""A lost phone is cut off: at its next contact it forgets everything and shows the login."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk


def test_a_revoked_phone_wipes_itself_and_shows_the_login(phone: Phone, desk: ServerDesk) -> None:
    desk.deliver(name="欧阳淑芬", phone="13922223333")
    phone.open().log_in("o1")
    phone.wait_for_cards(1)
    assert "欧阳淑芬" in phone.device_data()

    assert desk.revoke_devices_of(desk.user_id("o1")) == 1
    phone.sync_now()

    expect(phone.page.locator("[data-test=login-submit]")).to_be_visible(timeout=10_000)
    tables = phone.wait_for_device(lambda t: not t["tasks"], timeout_s=10)
    assert tables["tasks"] == []
    assert tables["outbox"] == []
    everything = phone.device_data()
    assert "欧阳淑芬" not in everything
    assert "13922223333" not in everything
    assert "access_token" not in everything
