"""The application factory: settings, store and clock in; a Litestar ASGI app out."""

from __future__ import annotations

import asyncio

import anyio
import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from server import maintenance
from server.audit.controller import AuditController
from server.auth.controller import AuthController, SessionController
from server.auth.passwords import Passwords
from server.auth.service import AuthService
from server.bodies import decode_json_body_strictly
from server.clock import Clock, SystemClock
from server.conflicts.controller import ConflictController
from server.deps import provide_principal
from server.devices.controller import DeviceController
from server.escalation import service as escalation
from server.escalation.controller import EscalationController
from server.escalation.notifier import UnitNotifier
from server.explorer import explorer_router, swagger_plugin
from server.health import HealthController, MetricsController, PingController, ReadinessController
from server.leases import JobLease, new_holder
from server.logs import configure_logging
from server.loop import service as loop
from server.loop.controller import OutcomeFeedController, WebhookController
from server.metrics import Metrics
from server.middleware import PUBLIC_PATHS, BearerAuthMiddleware, RequestContextMiddleware
from server.openapi import add_problem_responses
from server.org.controller import OrgController, OrgImportController
from server.oversight.controller import OversightController
from server.problems import problem_response
from server.publicity.controller import PublicityTaskController
from server.reports.controller import ReportController
from server.review.controller import ReviewController
from server.settings import Settings, load_settings
from server.store.interface import Store
from server.store.opening import open_store
from server.sync.controller import SyncController
from server.sync.events import ScopeNotifier
from server.timeline.controller import TimelineController
from server.uploads.controller import upload_routes
from server.uploads.service import UploadService
from server.uploads.storage import FileSystemStorage
from server.warnings.controller import PlatformWarningController, WarningController
from server.webapp import APPS, StaticApp, app_dir
from server.webapp import ROUTES as WEBAPP_ROUTES

API_VERSION = "1.0.0"
ROUTE_HANDLERS = [
    HealthController,
    ReadinessController,
    MetricsController,
    PingController,
    AuthController,
    SessionController,
    DeviceController,
    PlatformWarningController,
    WarningController,
    PublicityTaskController,
    AuditController,
    OrgController,
    OrgImportController,
    SyncController,
    ConflictController,
    ReportController,
    EscalationController,
    OutcomeFeedController,
    WebhookController,
    ReviewController,
    OversightController,
    TimelineController,
]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="beatsync",
        version=API_VERSION,
        description="Warnings and anti-fraud publicity for officers in the field.",
        # Swagger UI's files from beatsync itself: an intranet reaches no CDN.
        openapi_router=explorer_router(),
        render_plugins=[swagger_plugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=True,
    )


def _scrape_time_gauges(
    store: Store, settings: Settings, uploads: UploadService
) -> list[tuple[str, str, float]]:
    """What /metrics reads when scraped, never per request: one indexed count."""
    overdue, unescalated = store.escalation_backlog(settings.deadline_minutes())
    return [
        ("beatsync_uploads_in_progress", "Uploads receiving bytes now.", uploads.receiving),
        (
            "beatsync_warnings_overdue",
            "Open warnings never contacted past their risk level's minutes to contact.",
            overdue,
        ),
        (
            "beatsync_escalation_backlog",
            "Overdue warnings with no escalation step recorded yet: above 0 for longer than"
            " BEATSYNC_ESCALATION_INTERVAL means escalation is not keeping up.",
            unescalated,
        ),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    passwords: Passwords | None = None,
    webhook_transport: httpx.BaseTransport | None = None,
) -> Litestar:
    """Build the app. Pass a store, clock, password hasher or the webhooks' HTTP transport
    to swap them (tests do)."""
    settings = settings or load_settings()
    settings.check()
    owns_store = store is None
    clock = clock or (store.clock if store is not None else SystemClock())
    # Never migrates an existing database: other nodes may still serve the older release
    # from it (`beatsync migrate` does, deliberately).
    store = store if store is not None else open_store(settings.database_path, clock, migrate=False)
    passwords = passwords or Passwords(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    the_store = store
    notifier = ScopeNotifier()
    store.on_scope_change(notifier.listener)
    unit_notifier = UnitNotifier()
    store.on_escalation(unit_notifier.publish)
    activity_notifier = UnitNotifier()
    store.on_audit(activity_notifier.listener)
    metrics = Metrics()
    webhook_sender = loop.WebhookSender(store, settings, webhook_transport, metrics=metrics)
    uploads = UploadService(
        store, settings, FileSystemStorage(settings.photo_path), metrics=metrics
    )
    metrics.add_gauges(lambda: _scrape_time_gauges(the_store, settings, uploads))

    def _store() -> Store:
        return the_store

    def _settings() -> Settings:
        return settings

    def _passwords() -> Passwords:
        return passwords

    tasks: list[asyncio.Task[None]] = []
    # Each background job runs in one process at a time, whichever holds its lease
    # (server/leases.py); this app is one holder.
    holder = new_holder()
    leases = {
        name: JobLease(the_store, name, holder, interval)
        for name, interval in (
            ("maintenance", settings.maintenance_interval_seconds),
            ("escalation", settings.escalation_interval_seconds),
            ("webhooks", settings.webhook_interval_seconds),
        )
    }

    def _start() -> None:
        if settings.maintenance_interval_seconds > 0:
            tasks.append(
                asyncio.get_running_loop().create_task(
                    maintenance.run_forever(
                        the_store, settings, uploads.sweep, leases["maintenance"]
                    )
                )
            )
        if settings.escalation_interval_seconds > 0:
            tasks.append(
                asyncio.get_running_loop().create_task(
                    escalation.run_forever(the_store, settings, unit_notifier, leases["escalation"])
                )
            )
        if settings.webhook_url and settings.webhook_interval_seconds > 0:
            tasks.append(
                asyncio.get_running_loop().create_task(
                    loop.run_forever(webhook_sender, leases["webhooks"])
                )
            )

    async def _close() -> None:
        for task in tasks:
            task.cancel()
        # Given up, not left to expire, so that another process takes over at once.
        for lease in leases.values():
            await anyio.to_thread.run_sync(lease.release)
        if owns_store:
            the_store.close()

    app = Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            *upload_routes(settings.photo_max_bytes),
            *WEBAPP_ROUTES,
        ],
        dependencies={
            "store": Provide(_store, sync_to_thread=False),
            "settings": Provide(_settings, sync_to_thread=False),
            "passwords": Provide(_passwords, sync_to_thread=False),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        middleware=[DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS)],
        exception_handlers={Exception: problem_response},
        before_request=decode_json_body_strictly,
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_request_bytes,
        state=State(
            {
                "auth_service": AuthService(store, settings, passwords),
                "store": store,
                "settings": settings,
                "notifier": notifier,
                "unit_notifier": unit_notifier,
                "activity_notifier": activity_notifier,
                "webhook_sender": webhook_sender,
                "uploads": uploads,
                "metrics": metrics,
                "leases": leases,
                "webapps": {name: StaticApp(app_dir(settings.web_dir, name)) for name in APPS},
            }
        ),
        on_startup=[_start],
        on_shutdown=[_close],
        # No logging setup of Litestar's own: it would give the root logger a plain-text
        # handler; server/logs.py renders every logger's lines as JSON.
        logging_config=None,
        debug=False,
    )
    # Outermost, so that the access line sees the final status of every response,
    # problem documents included, and every log line of the request carries its id.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler, metrics)
    add_problem_responses(app)
    return app


def create_worker_app() -> Litestar:
    """One worker of `beatsync serve --workers N`: a process of its own, so it sets up its
    own logging and opens its own store from the environment (BEATSYNC_DATABASE and the
    rest, as `serve` left them). Background jobs run in one worker at a time (leases);
    event streams hear the other workers' commits (server/store/peer_commits.py)."""
    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    return create_app(settings)
