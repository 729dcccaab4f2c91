"""A station supervisor's morning: the landing page shows the station's day exactly as the
report API counts it, nothing of another station is anywhere to be found, and an officer's
visit moves the figures while the page stays open."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from clients.device import DeviceClient
from tests.support.web import Console, ServerDesk

OTHER_STATION_GRID = "411602002001"  # 陈州派出所, o3's grid: not sup1's


def today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def station_report(desk: ServerDesk) -> dict[str, Any]:
    report: dict[str, Any] = desk.call(
        "GET",
        "/api/v1/reports/completion",
        "sup1",
        params={"unit_id": "411602-01", "date_from": today(), "date_to": today()},
    )
    return report["total"]["warnings"]


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def visit_at_the_door(phone: DeviceClient, warning: int, amount: int) -> None:
    phone.pull()
    phone.record_visit(
        "warning",
        warning,
        arrived_at=datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
        contact="face_to_face",
        outcome="dissuaded",
        amount_prevented=amount,
        position={"lat": 33.6255, "lon": 114.6478, "accuracy_m": 12},
    )
    phone.push()


def test_the_landing_page_shows_the_station_day_as_the_report_counts_it(
    console: Console, desk: ServerDesk, officer_phone: DeviceClient
) -> None:
    visited, waiting, _ = (desk.deliver(name=n) for n in ("陈秀英", "王建国", "李桂兰"))
    elsewhere = desk.deliver(OTHER_STATION_GRID, name="赵凤霞")
    visit_at_the_door(officer_phone, visited, 50_000)

    console.open().log_in("sup1")
    figures = station_report(desk)
    assert (figures["assigned"], figures["visited"]) == (3, 1)
    page = console.page
    expect(page.locator("[data-test=kpi-assigned]")).to_have_text(str(figures["assigned"]))
    expect(page.locator("[data-test=kpi-visited]")).to_have_text(str(figures["visited"]))
    expect(page.locator("[data-test=kpi-overdue]")).to_have_text(str(figures["overdue"]))
    expect(page.locator("[data-test=kpi-face_to_face_rate]")).to_have_text(
        percent(figures["face_to_face_rate"])
    )
    expect(page.locator("[data-test=kpi-on_time_rate]")).to_have_text(
        percent(figures["on_time_rate"])
    )
    assert console.number("[data-test=kpi-amount_prevented]") == figures["amount_prevented"]
    assert console.number("[data-test=kpi-median_minutes]") == round(
        figures["contact_minutes_median"]
    )
    page.wait_for_timeout(1500)  # the charts arrive after the figures
    console.screenshot("console-today")

    # The warnings list holds the station's three, never the other station's.
    console.open("warnings")
    rows = page.locator("[data-test=warning-row]")
    expect(rows).to_have_count(3)
    expect(page.get_by_text("赵凤霞")).to_have_count(0)
    expect(page.get_by_text("王建国").first).to_be_visible()
    assert waiting != elsewhere
    # Received yesterday: none of them; today: all three.
    yesterday = (date.fromisoformat(today()) - timedelta(days=1)).isoformat()
    for day, count in ((yesterday, 0), (today(), 3)):
        dates = page.locator(".el-range-editor input")
        dates.nth(0).fill(day)
        dates.nth(1).fill(day)
        dates.nth(1).press("Enter")
        page.locator("[data-test=filter-search]").click()
        expect(rows).to_have_count(count)
    # Typed in by hand, its page says "not found", as a missing warning's would.
    console.open(f"warnings/{elsewhere}")
    expect(page.locator("[data-test=not-found]")).to_be_visible()
    expect(page.get_by_text("赵凤霞")).to_have_count(0)


def test_an_officers_visit_moves_the_figures_without_a_reload(
    console: Console, desk: ServerDesk, officer_phone: DeviceClient
) -> None:
    first, second = desk.deliver(name="陈秀英"), desk.deliver(name="王建国")
    console.open().log_in("sup1")
    page = console.page
    expect(page.locator("[data-test=kpi-visited]")).to_have_text("0")
    page.evaluate("window.__stayedOpen = true")

    visit_at_the_door(officer_phone, first, 20_000)
    expect(page.locator("[data-test=kpi-visited]")).to_have_text("1", timeout=10_000)
    visit_at_the_door(officer_phone, second, 30_000)
    expect(page.locator("[data-test=kpi-visited]")).to_have_text("2", timeout=10_000)
    assert console.number("[data-test=kpi-amount_prevented]") == 50_000
    # The same page all along: a reload would have dropped this flag.
    assert page.evaluate("window.__stayedOpen") is True
