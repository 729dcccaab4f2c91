from __future__ import annotations

import hmac
import ipaddress
import shutil
from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from server.auth.principal import Principal
from server.errors import AuthError, BeatsyncError, ErrorCode, FieldError, PermissionDenied
from server.metrics import CONTENT_TYPE, Metrics
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import is_postgres

MIB = 1024 * 1024


class Health(msgspec.Struct, kw_only=True):
    status: str
    seq: int


class HealthController(Controller):
    path = "/healthz"
    tags = ["health"]

    @get("/", operation_id="health", sync_to_thread=True, security=[])
    def health(self, store: NamedDependency[Store]) -> Health:
        """Liveness and a store round trip; no authentication."""
        return Health(status="ok", seq=store.current_seq())


class ReadyCheck(msgspec.Struct, kw_only=True):
    name: Literal["store", "migrations", "disk_space"]
    ok: bool
    detail: str


class Readiness(msgspec.Struct, kw_only=True):
    status: Literal["ready"]
    checks: list[ReadyCheck]


def _check_store(store: Store) -> ReadyCheck:
    try:
        seq = store.current_seq()
    except Exception as exc:  # any failure to read is "not reachable"
        return ReadyCheck(name="store", ok=False, detail=f"cannot read: {type(exc).__name__}")
    return ReadyCheck(name="store", ok=True, detail=f"seq {seq}")


def _check_migrations(store: Store) -> ReadyCheck:
    try:
        applied = store.applied_migrations()
    except Exception as exc:
        return ReadyCheck(name="migrations", ok=False, detail=f"cannot read: {type(exc).__name__}")
    known = store.known_migrations()
    pending = [m for m in known if m not in applied]
    unknown = [m for m in applied if m not in known]
    if pending:
        return ReadyCheck(name="migrations", ok=False, detail="pending: " + ", ".join(pending))
    if unknown:
        return ReadyCheck(
            name="migrations",
            ok=False,
            detail="the database is newer than this server: " + ", ".join(unknown),
        )
    return ReadyCheck(name="migrations", ok=True, detail=f"{len(applied)} applied")


def _existing(path: Path) -> Path:
    """The path, or its nearest folder that exists (the photo folder may not yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")  # pragma: no cover - "/" exists


def _check_disk(settings: Settings) -> ReadyCheck:
    wanted = settings.ready_min_free_mb
    folders = [Path(settings.photo_path).resolve()]
    if not is_postgres(settings.database_path):
        # A PostgreSQL server's disk is its own to watch; a SQLite file's is this one's.
        folders.append(Path(settings.database_path).resolve().parent)
    free = min(shutil.disk_usage(_existing(p)).free for p in folders)
    ok = free >= wanted * MIB
    detail = f"{free // MIB} MiB free, {wanted} MiB wanted"
    return ReadyCheck(name="disk_space", ok=ok, detail=detail)


class ReadinessController(Controller):
    path = "/readyz"
    tags = ["health"]

    @get("/", operation_id="ready", sync_to_thread=True, security=[])
    def ready(
        self, store: NamedDependency[Store], settings: NamedDependency[Settings]
    ) -> Readiness:
        """Whether to send this server traffic: the store answers, its migrations are the
        ones this code knows, and the disks of the photos and the database have
        BEATSYNC_READY_MIN_FREE_MB free (on PostgreSQL, the photos' disk alone).
        Otherwise `503 not_ready`, its `errors` naming each check that failed. No
        authentication."""
        reached = _check_store(store)
        # A store that cannot be read has no migrations to read either; asking would only
        # wait as long again for the same answer.
        migrations = [_check_migrations(store)] if reached.ok else []
        checks = [reached, *migrations, _check_disk(settings)]
        failed = [c for c in checks if not c.ok]
        if failed:
            raise BeatsyncError(
                "not ready: " + ", ".join(c.name for c in failed),
                code=ErrorCode.NOT_READY,
                errors=[FieldError(field=c.name, reason=c.detail) for c in failed],
            )
        return Readiness(status="ready", checks=checks)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_access(request: Request[Any, Any, Any], token: str) -> None:
    """With BEATSYNC_METRICS_TOKEN, its bearer token from anywhere; without, only a
    loopback peer that came through no proxy (a proxy would add its forwarding header)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise AuthError("send 'Authorization: Bearer <BEATSYNC_METRICS_TOKEN>'")
        return
    peer = request.client.host if request.client else ""
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if proxied or not _loopback(peer):
        raise PermissionDenied(
            "metrics are served to this machine only; set BEATSYNC_METRICS_TOKEN to"
            " scrape them from elsewhere"
        )


class MetricsController(Controller):
    path = "/metrics"
    tags = ["health"]

    @get(
        "/",
        operation_id="metrics",
        sync_to_thread=True,
        security=[],
        media_type=CONTENT_TYPE,
        response_description="Prometheus text exposition format 0.0.4",
    )
    def metrics(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Response[bytes]:
        """Counters, gauges and histograms for Prometheus: requests by route template and
        status with latency, pushes and mutations by verdict, pulls, open event streams,
        upload bytes and uploads in progress, the escalation backlog, webhook deliveries.
        No resident's data and no ids. With BEATSYNC_METRICS_TOKEN set it wants that
        bearer token; without, it answers only a loopback peer that came through no proxy."""
        check_metrics_access(request, settings.metrics_token)
        metrics: Metrics = request.app.state.metrics
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)


class Pong(msgspec.Struct, kw_only=True):
    user_id: int
    device_id: str


class PingController(Controller):
    path = "/api/v1/ping"
    tags = ["health"]

    @get("/", operation_id="ping", sync_to_thread=False)
    def ping(self, principal: NamedDependency[Principal]) -> Pong:
        """Does nothing but check the token: an app's connectivity test, and the HTTP
        ceiling the sync benchmark measures beside the real endpoints."""
        return Pong(user_id=principal.user_id, device_id=principal.device_id)

    @post("/", operation_id="pingWithBody", status_code=200)
    async def ping_with_body(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Pong:
        """Reads a body of any size the server accepts and discards it."""
        await request.body()
        return Pong(user_id=principal.user_id, device_id=principal.device_id)
