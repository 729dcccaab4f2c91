"""Every log line of a request carries its request, user and device ids, and no log line
carries a resident's phone or ID number."""

from __future__ import annotations

import json

import pytest

from server.logs import REDACTED, redact
from tests.support.api import a_warning, as_platform, as_user

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
