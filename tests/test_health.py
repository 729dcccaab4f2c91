"""What an operator's probes and Prometheus see: /readyz says whether to send traffic and
names what is wrong; /metrics counts by route template and verdict, never by resident,
and only for whom the operator allowed."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator

import anyio
import httpx
import msgspec
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from tests.support import raw
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.live import serve_in_thread
from tests.support.photos import OFFSET_TYPE, TUS, jpeg, metadata
from tests.support.sync import push, visit

pytestmark = pytest.mark.anyio
TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
async def local(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client on this machine's loopback address, as a local Prometheus scrapes."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def test_readyz_is_public_and_lists_its_checks(client: httpx.AsyncClient, app) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert [c["name"] for c in body["checks"]] == ["store", "migrations", "disk_space"]
    assert all(c["ok"] for c in body["checks"])
    operations = app.openapi_schema.to_schema()["paths"]
    assert operations["/readyz"]["get"]["operationId"] == "ready"
    assert operations["/readyz"]["get"]["security"] == []
    assert operations["/metrics"]["get"]["operationId"] == "metrics"


async def test_readyz_names_the_disk_when_photos_would_not_fit(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, city: TinyCity
) -> None:
    greedy = msgspec.structs.replace(settings, ready_min_free_mb=10**12)
    app = create_app(greedy, store=store, clock=clock, passwords=passwords)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = assert_problem(await c.get("/readyz"), 503, "not_ready")
    assert [e["field"] for e in body["errors"]] == ["disk_space"]
    assert "MiB wanted" in body["errors"][0]["reason"]
    assert body["detail"] == "not ready: disk_space"


async def test_readyz_names_migrations_the_code_does_not_know(
    client: httpx.AsyncClient, database: str
) -> None:
    # What a newer release leaves behind when this one is started on its database.
    if raw.is_postgres(database):
        future = "p999_from_the_future"
        raw.execute(database, "INSERT INTO beatsync_migrations (name) VALUES (?)", (future,))
    else:
        future = "m999_from_the_future"
        raw.execute(
            database,
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('beatsync', ?, '2027-01-01')",
            (future,),
        )
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    [error] = body["errors"]
    assert error["field"] == "migrations"
    assert future in error["reason"]


async def test_readyz_names_the_store_when_it_cannot_be_read(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "current_seq", broken)
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert [e["field"] for e in body["errors"]] == ["store"]
    assert body["errors"][0]["reason"] == "cannot read: OperationalError"


async def test_metrics_answer_only_this_machine_without_a_token(
    client: httpx.AsyncClient, local: httpx.AsyncClient
) -> None:
    assert_problem(await client.get("/metrics"), 403, "forbidden")
    # Through a reverse proxy on this machine: the proxy says whom it forwards for.
    proxied = await local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert_problem(proxied, 403, "forbidden")
    response = await local.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


async def test_with_a_token_metrics_want_it_from_everyone(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, city: TinyCity
) -> None:
    guarded = msgspec.structs.replace(settings, metrics_token=TOKEN)
    app = create_app(guarded, store=store, clock=clock, passwords=passwords)
    for peer in ("127.0.0.1", "10.0.0.7"):
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert_problem(await c.get("/metrics"), 401, "not_authenticated")
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert_problem(wrong, 401, "not_authenticated")
            right = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert right.status_code == 200
            assert "beatsync_http_requests_total" in right.text


class FlakyPlatform:
    """The platform's webhook receiver: down for the first delivery, then fine."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(500 if self.calls == 1 else 204)


@pytest.fixture
def app(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, city: TinyCity
) -> Litestar:
    hooked = msgspec.structs.replace(
        settings,
        webhook_url="https://platform.invalid/outcomes",
        webhook_secret="webhook-secret-0123456789",
    )
    return create_app(
        hooked,
        store=store,
        clock=clock,
        passwords=passwords,
        webhook_transport=httpx.MockTransport(FlakyPlatform()),
    )


async def test_metrics_count_the_days_work_by_route_and_verdict_and_name_no_one(
    client: httpx.AsyncClient,
    local: httpx.AsyncClient,
    app: Litestar,
    store: Store,
    clock: ManualClock,
    settings: Settings,
) -> None:
    platform = await as_platform(client)
    warnings = [a_warning("411602001001"), a_warning("411602001001")]
    answer = await client.post(
        "/api/v1/platform/warnings", json={"warnings": warnings}, headers=platform
    )
    first = answer.json()["results"][0]["warning_id"]
    o1 = await as_user(client, "o1")
    pulled = await client.get("/api/v1/sync/pull", headers=o1)
    assert len(pulled.json()["changes"]) == 2
    results = await push(client, o1, visit(first), {"type": "record_visit", "mutation_id": "m"})
    assert [r["status"] for r in results["results"]] == ["applied", "rejected"]
    assert (await client.get(f"/api/v1/warnings/{first}", headers=o1)).status_code == 200
    photo = jpeg(64, 48)
    created = await client.post(
        "/api/v1/uploads/",
        headers={**o1, **TUS, "Upload-Length": str(len(photo)), "Upload-Metadata": metadata(photo)},
    )
    sent = await client.patch(
        created.headers["location"],
        headers={**o1, **TUS, "Upload-Offset": "0", "Content-Type": OFFSET_TYPE},
        content=photo,
    )
    assert sent.status_code == 204
    clock.advance(minutes=31)  # the second warning, never contacted, is now overdue
    before = samples((await local.get("/metrics")).text)
    assert before[("beatsync_warnings_overdue", ())] == 1
    assert before[("beatsync_escalation_backlog", ())] == 1
    store.escalate(settings.deadline_minutes(), settings.escalation_step_minutes)
    sender = app.state.webhook_sender
    assert sender.deliver_once() == 0  # the platform is down: retried later
    clock.advance(minutes=1)
    assert sender.deliver_once() == 1

    text = (await local.get("/metrics")).text
    got = samples(text)
    assert got[("beatsync_warnings_overdue", ())] == 1
    assert got[("beatsync_escalation_backlog", ())] == 0  # the pass recorded its step
    assert got[("beatsync_sync_pushes_total", ())] == 1
    assert got[("beatsync_sync_mutations_total", (("verdict", "applied"),))] == 1
    assert got[("beatsync_sync_mutations_total", (("verdict", "rejected"),))] == 1
    assert got[("beatsync_sync_mutations_total", (("verdict", "conflict"),))] == 0
    assert got[("beatsync_sync_pulls_total", ())] == 1
    assert got[("beatsync_sync_pull_changes_total", ())] == 2
    assert got[("beatsync_upload_bytes_received_total", ())] == len(photo)
    assert got[("beatsync_uploads_in_progress", ())] == 0
    assert got[("beatsync_webhook_deliveries_total", (("result", "delivered"),))] == 1
    assert got[("beatsync_webhook_deliveries_total", (("result", "failed"),))] == 1
    one = (("method", "GET"), ("route", "/api/v1/warnings/{warning_id}"), ("status", "200"))
    assert got[("beatsync_http_requests_total", one)] == 1
    timed = (("method", "GET"), ("route", "/api/v1/warnings/{warning_id}"))
    assert got[("beatsync_http_request_duration_seconds_count", timed)] == 1
    routes = {dict(labels).get("route") for (_, labels) in got if dict(labels).get("route")}
    assert "/api/v1/sync/push" in routes
    # Templates only: no warning id, no upload id, whatever was asked.
    assert not [r for r in routes if r and re.search(r"/\d+(/|$)", r)]
    assert created.headers["location"].rsplit("/", 1)[-1] not in text
    for w in warnings:
        assert w["resident"]["phone"] not in text
        assert w["resident"]["id_number"] not in text
        assert w["resident"]["name"] not in text


async def test_an_open_event_stream_is_counted_until_it_closes(app: Litestar) -> None:
    def open_streams(base: str) -> float:
        text = httpx.get(f"{base}/metrics").text
        route = (("route", "/api/v1/sync/events"),)
        return samples(text).get(("beatsync_event_streams_open", route), 0.0)

    with serve_in_thread(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            o1 = await as_user(http, "o1")
            async with http.stream(
                "GET", "/api/v1/sync/events", headers=o1, params={"heartbeat": 1}
            ) as stream:
                assert stream.status_code == 200
                await stream.aiter_bytes().__anext__()  # the stream's first bytes
                assert open_streams(base) == 1
        deadline = 50  # heartbeats of 1 s: the server sees the hang-up at the next one
        while open_streams(base) != 0 and deadline:
            deadline -= 1
            await anyio.sleep(0.1)
        assert open_streams(base) == 0
