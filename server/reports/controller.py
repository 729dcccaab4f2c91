"""HTTP face of reports: the completion report, the trend and the bulletin (JSON, CSV,
XLSX)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, HeaderParameter, QueryParameter
from litestar.response import Stream

from server.auth.principal import Principal
from server.bounds import ID_MAX
from server.escalation.notifier import UnitNotifier
from server.guards import supervisors_only
from server.reports import export
from server.reports.activity import activity_stream
from server.reports.schemas import Bulletin, CompletionReport, Period, Trend
from server.reports.service import ReportService
from server.settings import Settings
from server.store.interface import Store
from server.streams import event_stream_response, still_allowed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def provide_report_service(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> ReportService:
    return ReportService(store, settings)


def provide_activity_notifier(state: State) -> UnitNotifier:
    notifier: UnitNotifier = state.activity_notifier
    return notifier


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [supervisors_only]
    dependencies = {
        "reports": Provide(provide_report_service, sync_to_thread=False),
        "activity_notifier": Provide(provide_activity_notifier, sync_to_thread=False),
    }

    @get("/completion", operation_id="completionReport", sync_to_thread=True)
    def completion(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ReportService],
        date_from: FromQuery[date],
        date_to: FromQuery[date],
        unit_id: FromQuery[str | None] = None,
        by_officer: FromQuery[bool] = True,
    ) -> CompletionReport:
        """Completion of a unit in the caller's jurisdiction (default: their own) over local
        days date_from..date_to, in total, by sub-unit and by officer. by_officer=false
        leaves by_officer empty and answers a city-month within a second (the console's
        ranking of sub-units); every other figure is the same. Another county's unit
        answers 404 like a missing one."""
        return reports.completion(principal, unit_id, date_from, date_to, by_officer=by_officer)

    @get("/trend", operation_id="trendReport", sync_to_thread=True)
    def trend(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ReportService],
        date_from: FromQuery[date],
        date_to: FromQuery[date],
        unit_id: FromQuery[str | None] = None,
    ) -> Trend:
        """A unit in the caller's jurisdiction (default: their own) day by day over local
        days date_from..date_to (at most 92): warnings received, visited, face to face, on
        time, overdue, the rates and the amount prevented; and the period's outcomes by
        fraud type. Another county's unit answers 404 like a missing one."""
        return reports.trend(principal, unit_id, date_from, date_to)

    @get("/bulletin", operation_id="bulletin", sync_to_thread=True)
    def bulletin(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ReportService],
        day: FromQuery[date],
        period: FromQuery[Period] = Period.DAY,
    ) -> Bulletin:
        """The bulletin of the caller's unit for the day, or the week (Monday to Sunday)
        or calendar month holding it: counties and stations ranked, lagging units named."""
        return reports.bulletin(principal, day, period)

    @get("/bulletin/csv", operation_id="bulletinCsv", media_type=CSV, sync_to_thread=True)
    def bulletin_csv(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ReportService],
        day: FromQuery[date],
        period: FromQuery[Period] = Period.DAY,
    ) -> Response[bytes]:
        """The bulletin as CSV, UTF-8 with a BOM (Excel and WPS read Chinese headers)."""
        bulletin = reports.bulletin(principal, day, period)
        return _download(export.to_csv(bulletin), CSV, export.filename(bulletin, "csv"))

    @get("/bulletin/xlsx", operation_id="bulletinXlsx", media_type=XLSX, sync_to_thread=True)
    def bulletin_xlsx(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ReportService],
        day: FromQuery[date],
        period: FromQuery[Period] = Period.DAY,
    ) -> Response[bytes]:
        """The bulletin as an Excel workbook: the ranking, and the lagging units."""
        bulletin = reports.bulletin(principal, day, period)
        return _download(export.to_xlsx(bulletin), XLSX, export.filename(bulletin, "xlsx"))

    @get("/events", operation_id="reportEvents", media_type="text/event-stream")
    async def events(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        store: NamedDependency[Store],
        activity_notifier: NamedDependency[UnitNotifier],
        last_event_id: Annotated[
            int | None, HeaderParameter(name="Last-Event-ID", ge=0, le=ID_MAX, required=False)
        ] = None,
        heartbeat: Annotated[int, QueryParameter(ge=1, le=60)] = 15,
    ) -> Stream:
        """Server-sent events: `changed` (id = data.audit_id) within a second of any
        commit that touches the caller's jurisdiction: a warning received, routed,
        dispatched, cancelled or escalated, a visit, a review. The figures are then stale:
        refetch them. A burst of commits is one event; `: ping` every `heartbeat` seconds;
        with `Last-Event-ID` a change missed meanwhile is told at once."""
        jurisdiction = principal.jurisdiction
        key = (jurisdiction.column.removesuffix("_id"), str(jurisdiction.value))
        return event_stream_response(
            activity_stream(
                store,
                activity_notifier,
                key,
                since=last_event_id,
                still_allowed=still_allowed(request),
                heartbeat=heartbeat,
            )
        )


def _download(content: bytes, media_type: str, name: str) -> Response[bytes]:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
