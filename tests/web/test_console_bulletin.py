"""A county supervisor hands up the day's bulletin: the page ranks the stations, and the
XLSX it downloads carries the same totals, a title naming the unit and the day, and a print
setup that fits landscape A4."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from playwright.sync_api import Locator, expect

from clients.device import DeviceClient
from tests.support.web import Console, ServerDesk
from tests.web.test_console_today import OTHER_STATION_GRID, visit_at_the_door


def cells(row: Locator) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_the_bulletin_downloads_as_the_xlsx_a_county_hands_up(
    console: Console, desk: ServerDesk, officer_phone: DeviceClient
) -> None:
    ours = [desk.deliver(name=n) for n in ("陈秀英", "王建国")]
    desk.deliver(OTHER_STATION_GRID, name="赵凤霞")
    visit_at_the_door(officer_phone, ours[0], 80_000)

    console.open("bulletin").log_in("county1")
    page = console.page
    total = page.locator("[data-test=bulletin-total-row]").first.locator("xpath=ancestor::tr")
    expect(total).to_contain_text("80,000")
    expect(page.locator("[data-test=bulletin-row]")).to_have_count(2)  # the county's stations
    shown = cells(total)
    # rank, unit, received, assigned, visited, face-to-face rate, on-time rate, overdue,
    # amount prevented, publicity: tasks, done, attendance, materials
    received, assigned, visited = (int(v) for v in shown[2:5])
    assert (received, assigned, visited) == (3, 3, 1)
    console.screenshot("console-bulletin")

    with page.expect_download() as download:
        page.locator("[data-test=download-xlsx]").click()
    path = download.value.path()
    book = load_workbook(io.BytesIO(path.read_bytes()))
    sheet = book["通报"]
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    title = str(sheet["A1"].value)
    assert title.endswith(f"日通报 {day}至{day}")
    assert title.startswith("川汇分局")  # the county, as the header of the console names it
    expect(page.locator("header")).to_contain_text("川汇分局")
    headers = [c.value for c in sheet[2]]
    [totals] = [r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "合计"]
    figure = dict(zip(headers, totals, strict=True))
    assert (figure["预警数"], figure["应访数"], figure["已访数"]) == (received, assigned, visited)
    assert figure["挽损金额(元)"] == 80_000
    assert f"{figure['见面率'] * 100:.1f}%" == shown[5]
    assert figure["逾期未访数"] == int(shown[7])
    # Printed as handed up: landscape A4, one page wide, the header frozen and repeated.
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth left out of the file means 1, the OOXML default.
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.freeze_panes == "E3"
    assert sheet.print_title_rows == "$1:$2"
