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


def _rows(bulletin: Bulletin) -> list[list[Any]]:
    return [[get(r) for _, get in COLUMNS] for r in [*bulletin.counties, *bulletin.stations]]


def _title(bulletin: Bulletin) -> str:
    kind = {"day": "日通报", "week": "周研判", "month": "月讲评"}[bulletin.period.value]
    return f"{bulletin.total.name}{kind} {bulletin.date_from}至{bulletin.date_to}"


def to_csv(bulletin: Bulletin) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in _rows(bulletin):
        writer.writerow(["" if v is None else v for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def to_xlsx(bulletin: Bulletin) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.00%"})
    sheet = book.add_worksheet("通报")
    sheet.write(0, 0, _title(bulletin), bold)
    sheet.write_row(1, 0, HEADERS, bold)
    for n, row in enumerate(_rows(bulletin), start=2):
        for c, value in enumerate(row):
            if value is None:
                continue
            sheet.write(n, c, value, percent if HEADERS[c] in RATE_COLUMNS else None)
    lagging = book.add_worksheet("落后单位")
    lagging.write(0, 0, "落后单位", bold)
    for n, name in enumerate(bulletin.lagging_units, start=1):
        lagging.write(n, 0, name)
    book.close()
    return buffer.getvalue()


def filename(bulletin: Bulletin, ext: str) -> str:
    return f"bulletin-{bulletin.unit_id}-{bulletin.period.value}-{bulletin.date_from}.{ext}"
