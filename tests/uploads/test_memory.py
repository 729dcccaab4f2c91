"""An upload streams to disk: the server's peak memory (VmHWM of the real `beatsync serve`
process) grows by a few MB for a 20 MB photo sent in 256 KiB chunks, and by a few tens
for ten sent at once, never by the photos' size."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.live import LiveServer
from tests.support.photos import OFFSET_TYPE, TUS, big_jpeg

CHUNK = 256 * 1024
PHOTO = 20 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def base_photo() -> bytes:
    return big_jpeg(PHOTO - 64, seed=5)


def variant(photo: bytes, n: int) -> bytes:
    """Another photo of the same size (bytes after the JPEG's end differ)."""
    return photo + n.to_bytes(64, "big")


def peak_kib(server: LiveServer) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def send(base: str, token: str, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        created = http.post(
            "/api/v1/uploads/",
            headers={
                **TUS,
                "Upload-Length": str(len(data)),
                "Upload-Metadata": f"sha256 {base64.b64encode(digest.encode()).decode()}",
            },
        )
        assert created.status_code == 201, created.text
        url = created.headers["location"]
        view = memoryview(data)
        for offset in range(0, len(data), CHUNK):
            chunk = bytes(view[offset : offset + CHUNK])
            response = http.patch(
                url,
                headers={
                    **TUS,
                    "Upload-Offset": str(offset),
                    "Content-Type": OFFSET_TYPE,
                    "Upload-Checksum": "sha256 "
                    + base64.b64encode(hashlib.sha256(chunk).digest()).decode(),
                },
                content=chunk,
            )
            assert response.status_code == 204, response.text
        assert response.headers["upload-offset"] == str(len(data))


def test_one_and_then_ten_20_mb_uploads_leave_memory_nearly_flat(
    server: LiveServer, base_photo: bytes
) -> None:
    token = server.token("o1")
    send(server.base, token, variant(base_photo, 0))  # warm up every code path once
    before = peak_kib(server)
    send(server.base, token, variant(base_photo, 1))
    one = peak_kib(server) - before
    assert one < 6 * 1024, f"one 20 MB upload grew the peak by {one / 1024:.1f} MiB"
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda n: send(server.base, token, variant(base_photo, n)), range(2, 12)))
    ten = peak_kib(server) - before
    assert ten < 40 * 1024, f"ten 20 MB uploads grew the peak by {ten / 1024:.1f} MiB"
