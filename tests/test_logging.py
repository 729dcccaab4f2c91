"""Every log line of a request carries its request, user and device ids, and no log line
carries a resident's phone or ID number."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from server.logs import REDACTED, configure_logging, redact
from tests.support.api import a_warning, as_platform, as_user
from tests.support.live import LiveServer

pytestmark = pytest.mark.anyio


async def test_log_lines_carry_ids_and_never_a_residents_numbers(client, city, capsys) -> None:
    platform = await as_platform(client)
    warnings = [
        a_warning("411602001001"),
        a_warning("411602009999"),
        a_warning(risk_level="wrong"),
        a_warning(summary="家属电话13912345678"),
    ]
    await client.post("/api/v1/platform/warnings", json={"warnings": warnings}, headers=platform)
    o1 = await as_user(client, "o1")
    listed = (await client.get("/api/v1/warnings/", headers=o1)).json()["items"]
    for w in listed:
        await client.get(f"/api/v1/warnings/{w['id']}", headers=o1)
    await client.get("/api/v1/warnings/999999", headers=o1)

    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) >= 6
    assert all(len(line["request_id"]) == 32 for line in requests)
    authenticated = [line for line in requests if line["path"].startswith("/api/v1/warnings")]
    assert authenticated
    assert all(line["user_id"] and line["device_id"] for line in authenticated)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for w in warnings:
        assert w["resident"]["phone"] not in text
        assert w["resident"]["id_number"] not in text
    assert "13912345678" not in text


def test_the_redactor_masks_numbers_inside_any_value_but_not_hex_ids() -> None:
    event = {
        "event": "x",
        "note": "call 13800001111 or 0394-8123456",
        "nested": {"id": "411602196001011234"},
        "request_id": "4a13800001111b2c",
    }
    out = redact(None, "info", dict(event))
    assert out["note"] == f"call {REDACTED} or {REDACTED}"
    assert out["nested"] == {"id": REDACTED}
    assert out["request_id"] == event["request_id"]


def test_uvicorns_own_lines_are_json_through_the_same_redactor(capsys) -> None:
    # What uvicorn logs at start, and an access line (beatsync serve turns uvicorn's off
    # and writes its own, but a log_config that turns it on gets JSON too). Configured
    # afresh: a uvicorn started by an earlier test silenced its access logger.
    configure_logging(json=True, level="info")
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8000")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.7:5000", "GET", "/x?phone=13912345678", "1.1", 200
    )
    try:
        raise ValueError("resident 411602196001011234 not found")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    by_logger = {line["logger"]: line for line in lines}
    assert by_logger["uvicorn.error"]["level"] == "error"
    assert lines[0]["event"] == "Uvicorn running on http://127.0.0.1:8000"
    assert lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")
    assert f"phone={REDACTED}" in by_logger["uvicorn.access"]["event"]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert "13912345678" not in text
    assert "411602196001011234" not in text
    assert "ValueError" in lines[-1]["exception"]


def test_every_line_beatsync_serve_writes_is_json_uvicorns_included(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, BEATSYNC_LOG_LEVEL="info").start()
    try:
        assert httpx.get(f"{live.base}/healthz").status_code == 200
        httpx.get(f"{live.base}/api/v1/warnings/13912345678")
    finally:
        live.stop()
    lines = [line for line in live.log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    loggers = {line.get("logger") for line in parsed}
    assert "uvicorn.error" in loggers
    events = [line["event"] for line in parsed]
    assert "Application startup complete." in events
    assert any(e.startswith("Finished server process") for e in events)
    requests = [line for line in parsed if line["event"] == "request"]
    assert {line["status"] for line in requests} >= {200, 401}
    assert "13912345678" not in live.log.read_text()
