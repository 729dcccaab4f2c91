"""Stored photos: linked to visit logs by sha256 whichever arrives first, read back with
EXIF facts, a clean thumbnail, ETag and Range, only by those who may, and never removed
once a visit log claims them."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.photos import (
    LAT,
    LON,
    OFFSET_TYPE,
    TAKEN_AT,
    TUS,
    heic,
    jpeg,
    metadata,
    sha256,
)
from tests.support.sync import push, visit

pytestmark = pytest.mark.anyio
UPLOADS = "/api/v1/uploads/"
PHOTOS = "/api/v1/photos"


async def upload(client: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> str:
    response = await client.post(
        UPLOADS,
        headers={
            **headers,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(data, filetype="image/jpeg"),
            "Content-Type": OFFSET_TYPE,
        },
        content=data,
    )
    assert response.status_code == 201, response.text
    assert response.headers["upload-offset"] == str(len(data))
    return sha256(data)


async def deliver(client: httpx.AsyncClient, grid: str = "411602001001") -> int:
    response = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning(grid)]},
        headers=await as_platform(client),
    )
    warning_id: int = response.json()["results"][0]["warning_id"]
    return warning_id


async def task_photos(
    client: httpx.AsyncClient, headers: dict[str, str], warning_id: int
) -> dict[str, Any]:
    response = await client.get(f"{PHOTOS}/tasks/warning/{warning_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_visit_and_its_photos_meet_whichever_arrives_first(client, city) -> None:
    warning = await deliver(client)
    o1 = await as_user(client, "o1")
    sup1 = await as_user(client, "sup1")
    door, crowd = jpeg(seed=1), jpeg(seed=2)
    # The door photo goes up before the visit log that names it ...
    await upload(client, o1, door)
    result = await push(client, o1, visit(warning, photos=[sha256(door), sha256(crowd)]))
    assert result["results"][0]["status"] == "applied"
    seen = await task_photos(client, sup1, warning)
    assert (seen["received"], seen["pending"]) == (1, 1)
    [entry] = seen["visits"]
    status = {p["sha256"]: p["status"] for p in entry["photos"]}
    assert status == {sha256(door): "received", sha256(crowd): "pending"}
    # ... the other after it.
    await upload(client, o1, crowd)
    seen = await task_photos(client, sup1, warning)
    assert (seen["received"], seen["pending"]) == (2, 0)
    received = {p["sha256"]: p["photo"] for p in seen["visits"][0]["photos"]}
    facts = received[sha256(door)]
    assert facts["taken_at"] == TAKEN_AT
    assert facts["position"] == {"lat": pytest.approx(LAT), "lon": pytest.approx(LON)}
    assert (facts["width"], facts["height"], facts["media_type"]) == (640, 480, "image/jpeg")
    assert facts["thumbnail_url"] == f"{PHOTOS}/{sha256(door)}/thumbnail"


async def test_the_thumbnail_is_small_upright_and_carries_no_metadata(client, city) -> None:
    o1 = await as_user(client, "o1")
    # Orientation 6: the camera was turned; the thumbnail must be turned back.
    digest = await upload(client, o1, jpeg(640, 480, orientation=6))
    response = await client.get(f"{PHOTOS}/{digest}/thumbnail", headers=o1)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{digest}-thumb"'
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.size == (240, 320)  # upright: portrait
    assert len(thumb.getexif()) == 0
    assert "exif" not in thumb.info
    assert b"SN-123456789" not in response.content
    assert b"PhoneMaker" not in response.content


async def test_heic_photos_get_their_facts_and_a_thumbnail(client, city, store: Store) -> None:
    o1 = await as_user(client, "o1")
    data = heic()
    response = await client.post(
        UPLOADS,
        headers={
            **o1,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(data, filetype="image/heic"),
            "Content-Type": OFFSET_TYPE,
        },
        content=data,
    )
    assert response.status_code == 201
    facts = (await client.get(f"{PHOTOS}/{sha256(data)}", headers=o1)).json()
    assert facts["media_type"] == "image/heic"
    assert facts["taken_at"] == TAKEN_AT
    assert facts["thumbnail_url"]
    thumb = await client.get(facts["thumbnail_url"], headers=o1)
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"


async def test_downloads_carry_an_etag_and_serve_ranges(client, city) -> None:
    o1 = await as_user(client, "o1")
    data = jpeg()
    digest = await upload(client, o1, data)
    url = f"{PHOTOS}/{digest}/content"
    whole = await client.get(url, headers=o1)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "image/jpeg"
    assert whole.headers["etag"] == f'"{digest}"'
    assert whole.headers["accept-ranges"] == "bytes"
    again = await client.get(url, headers={**o1, "If-None-Match": f'"{digest}"'})
    assert again.status_code == 304
    assert again.content == b""
    part = await client.get(url, headers={**o1, "Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = await client.get(url, headers={**o1, "Range": "bytes=-500"})
    assert (tail.status_code, tail.content) == (206, data[-500:])
    rest = await client.get(url, headers={**o1, "Range": f"bytes={len(data) - 10}-"})
    assert rest.content == data[-10:]
    bad = await client.get(url, headers={**o1, "Range": f"bytes={len(data)}-"})
    assert_problem(bad, 416, "range_not_satisfiable")
    assert bad.headers["content-range"] == f"bytes */{len(data)}"


async def test_officers_see_their_own_and_supervisors_their_jurisdiction(client, city) -> None:
    warning = await deliver(client)
    o1 = await as_user(client, "o1")
    digest = await upload(client, o1, jpeg())
    await push(client, o1, visit(warning, photos=[digest]))
    allowed = ["o1", "sup1", "county1", "admin"]
    refused = ["o2", "o3", "sup2", "county2"]
    for who in allowed:
        headers = await as_user(client, who)
        for path in ("", "/content", "/thumbnail"):
            response = await client.get(f"{PHOTOS}/{digest}{path}", headers=headers)
            assert response.status_code == 200, (who, path)
    for who in refused:
        headers = await as_user(client, who)
        for path in ("", "/content", "/thumbnail"):
            response = await client.get(f"{PHOTOS}/{digest}{path}", headers=headers)
            assert_problem(response, 404, "not_found")
        listing = await client.get(f"{PHOTOS}/tasks/warning/{warning}", headers=headers)
        assert listing.status_code == 404, who
    platform = await as_platform(client)
    assert_problem(await client.get(f"{PHOTOS}/{digest}", headers=platform), 403, "forbidden")
    missing = "0" * 64
    assert_problem(await client.get(f"{PHOTOS}/{missing}", headers=o1), 404, "not_found")
    assert_problem(
        await client.get(f"{PHOTOS}/not-a-hash", headers=o1), 400, "validation_failed", "sha256"
    )


async def test_unclaimed_photos_go_after_expiry_and_claimed_ones_never(
    client, city, app, clock: ManualClock, settings: Settings, store: Store
) -> None:
    warning = await deliver(client)
    o1 = await as_user(client, "o1")
    kept = await upload(client, o1, jpeg(seed=1))
    stray = await upload(client, o1, jpeg(seed=2))
    await push(client, o1, visit(warning, photos=[kept]))
    sweep = app.state.uploads.sweep
    assert sweep() == (0, 0)  # too young to go
    clock.advance(hours=settings.upload_expiry_hours + 1)
    assert sweep() == (0, 1)
    assert store.get_photo(stray) is None
    assert store.get_photo(kept) is not None
    [removed] = [e for e in store.list_audit(entity="photo") if e.action == "photo.remove"]
    assert removed.entity_id == stray
    clock.advance(days=3650)
    assert sweep() == (0, 0)
    o1 = await as_user(client, "o1")
    response = await client.get(f"{PHOTOS}/{kept}/content", headers=o1)
    assert response.status_code == 200
    # The stray one may come back (a visit log naming it arrived late, say).
    assert await upload(client, o1, jpeg(seed=2)) == stray
    assert store.verify_audit().ok


def test_visit_logs_written_before_photos_existed_claim_theirs_after_the_upgrade(
    tmp_path, clock: ManualClock
) -> None:
    import sqlite3

    from sqlite_utils import Database

    from server.store.opening import open_store
    from server.store.sqlite import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    migrations.migrations.apply(Database(conn), stop_before="m004_uploads")
    digest = "ab" * 32
    conn.execute(
        "INSERT INTO visit_logs (entry_id, task_kind, task_id, officer_id, device_pk,"
        " mutation_id, recorded_at, received_at, photos, materials, completed, hlc,"
        " device_clock_offset_ms, flags, seq, station_id) VALUES ('e1', 'warning', 7, 3, 1,"
        " 'm1', '2026-11-25T01:00:00+00:00', '2026-11-25T01:00:00+00:00', ?, '[]', 0, 'h',"
        " 0, '[]', 1, '411602-01')",
        (f'["{digest}", "{digest}"]',),
    )
    conn.commit()
    conn.close()
    store = open_store(str(path), clock)
    try:
        [claimed] = store.photos_of_task("warning", 7)
        assert (claimed.sha256, claimed.entry_id, claimed.photo) == (digest, "e1", None)
    finally:
        store.close()
