"""An officer opens the app on a phone, logs in, and sees their own work, most urgent first."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

from playwright.sync_api import expect

from tests.support.web import Phone, ServerDesk


def test_an_officer_sees_only_their_own_warnings_most_urgent_first(
    phone: Phone, desk: ServerDesk
) -> None:
    # o1 holds 七一路社区; o2 holds 八一路社区 at the same station, o3 a village of another
    # station of the same county, o4 a village of another county.
    relaxed = desk.deliver(name="孙桂兰", risk_level="low", deadline_in=timedelta(hours=20))
    urgent = desk.deliver(name="陈秀英", risk_level="high", deadline_in=timedelta(minutes=40))
    middle = desk.deliver(name="刘建国", risk_level="medium", deadline_in=timedelta(hours=3))
    desk.deliver("411602001002", name="同所别人的群众")
    desk.deliver("411602002001", name="别的派出所的群众")
    desk.deliver("411621001001", name="别的县的群众")

    phone.open().log_in("o1")

    assert phone.wait_for_cards(3) == [
        ("warning", urgent),
        ("warning", middle),
        ("warning", relaxed),
    ]
    first = phone.card(urgent)
    expect(first).to_contain_text("陈秀英")
    expect(first).to_contain_text("高风险")
    expect(first).to_contain_text("虚假网络贷款")
    # Tap to call: the resident's number is a tel: link on the card.
    phone_link = first.locator("a[href^='tel:']")
    resident_phone = desk.warning(urgent)["resident"]["phone"]
    expect(phone_link).to_have_attribute("href", f"tel:{resident_phone}")
    text = phone.page.content()
    for stranger in ("同所别人的群众", "别的派出所的群众", "别的县的群众"):
        assert stranger not in text
        assert stranger not in phone.device_data()
    phone.screenshot("officer-tasks")


def test_the_app_installs_to_the_home_screen(phone: Phone) -> None:
    phone.open()
    manifest_href = phone.page.locator("link[rel=manifest]").get_attribute("href")
    assert manifest_href
    manifest = phone.page.request.get(urljoin(phone.page.url, manifest_href)).json()
    assert manifest["start_url"].startswith("/app/")
    assert manifest["display"] == "standalone"
    assert manifest["lang"] == "zh-CN"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        response = phone.page.request.get(urljoin(f"{phone.base}/app/", icon["src"]))
        assert response.ok, icon["src"]
        assert response.body()[:8] == b"\x89PNG\r\n\x1a\n"
    # The device id is made once and kept: the login screen shows the one it will use.
    device = phone.page.locator("[data-test=device-id]").inner_text()
    phone.page.reload()
    assert phone.page.locator("[data-test=device-id]").inner_text() == device
