"""Photos taken offline by the reference phone reach the server intact through a network
that keeps dropping, and show up, with thumbnail and metadata, on the visit a supervisor
looks at. The phone marks them done only when the server holds every byte. Its chunks
grow while the network carries them and shrink when it drops them, each with its own
sha256."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from clients.device import DeviceClient, RetryPolicy, ServerUnreachable
from clients.device.photos import ChunkWindow
from tests.support.api import a_warning
from tests.support.city import PASSWORD, PLATFORM_SECRET
from tests.support.live import FlakyProxy, LiveServer
from tests.support.photos import TAKEN_AT, big_jpeg, jpeg, sha256

PATIENT = RetryPolicy(attempts=60, base_seconds=0.005, cap_seconds=0.05)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield live
    live.stop()


def deliver(server: LiveServer, grid: str = "411602001001") -> int:
    token = httpx.post(
        f"{server.base}/api/v1/auth/token",
        json={"client_id": "platform", "client_secret": PLATFORM_SECRET},
    ).json()["access_token"]
    out = httpx.post(
        f"{server.base}/api/v1/platform/warnings",
        json={"warnings": [a_warning(grid)]},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    warning_id: int = out["results"][0]["warning_id"]
    return warning_id


def phone(base: str, root: Path, retry: RetryPolicy = PATIENT) -> DeviceClient:
    return DeviceClient(base, root / "o1-phone.db", "o1-phone", retry=retry, timeout=10)


def test_photos_recorded_offline_reach_the_supervisor_through_a_flaky_network(
    live_server: LiveServer, tmp_path: Path
) -> None:
    warning = deliver(live_server)
    door = big_jpeg(2 * 1024 * 1024, seed=81)
    crowd_file = tmp_path / "crowd.jpg"
    crowd_file.write_bytes(jpeg(800, 600, seed=82))
    with (
        FlakyProxy(live_server.port, seed=9, low=200_000, high=500_000) as proxy,
        phone(proxy.base, tmp_path) as app,
    ):
        app.login("o1", PASSWORD)
        app.pull()
        # At the door, no signal: this only writes the phone.
        shots = [app.add_photo(door, "door.jpg"), app.add_photo(crowd_file)]
        assert shots == [sha256(door), sha256(crowd_file.read_bytes())]
        app.record_visit(
            "warning",
            warning,
            arrived_at="2026-11-25T09:20:00+08:00",
            contact="face_to_face",
            outcome="dissuaded",
            photos=shots,
        )
        task = app.task("warning", warning)
        assert task is not None
        assert task.photos_pending == tuple(sorted(shots))
        assert [app.photo_state(s) for s in shots] == ["pending", "pending"]
        # Back in coverage.
        app.sync()
        assert [app.photo_state(s) for s in shots] == ["done", "done"]
        task = app.task("warning", warning)
        assert task is not None
        assert task.photos_pending == ()
        assert task.visits[0].photos == shots
    assert proxy.cuts >= 2
    sup1 = {"Authorization": f"Bearer {live_server.token('sup1', device='desk-1')}"}
    with httpx.Client(base_url=live_server.base, headers=sup1) as desk:
        seen = desk.get(f"/api/v1/photos/tasks/warning/{warning}").json()
        assert (seen["received"], seen["pending"]) == (2, 0)
        photos = {p["sha256"]: p["photo"] for p in seen["visits"][0]["photos"]}
        facts = photos[sha256(door)]
        assert facts["taken_at"] == TAKEN_AT
        assert facts["position"] is not None
        assert desk.get(facts["content_url"]).content == door
        thumb = desk.get(facts["thumbnail_url"])
        assert thumb.status_code == 200
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320


def test_a_killed_upload_resumes_where_the_server_stands(
    live_server: LiveServer, tmp_path: Path
) -> None:
    warning = deliver(live_server)
    photo = big_jpeg(1_500_000, seed=91)
    # A network that drops once past 700 KB, and an app that gives up at the first drop.
    with FlakyProxy(live_server.port, seed=1, low=700_000, high=700_000) as proxy:
        app = phone(proxy.base, tmp_path, retry=RetryPolicy(attempts=1))
        app.login("o1", PASSWORD)
        app.pull()
        shot = app.add_photo(photo, "door.jpg")
        app.record_visit("warning", warning, contact="face_to_face", photos=[shot])
        app.push()
        with pytest.raises(ServerUnreachable):
            app.upload_photos()
        assert app.photo_state(shot) == "pending"
        app.close()
    # The app starts again, on a good network, from its database.
    with phone(live_server.base, tmp_path) as again:
        summary = again.upload_photos()
        assert (summary.uploaded, summary.resumed) == (1, 1)
        assert again.photo_state(shot) == "done"
    # Another phone with the same photo sends no byte of it.
    with DeviceClient(
        live_server.base, tmp_path / "o1-tablet.db", "o1-tablet", retry=PATIENT
    ) as tablet:
        tablet.login("o1", PASSWORD)
        tablet.add_photo(photo)
        assert tablet.upload_photos().already_there == 1
        with pytest.raises(ValueError, match="not a JPEG"):
            tablet.add_photo(b"%PDF-1.7 not a photo")


def test_the_chunk_window_grows_while_chunks_arrive_and_shrinks_when_they_do_not() -> None:
    kib = 1024
    window = ChunkWindow(256 * kib, floor=64 * kib, cap=8 * 1024 * kib)
    sizes = []
    for _ in range(7):
        window.acknowledged()
        sizes.append(window.size // kib)
    assert sizes == [512, 1024, 2048, 4096, 8192, 8192, 8192]  # doubling, up to the cap
    window.failed()
    assert window.size == 4096 * kib
    # Below the size that failed, it grows by a quarter; once that size got through, the
    # failure is forgotten and it doubles again.
    window.size = 512 * kib
    window.failed()
    assert window.size == 256 * kib
    grown = []
    for _ in range(5):
        window.acknowledged()
        grown.append(window.size // kib)
    assert grown == [320, 400, 500, 625, 1250]
    for _ in range(10):
        window.failed()
    assert window.size == 64 * kib  # never below the floor
    with pytest.raises(ValueError, match="chunk sizes"):
        ChunkWindow(32 * kib, floor=64 * kib, cap=8 * 1024 * kib)


def patches_sent(
    app: DeviceClient, answers: list[int | None] | None = None
) -> list[tuple[int, int]]:
    """(offset, size) of every PATCH the phone starts, each checked against its
    Upload-Checksum on the way; in `answers`, each one's status (None: cut off before
    an answer came). The phone sends one PATCH at a time."""
    sent: list[tuple[int, int]] = []

    def record(request: httpx.Request) -> None:
        if request.method == "PATCH":
            body = request.read()
            algorithm, _, digest = request.headers["upload-checksum"].partition(" ")
            assert algorithm == "sha256"
            assert base64.b64decode(digest) == hashlib.sha256(body).digest()
            sent.append((int(request.headers["upload-offset"]), len(body)))
            if answers is not None:
                answers.append(None)

    def answered(response: httpx.Response) -> None:
        if response.request.method == "PATCH" and answers is not None:
            answers[-1] = response.status_code

    app.http.event_hooks["request"].append(record)
    app.http.event_hooks["response"].append(answered)
    return sent


def test_on_a_good_network_the_chunks_grow_to_the_cap(
    live_server: LiveServer, tmp_path: Path
) -> None:
    photo = big_jpeg(7 * 1024 * 1024, seed=95)
    with DeviceClient(
        live_server.base,
        tmp_path / "town-phone.db",
        "town-phone",
        retry=PATIENT,
        photo_max_chunk_bytes=2 * 1024 * 1024,
    ) as app:
        app.login("o1", PASSWORD)
        sent = patches_sent(app)
        shot = app.add_photo(photo, "door.jpg")
        assert app.upload_photos().uploaded == 1
        assert app.photo_state(shot) == "done"
        # A second photo of the same run starts where the window stands.
        app.add_photo(big_jpeg(3 * 1024 * 1024, seed=96), "crowd.jpg")
        assert app.upload_photos().uploaded == 1
    kib, mib = 1024, 1024 * 1024
    assert [size for _, size in sent] == [
        256 * kib,
        512 * kib,
        1 * mib,
        2 * mib,
        2 * mib,
        7 * mib - 5 * mib - 3 * mib // 4,  # the rest
        2 * mib,
        1 * mib,
    ]
    assert stored(live_server, sha256(photo)) == photo


def test_on_a_network_that_drops_the_chunks_shrink_and_the_upload_resumes(
    live_server: LiveServer, tmp_path: Path
) -> None:
    photo = big_jpeg(3 * 1024 * 1024, seed=97)
    with (
        FlakyProxy(live_server.port, seed=12, low=300_000, high=900_000) as proxy,
        phone(proxy.base, tmp_path) as app,
    ):
        app.login("o1", PASSWORD)
        answers: list[int | None] = []
        sent = patches_sent(app, answers)
        shot = app.add_photo(photo, "door.jpg")
        summary = app.upload_photos()
        assert (summary.uploaded, app.photo_state(shot)) == (1, "done")
        assert summary.resumed >= 1
    assert proxy.cuts >= 1
    # A chunk the network cut off is sent again, from where the server stands, at half
    # its size. One the server answered 423 (it still writes the cut-off one: the
    # network is not at fault) goes again as it was.
    retried = [
        (size, again, answer)
        for ((offset, size), answer), ((next_offset, again), _) in itertools.pairwise(
            zip(sent, answers, strict=True)
        )
        if next_offset == offset
    ]
    assert any(answer is None for _, _, answer in retried)
    for size, again, answer in retried:
        assert again == (max(64 * 1024, size // 2) if answer in (None, 460) else size)
    assert max(size for _, size in sent) < len(photo)
    assert stored(live_server, sha256(photo)) == photo


def stored(server: LiveServer, digest: str) -> bytes | None:
    path = server.photo_dir / "photos" / digest[:2] / digest[2:4] / digest
    return path.read_bytes() if path.exists() else None
