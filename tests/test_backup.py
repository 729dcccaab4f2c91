"""`beatsync backup` while officers push and upload, and `beatsync restore` of it: every
visit and photo the server had acknowledged when the backup began comes back, the copy
is consistent (every photo it knows is there, the audit chain intact), and restore will
not overwrite what it should not."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.cli import main
from server.clock import SystemClock
from server.settings import Settings
from server.store.opening import open_store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import PASSWORD, PLATFORM_SECRET, build_tiny_city
from tests.support.live import LiveServer
from tests.support.photos import OFFSET_TYPE, TUS, jpeg
from tests.support.sync import visit

OFFICERS = {"o1": "411602001001", "o2": "411602001002", "o3": "411602002001"}


class Phone(threading.Thread):
    """An officer recording visits with a photo each and syncing them, over and over;
    keeps what the server acknowledged: the visit's entry id once the push applied it,
    the photo's sha256 once its last byte was taken."""

    def __init__(
        self, base: str, login: str, task_id: int, stop: threading.Event, seed: int
    ) -> None:
        super().__init__(name=f"phone-{login}", daemon=True)
        self.base, self.login, self.task_id, self.stop = base, login, task_id, stop
        self.seed = seed
        self.lock = threading.Lock()
        self.visits: list[str] = []
        self.photos: list[str] = []
        self.error: BaseException | None = None

    def acknowledged(self) -> tuple[list[str], list[str]]:
        with self.lock:
            return list(self.visits), list(self.photos)

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=30) as http:
                token = http.post(
                    "/api/v1/auth/login",
                    json={
                        "login": self.login,
                        "password": PASSWORD,
                        "device_id": f"live-phone-{self.login}",
                    },
                ).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                n = 0
                while not self.stop.is_set():
                    n += 1
                    self._one(http, auth, jpeg(32, 24, seed=self.seed * 100_000 + n))
        except BaseException as exc:  # pragma: no cover - reported by the test
            self.error = exc

    def _one(self, http: httpx.Client, auth: dict[str, str], photo: bytes) -> None:
        sha = hashlib.sha256(photo).hexdigest()
        now = datetime.now(UTC).isoformat()
        mutation = visit(
            self.task_id,
            node=self.login,
            outcome=None,
            contact="phone",
            recorded_at=now,
            arrived_at=now,
            photos=[sha],
        )
        pushed = http.post(
            "/api/v1/sync/push",
            headers=auth,
            json={"device_time": now, "mutations": [mutation]},
        )
        assert pushed.status_code == 200, pushed.text
        [result] = pushed.json()["results"]
        assert result["status"] == "applied", result
        with self.lock:
            self.visits.append(mutation["entry"]["entry_id"])
        created = http.post(
            "/api/v1/uploads/",
            headers={
                **auth,
                **TUS,
                "Upload-Length": str(len(photo)),
                "Upload-Metadata": f"sha256 {base64.b64encode(sha.encode()).decode()}",
            },
        )
        assert created.status_code == 201, created.text
        sent = http.patch(
            created.headers["location"],
            headers={**auth, **TUS, "Upload-Offset": "0", "Content-Type": OFFSET_TYPE},
            content=photo,
        )
        assert sent.status_code == 204, sent.text
        assert sent.headers["upload-offset"] == str(len(photo))
        with self.lock:
            self.photos.append(sha)


def _warnings_for_each_officer(base: str) -> dict[str, int]:
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"client_id": "platform", "client_secret": PLATFORM_SECRET},
    ).json()["access_token"]
    answer = httpx.post(
        f"{base}/api/v1/platform/warnings",
        headers={"Authorization": f"Bearer {token}"},
        json={"warnings": [a_warning(grid) for grid in OFFICERS.values()]},
    )
    assert answer.status_code == 200, answer.text
    ids = [r["warning_id"] for r in answer.json()["results"]]
    return dict(zip(OFFICERS, ids, strict=True))


def _wait_until(condition: Any, phones: list[Phone]) -> None:
    stop = threading.Event()
    for _ in range(600):
        if condition():
            return
        for phone in phones:
            assert phone.error is None, phone.error
        stop.wait(0.05)  # real phones on a real server: nothing to move but time
    raise AssertionError("the phones made no progress")


def test_a_backup_under_load_restores_every_acknowledged_visit_and_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "server").mkdir()
    # `beatsync backup` copies a SQLite file; PostgreSQL is backed up by its own pg_dump.
    live = LiveServer(tmp_path / "server", backend="sqlite").start()
    stop = threading.Event()
    phones: list[Phone] = []
    try:
        tasks = _warnings_for_each_officer(live.base)
        phones = [
            Phone(live.base, login, task, stop, seed)
            for seed, (login, task) in enumerate(tasks.items())
        ]
        for phone in phones:
            phone.start()
        _wait_until(lambda: all(len(p.acknowledged()[1]) >= 3 for p in phones), phones)
        # Everything acknowledged before the backup begins must be in it.
        before = [p.acknowledged() for p in phones]
        dest = tmp_path / "backup-1"
        assert main(["backup", str(dest), "--db", str(live.db)]) == 0
        after = [p.acknowledged() for p in phones]
        # The server kept taking pushes meanwhile, and after.
        _wait_until(
            lambda: all(
                len(p.acknowledged()[0]) > len(a[0]) + 2 for p, a in zip(phones, after, strict=True)
            ),
            phones,
        )
    finally:
        stop.set()
        for phone in phones:
            phone.join(30)
        live.stop()
    for phone in phones:
        assert phone.error is None, phone.error
    out = capsys.readouterr().out
    assert f"to {dest}" in out

    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["database"]["file"] == "live.db"
    assert "m001_initial" in manifest["database"]["migrations"]
    assert manifest["photos"]["count"] >= 9
    assert manifest["photos"]["missing"] == []

    restored = tmp_path / "restored" / "city.db"
    assert main(["restore", str(dest), "--db", str(restored)]) == 0
    photos_dir = tmp_path / "restored" / "city-photos"
    with sqlite3.connect(restored) as conn:
        entries = {r[0] for r in conn.execute("SELECT entry_id FROM visit_logs")}
        known = {r[0] for r in conn.execute("SELECT sha256 FROM photos")}
    conn.close()
    for visits, photos in before:
        assert set(visits) <= entries
        assert set(photos) <= known
    # Consistent: every photo the copy knows is there, byte for byte.
    for sha in known:
        path = photos_dir / "photos" / sha[:2] / sha[2:4] / sha
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert main(["audit", "verify", "--db", str(restored)]) == 0

    # And the server serves them from the restored copy.
    store = open_store(str(restored), SystemClock())
    try:
        app = create_app(
            Settings(env="test", database_path=str(restored)),
            store=store,
            passwords=Passwords(time_cost=1, memory_kib=1024),
        )
        anyio.run(_served, app, before[0][1][0])
    finally:
        store.close()


async def _served(app: Litestar, sha: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://restored"
    ) as http:
        token = (
            await http.post(
                "/api/v1/auth/login",
                json={"login": "o1", "password": PASSWORD, "device_id": "restored-phone"},
            )
        ).json()["access_token"]
        got = await http.get(
            f"/api/v1/photos/{sha}/content", headers={"Authorization": f"Bearer {token}"}
        )
        assert got.status_code == 200, got.text
        assert hashlib.sha256(got.content).hexdigest() == sha


def test_restore_refuses_a_target_in_use_or_not_empty_and_backup_a_used_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "city.db"
    open_store(str(db), SystemClock()).close()
    dest = tmp_path / "backup"
    assert main(["backup", str(dest), "--db", str(db)]) == 0
    assert main(["backup", str(dest), "--db", str(db)]) == 1
    assert "not an empty folder" in capsys.readouterr().err

    assert main(["restore", str(dest), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "the server must be stopped" in err
    assert "is not empty; pass --force" in err

    running = open_store(str(db), SystemClock())  # what a running server holds open
    try:
        assert main(["restore", str(dest), "--db", str(db), "--force"]) == 1
        assert "stop the server first" in capsys.readouterr().err
    finally:
        running.close()
    assert main(["restore", str(dest), "--db", str(db), "--force"]) == 0
    assert (tmp_path / "city-photos").is_dir()

    (dest / "city.db").write_bytes(b"not what was backed up")
    assert main(["restore", str(dest), "--db", str(tmp_path / "other.db")]) == 1
    assert "does not match its checksum" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "nowhere"), "--db", str(db)]) == 1
    assert "not a beatsync backup" in capsys.readouterr().err


async def _pull(http: httpx.AsyncClient, auth: dict[str, str], cursor: str | None) -> Any:
    params = {"cursor": cursor} if cursor else {}
    return await http.get("/api/v1/sync/pull", headers=auth, params=params)


def test_a_phone_that_synced_after_the_backup_is_told_to_resync_from_the_restored_copy(
    tmp_path: Path, passwords: Passwords
) -> None:
    """Sequence numbers only grow; after a restore, a phone's cursor may be past them,
    and a pull from it would silently skip what the server does next."""
    db = tmp_path / "city.db"
    store = open_store(str(db), SystemClock())
    build_tiny_city(store, passwords)
    store.close()
    backup = tmp_path / "backup"
    assert main(["backup", str(backup), "--db", str(db)]) == 0

    async def story() -> None:
        store = open_store(str(db), SystemClock())
        app = create_app(Settings(env="test", database_path=str(db)), store=store)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as http:
                o1 = await as_user(http, "o1")
                platform = await as_platform(http)
                await http.post(
                    "/api/v1/platform/warnings",
                    headers=platform,
                    json={"warnings": [a_warning("411602001001") for _ in range(3)]},
                )
                first = (await _pull(http, o1, None)).json()
                assert len(first["changes"]) == 3
                held.append(first["cursor"])
        finally:
            store.close()

    held: list[str] = []
    anyio.run(story)
    assert main(["restore", str(backup), "--db", str(db), "--force"]) == 0

    async def after_restore() -> None:
        store = open_store(str(db), SystemClock())
        app = create_app(Settings(env="test", database_path=str(db)), store=store)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as http:
                o1 = await as_user(http, "o1")
                assert_problem(await _pull(http, o1, held[0]), 410, "resync_required", "cursor")
                fresh = await _pull(http, o1, None)
                assert fresh.status_code == 200
                assert fresh.json()["changes"] == []  # the warnings came after the backup
        finally:
            store.close()

    anyio.run(after_restore)
