"""Photos uploaded by tus clients written by others, through a network that drops every
few hundred kilobytes: the Python tuspy (on requests) and the JavaScript tus-js-client
(on node). The server is the real `beatsync serve` process; it is stopped and started in
the middle of an upload, and the photo still arrives exactly as taken."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from tests.support import raw
from tests.support.live import FlakyProxy, LiveServer
from tests.support.photos import big_jpeg, sha256

JS_DIR = Path(__file__).resolve().parent.parent / "js"
CHUNK = 256 * 1024
PHOTO_BYTES = 3 * 1024 * 1024


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "door.jpg"
    path.write_bytes(big_jpeg(PHOTO_BYTES, seed=11))
    return path


def another_photo(directory: Path, seed: int, size: int = PHOTO_BYTES) -> Path:
    path = directory / f"photo-{seed}.jpg"
    path.write_bytes(big_jpeg(size, seed=seed))
    return path


def stored(server: LiveServer, data: bytes) -> bytes | None:
    digest = sha256(data)
    path = server.photo_dir / "photos" / digest[:2] / digest[2:4] / digest
    return path.read_bytes() if path.exists() else None


def tuspy_uploader(
    base: str, token: str, path: Path, *, url: str | None = None, cls: type[Uploader] = Uploader
) -> Uploader:
    client = tus.TusClient(f"{base}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    data = path.read_bytes()
    return cls(
        # A stream, not a path: tuspy opens a path afresh for every chunk and never closes it.
        file_stream=io.BytesIO(data),
        client=client,
        url=url,
        chunk_size=CHUNK,
        metadata={"sha256": sha256(data), "filename": path.name, "filetype": "image/jpeg"},
        retries=200,
        retry_delay=0,
        upload_checksum=True,
    )


def node_upload(**options: Any) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "tus-js-client").is_dir():
        pytest.fail("tus-js-client is not installed: run scripts/check (npm ci in tests/js)")
    result = subprocess.run(
        [node, str(JS_DIR / "upload.mjs"), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def js_options(base: str, token: str, path: Path, **extra: Any) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "endpoint": f"{base}/api/v1/uploads/",
        "token": token,
        "file": str(path),
        "sha256": sha256(data),
        "filename": path.name,
        "filetype": "image/jpeg",
        "chunkSize": CHUNK,
        **extra,
    }


@pytest.mark.parametrize("cls", [Uploader, Sha256Uploader], ids=["sha1", "sha256"])
def test_tuspy_uploads_through_a_network_that_keeps_dropping(
    server: LiveServer, tmp_path: Path, cls: type[Uploader]
) -> None:
    path = another_photo(tmp_path, seed=21 if cls is Uploader else 22)
    data = path.read_bytes()
    with FlakyProxy(server.port, seed=3) as proxy:
        uploader = tuspy_uploader(proxy.base, server.token("o1"), path, cls=cls)
        uploader.upload()
    assert proxy.cuts >= 3
    assert stored(server, data) == data


def test_tus_js_client_uploads_with_creation_and_checksums_through_drops(
    server: LiveServer, tmp_path: Path
) -> None:
    path = another_photo(tmp_path, seed=31)
    data = path.read_bytes()
    with FlakyProxy(server.port, seed=4) as proxy:
        answer = node_upload(
            **js_options(proxy.base, server.token("o1"), path, withCreation=True, checksum="sha256")
        )
    assert answer["ok"], answer
    assert proxy.cuts >= 3
    assert stored(server, data) == data


def test_a_cut_off_body_is_resumed_where_it_broke_not_restarted(
    server: LiveServer, tmp_path: Path
) -> None:
    """One PATCH for the whole photo, no checksum, and no connection lives past 600 KB of
    a 3 MB photo: a client that had to start again after a drop could never finish. Each
    drop keeps what arrived (what was still in the sockets' buffers is lost with the
    connection, and sent again)."""
    path = another_photo(tmp_path, seed=41)
    data = path.read_bytes()
    with FlakyProxy(server.port, seed=5) as proxy:
        answer = node_upload(**js_options(proxy.base, server.token("o1"), path, chunkSize=0))
    assert answer["ok"], answer
    assert proxy.cuts >= 4
    assert proxy.bytes_up < 2 * len(data)
    assert stored(server, data) == data


def test_an_upload_resumes_after_the_server_restarts(server: LiveServer, tmp_path: Path) -> None:
    path = another_photo(tmp_path, seed=51)
    data = path.read_bytes()
    token = server.token("o1")
    first = tuspy_uploader(server.base, token, path)
    first.upload(stop_at=PHOTO_BYTES // 2 + 12345)
    assert first.url is not None
    server.stop()
    server.start()  # a new process: nothing of the upload is in its memory
    resumed = tuspy_uploader(server.base, token, path, url=first.url)
    assert resumed.offset == PHOTO_BYTES // 2 + 12345
    resumed.upload()
    assert stored(server, data) == data
    # And a tus-js-client upload, stopped half-way, resumed across another restart.
    other = another_photo(tmp_path, seed=52)
    half = node_upload(**js_options(server.base, token, other, stopAfter=PHOTO_BYTES // 2))
    assert half.get("stopped"), half
    server.stop()
    server.start()
    answer = node_upload(**js_options(server.base, token, other, uploadUrl=half["url"]))
    assert answer["ok"], answer
    assert answer["url"] == half["url"]
    assert stored(server, other.read_bytes()) == other.read_bytes()


def test_real_clients_are_refused_what_is_not_evidence(server: LiveServer, tmp_path: Path) -> None:
    token = server.token("o1")
    # Not an image: refused on its first bytes.
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"%PDF-1.7\n" + bytes(300_000))
    answer = node_upload(**js_options(server.base, token, fake))
    assert (answer["ok"], answer["status"]) == (False, 415), answer
    assert json.loads(answer["body"])["code"] == "unsupported_image_type"
    uploader = tuspy_uploader(server.base, token, fake)
    uploader.retries = 0
    with pytest.raises(TusUploadFailed) as refused:
        uploader.upload()
    assert refused.value.status_code == 415
    # Too large: refused at creation.
    big = another_photo(tmp_path, seed=61, size=20 * 1024 * 1024 + 1)
    answer = node_upload(**js_options(server.base, token, big))
    assert (answer["ok"], answer["status"]) == (False, 413), answer
    with pytest.raises(TusCommunicationError) as too_big:
        tuspy_uploader(server.base, token, big).upload()
    assert too_big.value.status_code == 413
    # Checksums: tus-js-client's sha1 of the right bytes passes; a sha256 of other bytes
    # is refused with 460 (tuspy, made to hash the wrong bytes).
    path = another_photo(tmp_path, seed=62, size=600_000)
    answer = node_upload(**js_options(server.base, token, path, checksum="sha1"))
    assert answer["ok"], answer

    class WrongChecksum(Uploader):
        CHECKSUM_ALGORITHM_PAIR = ("sha256", lambda chunk: hashlib.sha256(chunk + b"!"))

    uploader = tuspy_uploader(server.base, token, another_photo(tmp_path, 63), cls=WrongChecksum)
    uploader.retries = 0
    with pytest.raises(TusUploadFailed) as mismatch:
        uploader.upload()
    assert mismatch.value.status_code == 460  # ... one of other bytes is not


def test_another_officers_upload_and_an_expired_one_are_refused(
    server: LiveServer, tmp_path: Path
) -> None:
    path = another_photo(tmp_path, seed=71)
    o1 = server.token("o1")
    half = node_upload(**js_options(server.base, o1, path, stopAfter=PHOTO_BYTES // 3))
    url = half["url"]
    with pytest.raises(TusCommunicationError) as foreign:
        tuspy_uploader(server.base, server.token("o2", device="live-phone-2"), path, url=url)
    assert foreign.value.status_code == 404
    # The upload expires (its clock is the database's): tuspy is told 410 ...
    raw.execute(
        server.location,
        "UPDATE uploads SET expires_at = '2000-01-01T00:00:00.000000+00:00' WHERE id = ?",
        (url.rsplit("/", 1)[1],),
    )
    with pytest.raises(TusCommunicationError) as gone:
        tuspy_uploader(server.base, o1, path, url=url)
    assert gone.value.status_code == 410
    # ... and tus-js-client, told the same, starts a new upload that completes.
    answer = node_upload(**js_options(server.base, o1, path, uploadUrl=url))
    assert answer["ok"], answer
    assert answer["url"] != url
    assert stored(server, path.read_bytes()) == path.read_bytes()
