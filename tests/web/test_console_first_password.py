"""A station gets a new supervisor: the city administrator issues a one-time password in
the console and hands it over; the supervisor's first login asks for a password of their
own, and only that one works afterwards (issue 12: no working password leaves the desk)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.support.live import LiveServer
from tests.support.web import Console, Phone, ServerDesk


def test_a_one_time_password_only_lets_its_owner_choose_their_own(
    console: Console, browser: Browser, server: LiveServer
) -> None:
    console.open("admin").log_in("admin")
    page = console.page
    row = page.locator("[data-test=user-row][data-login=sup2]").locator("xpath=ancestor::tr")
    row.locator("[data-test=issue-password]").click()
    page.locator(".el-message-box__btns .el-button--primary").click()
    shown = page.locator("[data-test=initial-password]")
    expect(shown).to_be_visible()
    once = shown.inner_text().strip()
    assert len(once) == 12
    console.screenshot("console-initial-password")

    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        theirs = Console(desk.new_page(), server.base, console.shots)
        theirs.open()
        theirs.page.locator("input[data-test=login-name], [data-test=login-name] input").fill(
            "sup2"
        )
        theirs.page.locator(
            "input[data-test=login-password], [data-test=login-password] input"
        ).fill(once)
        theirs.page.locator("[data-test=login-submit]").click()
        expect(theirs.page.locator("[data-test=choose-password]")).to_be_visible()
        for field in ("new-password", "confirm-password"):
            theirs.page.locator(f"input[data-test={field}], [data-test={field}] input").fill(
                "Chen-zhou-own-1"
            )
        theirs.page.locator("[data-test=login-submit]").click()
        expect(theirs.page.locator("[data-test=logout]")).to_be_visible()
        expect(theirs.page.locator("[data-test=kpi-assigned]")).to_be_visible()
    finally:
        desk.close()


def test_an_officer_sets_their_own_password_on_the_phone_at_first_login(
    phone: Phone, desk: ServerDesk
) -> None:
    warning = desk.deliver(name="陈秀英")
    issued = desk.call("POST", f"/api/v1/users/{desk.user_id('o1')}/initial-password", "admin")
    page = phone.open().page
    page.locator("[data-test=login-name] input, input[data-test=login-name]").fill("o1")
    page.locator("[data-test=login-password] input, input[data-test=login-password]").fill(
        issued["initial_password"]
    )
    page.locator("[data-test=login-submit]").click()
    expect(page.locator("[data-test=choose-password]")).to_be_visible()
    for field in ("new-password", "confirm-password"):
        page.locator(f"[data-test={field}] input, input[data-test={field}]").fill("Zhang-own-77")
    phone.screenshot("officer-choose-password")
    page.locator("[data-test=login-submit]").click()
    expect(page.locator("[data-test=sync-state]")).to_be_visible()
    assert phone.wait_for_cards(1) == [("warning", warning)]
