"""The bulletin as files staff open in Excel or WPS: CSV (UTF-8 with a BOM, without which
both read Chinese headers as GBK and garble them) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import xlsxwriter

from server.reports.schemas import Bulletin, BulletinRow

LEVEL_NAMES = {"county": "县区", "station": "派出所"}
# (header, value of a row). Rates are fractions; the XLSX shows them as percentages.
COLUMNS: list[tuple[str, Callable[[BulletinRow], Any]]] = [
    ("级别", lambda r: LEVEL_NAMES.get(r.level, r.level)),
    ("排名", lambda r: r.rank),
    ("单位编码", lambda r: r.unit_id),
    ("单位", lambda r: r.name),
    ("预警数", lambda r: r.warnings.received),
    ("撤销数", lambda r: r.warnings.cancelled),
    ("应访数", lambda r: r.warnings.assigned),
    ("已访数", lambda r: r.warnings.visited),
    ("见面劝阻数", lambda r: r.warnings.face_to_face),
    ("见面率", lambda r: r.warnings.face_to_face_rate),
    ("按时数", lambda r: r.warnings.on_time),
    ("按时率", lambda r: r.warnings.on_time_rate),
    ("超时接触数", lambda r: r.warnings.late),
    ("逾期未访数", lambda r: r.warnings.overdue),
    ("首次接触中位数(分钟)", lambda r: r.warnings.contact_minutes_median),
    ("首次接触P90(分钟)", lambda r: r.warnings.contact_minutes_p90),
    ("劝阻成功", lambda r: r.warnings.outcomes.get("dissuaded", 0)),
    ("已被骗", lambda r: r.warnings.outcomes.get("already_lost", 0)),
    ("未联系上", lambda r: r.warnings.outcomes.get("not_reachable", 0)),
    ("拒绝", lambda r: r.warnings.outcomes.get("refused", 0)),
    ("误报", lambda r: r.warnings.outcomes.get("false_alarm", 0)),
    ("挽损金额(元)", lambda r: r.warnings.amount_prevented),
    ("宣传任务数", lambda r: r.publicity.tasks),
    ("宣传完成数", lambda r: r.publicity.done),
    ("宣传逾期数", lambda r: r.publicity.overdue),
    ("参与人数", lambda r: r.publicity.attendance),
    ("发放材料", lambda r: r.publicity.materials),
    ("落后单位", lambda r: "是" if r.lagging else ""),
]
HEADERS = [h for h, _ in COLUMNS]
RATE_COLUMNS = {"见面率", "按时率"}
TOTAL_LABEL = "合计"
# Excel and WPS measure a column in widths of "0"; a Chinese character takes about two.
_MIN_WIDTH, _MAX_WIDTH, _HEADER_WRAP = 6, 40, 12
_A4 = 9  # XlsxWriter's paper code
# Excel and WPS read a cell that begins with one of these as a formula: a unit named
# `=HYPERLINK(...)` would run in the sheet a supervisor opens (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text only, never formulas or links, whatever a string begins with.
_BOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}


def as_text_cell(value: Any) -> Any:
    """OWASP's rule: text that a spreadsheet would read as a formula gets a leading single
    quote. Numbers are not text: they stay numbers (a negative count is still a count)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _cells(values: list[Any]) -> list[Any]:
    return [as_text_cell(v) for v in values]


def _rows(bulletin: Bulletin) -> list[list[Any]]:
    units = [*bulletin.counties, *bulletin.stations]
    return [_cells([get(r) for _, get in COLUMNS]) for r in units]


def _total(bulletin: Bulletin) -> list[Any]:
    """The unit's own figures, as the page shows them: not a sum of the rows, which list
    counties and their stations both."""
    row = BulletinRow(
        level=TOTAL_LABEL,
        rank=0,
        unit_id=bulletin.unit_id,
        name=bulletin.total.name,
        lagging=False,
        warnings=bulletin.total.warnings,
        publicity=bulletin.total.publicity,
    )
    values = _cells([get(row) for _, get in COLUMNS])
    values[HEADERS.index("排名")] = None
    return values


def _title(bulletin: Bulletin) -> str:
    kind = {"day": "日通报", "week": "周研判", "month": "月讲评"}[bulletin.period.value]
    text: str = as_text_cell(
        f"{bulletin.total.name}{kind} {bulletin.date_from}至{bulletin.date_to}"
    )
    return text


def to_csv(bulletin: Bulletin) -> bytes:
    """Title, header, one row per unit, then the unit's totals: the sheet as handed up."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_title(bulletin)])
    writer.writerow(HEADERS)
    for row in [*_rows(bulletin), _total(bulletin)]:
        writer.writerow(["" if v is None else v for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _display_width(value: Any) -> int:
    if value is None:
        return 0
    text = f"{value:.2%}" if isinstance(value, float) and value <= 1 else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def column_widths(rows: list[list[Any]]) -> list[int]:
    """Wide enough for every value; a long header wraps instead of widening its column."""
    widths = []
    for c, header in enumerate(HEADERS):
        widest = max([_display_width(r[c]) for r in rows] or [0])
        head = min(_display_width(header), _HEADER_WRAP)
        widths.append(max(_MIN_WIDTH, min(_MAX_WIDTH, max(widest, head) + 2)))
    return widths


def to_xlsx(bulletin: Bulletin) -> bytes:
    """A sheet a supervisor prints and hands up as it is: a title naming the unit and the
    period, a frozen header, a totals row, columns that fit, landscape A4 one page wide."""
    rows = _rows(bulletin)
    total = _total(bulletin)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, _BOOK_OPTIONS)
    title = book.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = book.add_format(
        {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center", "border": 1}
    )
    head.set_bg_color("#DDE5F0")
    plain = book.add_format({"border": 1})
    percent = book.add_format({"num_format": "0.00%", "border": 1})
    total_plain = book.add_format({"bold": True, "top": 2, "border": 1})
    total_percent = book.add_format({"bold": True, "top": 2, "border": 1, "num_format": "0.00%"})
    sheet = book.add_worksheet("通报")
    last_col = len(HEADERS) - 1
    sheet.merge_range(0, 0, 0, last_col, _title(bulletin), title)
    sheet.set_row(1, 32)
    sheet.write_row(1, 0, HEADERS, head)
    for n, row in enumerate([*rows, total], start=2):
        is_total = row is total
        for c, value in enumerate(row):
            rate = HEADERS[c] in RATE_COLUMNS
            if is_total:
                style = total_percent if rate else total_plain
            else:
                style = percent if rate else plain
            if value is None:
                sheet.write_blank(n, c, None, style)
            else:
                sheet.write(n, c, value, style)
    for c, width in enumerate(column_widths([*rows, total])):
        sheet.set_column(c, c, width)
    sheet.freeze_panes(2, 4)
    sheet.set_landscape()
    sheet.set_paper(_A4)
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as it takes
    sheet.repeat_rows(0, 1)
    sheet.center_horizontally()
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&C第 &P 页，共 &N 页")
    lagging = book.add_worksheet("落后单位")
    lagging.write(0, 0, "落后单位", head)
    lagging.set_column(0, 0, 30)
    for n, name in enumerate(bulletin.lagging_units, start=1):
        lagging.write_string(n, 0, as_text_cell(name))
    book.close()
    return buffer.getvalue()


def filename(bulletin: Bulletin, ext: str) -> str:
    return f"bulletin-{bulletin.unit_id}-{bulletin.period.value}-{bulletin.date_from}.{ext}"
