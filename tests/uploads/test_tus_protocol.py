"""The tus 1.0.0 protocol at /api/v1/uploads/, by hand, against the real app: every rule
of core, creation, creation-with-upload, checksum, termination and expiration, and the
bounds (size, type, quota, ownership) that keep evidence in and junk out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from tests.support.api import as_user, assert_problem
from tests.support.photos import (
    OFFSET_TYPE,
    TUS,
    big_jpeg,
    checksum,
    heic,
    jpeg,
    metadata,
    png,
    sha256,
    webp,
)

pytestmark = pytest.mark.anyio
UPLOADS = "/api/v1/uploads/"


async def create(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    meta: str | None = None,
    length: int | None = None,
    body: bytes | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    request_headers = {
        **headers,
        **TUS,
        "Upload-Length": str(len(data) if length is None else length),
        "Upload-Metadata": meta if meta is not None else metadata(data),
        **(extra or {}),
    }
    if body is not None:
        request_headers["Content-Type"] = OFFSET_TYPE
    return await client.post(UPLOADS, headers=request_headers, content=body)


async def created(client: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> str:
    response = await create(client, headers, data)
    assert response.status_code == 201, response.text
    location: str = response.headers["location"]
    return location


async def append(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    url: str,
    offset: int,
    chunk: bytes | AsyncIterator[bytes],
    **extra: str,
) -> httpx.Response:
    return await client.patch(
        url,
        headers={
            **headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": OFFSET_TYPE,
            **extra,
        },
        content=chunk,
    )


async def offset_of(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> int:
    response = await client.head(url, headers={**headers, **TUS})
    assert response.status_code == 200, response.headers
    return int(response.headers["upload-offset"])


def photo_files(settings: Settings) -> list[Path]:
    return sorted(p for p in (Path(settings.photo_path) / "photos").rglob("*") if p.is_file())


def part_files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.photo_path) / "parts").iterdir())


@pytest.fixture
async def o1(client: httpx.AsyncClient, city: Any) -> dict[str, str]:
    return await as_user(client, "o1")


async def test_discovery_names_version_extensions_size_and_checksums(client, o1) -> None:
    response = await client.options(UPLOADS, headers=o1)
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-version"] == "1.0.0"
    extensions = set(response.headers["tus-extension"].split(","))
    assert extensions == {
        "creation",
        "creation-with-upload",
        "checksum",
        "termination",
        "expiration",
    }
    assert response.headers["tus-max-size"] == str(20 * 1024 * 1024)
    assert set(response.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "sha256"}


async def test_a_photo_goes_up_in_chunks_and_is_stored_by_its_sha256(
    client, o1, settings: Settings, store: Store
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    assert url.startswith(UPLOADS)
    head = await client.head(url, headers={**o1, **TUS})
    assert head.headers["upload-offset"] == "0"
    assert head.headers["upload-length"] == str(len(data))
    assert head.headers["upload-metadata"] == metadata(data)
    assert head.headers["cache-control"] == "no-store"
    assert "upload-expires" in head.headers
    offset = 0
    for size in (5, 7, 60_000, 100_000):  # a first chunk too short to judge the type
        response = await append(client, o1, url, offset, data[offset : offset + size])
        assert response.status_code == 204, response.text
        offset += size
        assert response.headers["upload-offset"] == str(offset)
        assert response.headers["tus-resumable"] == "1.0.0"
    response = await append(client, o1, url, offset, data[offset:])
    assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    assert "upload-expires" not in response.headers  # complete: it no longer expires
    [stored] = photo_files(settings)
    digest = sha256(data)
    assert stored.name == digest
    assert stored.read_bytes() == data
    assert stored.stat().st_mode & 0o222 == 0  # read-only: never changed afterwards
    assert part_files(settings) == []
    photo = store.get_photo(digest)
    assert photo is not None
    assert (photo.size, photo.media_type) == (len(data), "image/jpeg")
    [entry] = [e for e in store.list_audit(entity="photo") if e.action == "photo.receive"]
    assert entry.entity_id == digest
    # HEAD after completion, and an empty PATCH at the end, both say: done.
    assert await offset_of(client, o1, url) == len(data)
    assert (await append(client, o1, url, len(data), b"")).status_code == 204


@pytest.mark.parametrize("make", [png, webp, heic], ids=["png", "webp", "heic"])
async def test_png_webp_and_heic_are_accepted(client, o1, store: Store, make) -> None:
    data = make()
    url = await created(client, o1, data)
    response = await append(client, o1, url, 0, data)
    assert response.status_code == 204, response.text
    photo = store.get_photo(sha256(data))
    assert photo is not None
    assert photo.media_type == {png: "image/png", webp: "image/webp", heic: "image/heic"}[make]


async def test_creation_with_upload_takes_the_first_bytes_along(client, o1, store) -> None:
    data = jpeg()
    first = data[:100_000]
    response = await create(
        client, o1, data, body=first, extra={"Upload-Checksum": checksum(first)}
    )
    assert response.status_code == 201, response.text
    assert response.headers["upload-offset"] == str(len(first))
    url = response.headers["location"]
    response = await append(client, o1, url, len(first), data[len(first) :])
    assert response.status_code == 204
    assert store.get_photo(sha256(data)) is not None
    # The whole photo in the creation request: stored at once.
    other = jpeg(seed=2)
    response = await create(client, o1, other, body=other)
    assert response.status_code == 201
    assert response.headers["upload-offset"] == str(len(other))
    assert store.get_photo(sha256(other)) is not None


async def test_a_photo_the_server_has_completes_at_creation_without_its_bytes(
    client, o1, city, store: Store
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    await append(client, o1, url, 0, data)
    o2 = await as_user(client, "o2")
    response = await create(client, o2, data)
    assert response.status_code == 201
    assert response.headers["upload-offset"] == str(len(data))
    assert "upload-expires" not in response.headers
    # o2 sent it too, so o2 may read it; the audit chain has one receipt only.
    photo = await client.get(f"/api/v1/photos/{sha256(data)}", headers=o2)
    assert photo.status_code == 200, photo.text
    receipts = [e for e in store.list_audit(entity="photo") if e.action == "photo.receive"]
    assert len(receipts) == 1
    # The same sha256 with another length is a contradiction.
    response = await create(client, o2, data, length=len(data) + 1)
    assert_problem(response, 422, "photo_hash_mismatch")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
async def test_a_chunk_is_checked_against_its_checksum_and_dropped_when_wrong(
    client, o1, algorithm: str
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    good = data[:50_000]
    response = await append(
        client, o1, url, 0, good, **{"Upload-Checksum": checksum(good, algorithm)}
    )
    assert response.status_code == 204
    chunk = data[50_000:120_000]
    corrupted = chunk[:-1] + bytes([chunk[-1] ^ 1])
    response = await append(
        client, o1, url, 50_000, corrupted, **{"Upload-Checksum": checksum(chunk, algorithm)}
    )
    assert_problem(response, 460, "checksum_mismatch")
    assert response.headers["tus-resumable"] == "1.0.0"
    assert await offset_of(client, o1, url) == 50_000  # nothing of the bad chunk was kept
    response = await append(
        client,
        o1,
        url,
        50_000,
        data[50_000:],
        **{"Upload-Checksum": checksum(data[50_000:], algorithm)},
    )
    assert response.status_code == 204


async def test_a_chunk_of_megabytes_is_checked_whole_before_any_of_it_is_kept(
    client, o1, settings: Settings, store: Store
) -> None:
    # Written a megabyte at a time while it arrives; dropped whole when its checksum fails.
    data = big_jpeg(3 * 1024 * 1024 + 12345, seed=7)
    url = await created(client, o1, data)
    corrupted = bytearray(data)
    corrupted[-10] ^= 1
    response = await append(
        client, o1, url, 0, bytes(corrupted), **{"Upload-Checksum": checksum(data)}
    )
    assert_problem(response, 460, "checksum_mismatch")
    assert await offset_of(client, o1, url) == 0
    assert [p.stat().st_size for p in part_files(settings)] == [0]
    response = await append(client, o1, url, 0, data, **{"Upload-Checksum": checksum(data)})
    assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    assert store.get_photo(sha256(data)) is not None
    assert [p.read_bytes() for p in photo_files(settings)] == [data]


async def test_unknown_or_malformed_checksums_are_refused(client, o1) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    response = await append(client, o1, url, 0, data[:100], **{"Upload-Checksum": "md5 AAAA"})
    body = assert_problem(response, 400, "checksum_algorithm_unsupported", "Upload-Checksum")
    assert body["status"] == 400
    response = await append(client, o1, url, 0, data[:100], **{"Upload-Checksum": "sha256 !!"})
    assert_problem(response, 400, "validation_failed", "Upload-Checksum")
    assert await offset_of(client, o1, url) == 0


async def test_a_photo_whose_bytes_do_not_hash_to_its_sha256_is_refused_whole(
    client, o1, settings: Settings, store: Store
) -> None:
    data = jpeg()
    taken = bytearray(data)
    taken[5000] ^= 0xFF  # one bit flipped on the way, in a chunk without a checksum
    url = await created(client, o1, data)
    await append(client, o1, url, 0, bytes(taken[:100_000]))
    response = await append(client, o1, url, 100_000, bytes(taken[100_000:]))
    assert_problem(response, 422, "photo_hash_mismatch")
    assert store.get_photo(sha256(data)) is None
    assert photo_files(settings) == []
    assert part_files(settings) == []
    # The upload is gone: a tus client starts a new one.
    response = await client.head(url, headers={**o1, **TUS})
    assert response.status_code == 410


async def test_a_patch_at_the_wrong_offset_is_refused_and_tells_where_to_resume(client, o1) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    await append(client, o1, url, 0, data[:1000])
    response = await append(client, o1, url, 500, data[500:2000])
    assert_problem(response, 409, "upload_offset_mismatch")
    assert response.headers["upload-offset"] == "1000"
    assert await offset_of(client, o1, url) == 1000


async def test_the_wrong_content_type_or_tus_version_is_refused(client, o1) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    response = await client.patch(
        url,
        headers={**o1, **TUS, "Upload-Offset": "0", "Content-Type": "application/json"},
        content=data[:100],
    )
    assert_problem(response, 415, "unsupported_media_type")
    response = await client.patch(
        url,
        headers={**o1, "Tus-Resumable": "0.2.2", "Upload-Offset": "0", "Content-Type": OFFSET_TYPE},
        content=data[:100],
    )
    assert_problem(response, 412, "tus_version_unsupported")
    assert response.headers["tus-version"] == "1.0.0"
    response = await client.post(
        UPLOADS, headers={**o1, "Upload-Length": "100", "Upload-Metadata": metadata(data)}
    )
    assert_problem(response, 412, "tus_version_unsupported")
    assert await offset_of(client, o1, url) == 0


async def test_what_is_not_a_photo_is_refused_before_it_fills_the_disk(
    client, o1, settings: Settings, store: Store
) -> None:
    pdf = b"%PDF-1.7\n" + b"x" * 200_000
    # Declared as something else: refused at creation, nothing created.
    response = await create(client, o1, pdf, meta=metadata(pdf, filetype="application/pdf"))
    assert_problem(response, 415, "unsupported_image_type", "Upload-Metadata.filetype")
    # Declared as a JPEG (or not at all): refused on its first twelve bytes.
    url = await created(client, o1, pdf)
    response = await append(client, o1, url, 0, pdf)
    assert_problem(response, 415, "unsupported_image_type")
    assert part_files(settings) == []
    assert (await client.head(url, headers={**o1, **TUS})).status_code == 410
    # Short first chunks are judged once twelve bytes are in.
    url = await created(client, o1, pdf)
    assert (await append(client, o1, url, 0, pdf[:5])).status_code == 204
    response = await append(client, o1, url, 5, pdf[5:100_000])
    assert_problem(response, 415, "unsupported_image_type")
    assert part_files(settings) == []


async def test_over_size_photos_and_bodies_are_refused(client, o1, settings: Settings) -> None:
    limit = settings.photo_max_bytes
    data = jpeg()
    response = await create(client, o1, data, length=limit + 1)
    assert_problem(response, 413, "photo_too_large")
    url = await created(client, o1, data)
    response = await append(client, o1, url, 0, data + b"extra")
    assert_problem(response, 413, "photo_too_large")
    assert await offset_of(client, o1, url) == 0
    response = await create(client, o1, data, length=3)
    assert_problem(response, 400, "validation_failed", "Upload-Length")


async def test_a_body_past_the_per_route_limit_is_cut_off_while_it_streams(client, o1, app) -> None:
    # Past the app's general 4 MiB limit, and accepted: the upload routes have their own.
    data = jpeg()
    big = data + bytes(5 * 1024 * 1024)
    url = await created(client, o1, big)
    response = await append(client, o1, url, 0, big[: 4 * 1024 * 1024 + 10])
    assert response.status_code == 204, response.text
    # Litestar's own limit on these routes is the photo limit (it counts while streaming).
    for route in app.routes:
        if route.path.startswith("/api/v1/uploads"):
            for handler in route.route_handlers:
                if handler.http_methods & {"POST", "PATCH"}:
                    assert handler.resolve_request_max_body_size() == 20 * 1024 * 1024
    # Past what the upload has left: refused before a byte is read (Content-Length).
    response = await client.patch(
        url,
        headers={
            **o1,
            **TUS,
            "Upload-Offset": str(4 * 1024 * 1024 + 10),
            "Content-Type": OFFSET_TYPE,
        },
        content=bytes(21 * 1024 * 1024),
    )
    assert_problem(response, 413, "photo_too_large")


async def test_metadata_must_carry_the_sha256(client, o1) -> None:
    data = jpeg()
    for meta, field in [
        ("filename ZG9vci5qcGc=", "Upload-Metadata.sha256"),
        (metadata(digest="ABC"), "Upload-Metadata.sha256"),
        (metadata(digest=sha256(data).upper()), "Upload-Metadata.sha256"),
        ("sha256 not-base64!", "Upload-Metadata"),
        ("sha256 YQ==,sha256 YQ==", "Upload-Metadata"),
    ]:
        response = await create(client, o1, data, meta=meta)
        assert_problem(response, 400, "validation_failed", field)


async def test_uploads_belong_to_their_officer(client, o1, city) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    await append(client, o1, url, 0, data[:1000])
    o2 = await as_user(client, "o2")
    for response in (
        await client.head(url, headers={**o2, **TUS}),
        await append(client, o2, url, 1000, data[1000:]),
        await client.delete(url, headers={**o2, **TUS}),
    ):
        assert response.status_code == 404
    assert await offset_of(client, o1, url) == 1000
    # Supervisors do not upload (officers take the photos).
    sup1 = await as_user(client, "sup1")
    assert_problem(await create(client, sup1, data), 403, "forbidden")
    assert (await client.post(UPLOADS, headers=TUS)).status_code == 401


async def test_termination_drops_an_unfinished_upload_but_never_a_stored_photo(
    client, o1, settings: Settings
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    await append(client, o1, url, 0, data[:1000])
    assert len(part_files(settings)) == 1
    response = await client.delete(url, headers={**o1, **TUS})
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert part_files(settings) == []
    assert (await client.head(url, headers={**o1, **TUS})).status_code == 404
    url = await created(client, o1, data)
    await append(client, o1, url, 0, data)
    assert_problem(await client.delete(url, headers={**o1, **TUS}), 409, "invalid_transition")
    assert len(photo_files(settings)) == 1


async def test_unfinished_uploads_are_bounded_per_user(client, o1, settings: Settings) -> None:
    for n in range(settings.upload_quota):
        await created(client, o1, jpeg(32, 32, seed=n))
    response = await create(client, o1, jpeg(32, 32, seed=999))
    assert_problem(response, 429, "upload_quota_exceeded")


async def test_an_unfinished_upload_expires_and_is_swept(
    client, o1, app, clock: ManualClock, settings: Settings, store: Store
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    response = await append(client, o1, url, 0, data[:1000])
    expires = response.headers["upload-expires"]
    assert expires.endswith("GMT")
    clock.advance(hours=settings.upload_expiry_hours - 1)
    o1 = await as_user(client, "o1")  # the old access token is long gone
    assert await offset_of(client, o1, url) == 1000  # still there; progress renews it
    await append(client, o1, url, 1000, data[1000:2000])
    clock.advance(hours=settings.upload_expiry_hours + 1)
    o1 = await as_user(client, "o1")
    response = await client.head(url, headers={**o1, **TUS})
    assert response.status_code == 410  # HEAD: the status alone, no body
    assert_problem(await append(client, o1, url, 2000, data[2000:]), 410, "upload_gone")
    assert app.state.uploads.sweep() == (1, 0)
    assert part_files(settings) == []
    assert (await client.head(url, headers={**o1, **TUS})).status_code == 404
