"""A warning the platform sends shows on the officer's open app within seconds."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk


def test_a_new_warning_appears_on_the_open_app_within_two_seconds(
    phone: Phone, desk: ServerDesk
) -> None:
    phone.open().log_in("o1")
    expect(phone.page.locator("[data-test=sync-state]")).to_contain_text("在线")
    assert phone.cards() == []
    # Let the app settle on its event stream, as a phone lying on the desk would.
    phone.page.wait_for_timeout(1_000)

    started = time.monotonic()
    warning = desk.deliver(name="周玉梅")
    expect(phone.card(warning)).to_be_visible(timeout=5_000)
    took = time.monotonic() - started
    assert took < 2.0, f"the warning took {took:.2f} s to show"
    expect(phone.page.locator("[data-test=new-task-notice]")).to_contain_text("周玉梅")
