"""Photos taken offline by the reference phone reach the server intact through a network
that keeps dropping, and show up, with thumbnail and metadata, on the visit a supervisor
looks at. The phone marks them done only when the server holds every byte."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from clients.device import DeviceClient, RetryPolicy, ServerUnreachable
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
