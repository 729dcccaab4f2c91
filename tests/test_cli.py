"""The `beatsync` command as an operator uses it: serve the demo, verify the audit chain,
refuse unsafe production settings."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.auth.passwords import Passwords
from server.cli import main
from server.clock import ManualClock
from server.settings import DEMO_JWT_SECRET, Settings, SettingsError, load_settings
from server.store.opening import open_store
from tests.support.city import build_tiny_city

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def city_db(tmp_path: Path, passwords: Passwords) -> Path:
    path = tmp_path / "city.db"
    store = open_store(str(path), ManualClock())
    build_tiny_city(store, passwords)
    store.close()
    return path


def test_audit_verify_passes_on_an_intact_chain_and_fails_on_an_edited_one(
    city_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(city_db)]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    with sqlite3.connect(city_db) as conn:
        conn.execute("UPDATE audit_log SET actor_user_id = 42 WHERE id = 5")
    assert main(["audit", "verify", "--db", str(city_db)]) == 1
    assert "BROKEN at entry 5" in capsys.readouterr().out


def test_an_anchor_from_an_earlier_verify_shows_entries_cut_off_the_end(
    city_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(city_db)]) == 0
    [anchor] = [
        line.removeprefix("anchor: ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("anchor: ")
    ]
    assert main(["audit", "verify", "--db", str(city_db), "--anchor", anchor]) == 0
    capsys.readouterr()
    head = int(anchor.split(":")[0])
    with sqlite3.connect(city_db) as conn:
        # What someone hiding the latest actions would do: the rest is still a valid chain.
        conn.execute("DELETE FROM audit_log WHERE id >= ?", (head - 1,))
    assert main(["audit", "verify", "--db", str(city_db)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(city_db), "--anchor", anchor]) == 1
    assert "entries were removed from the end" in capsys.readouterr().out
    assert main(["audit", "verify", "--db", str(city_db), "--anchor", "7:nothex"]) == 2


def test_audit_verify_on_a_missing_file_says_so(tmp_path: Path, capsys) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database" in capsys.readouterr().err


def test_the_committed_openapi_document_is_current(capsys) -> None:
    assert main(["openapi", "--check"]) == 0


def test_production_refuses_demo_secrets_and_bad_values() -> None:
    with pytest.raises(SettingsError, match="demo secret"):
        Settings(env="production").check()
    with pytest.raises(SettingsError, match="32 characters"):
        Settings(env="production", jwt_secret="short").check()
    Settings(env="production", jwt_secret="x" * 40).check()
    with pytest.raises(SettingsError, match="bad setting"):
        load_settings({"BEATSYNC_ACCESS_TOKEN_TTL": "soon"})
    assert (
        load_settings(
            {"BEATSYNC_LOG_JSON": "true", "BEATSYNC_ACCESS_TOKEN_TTL": "60"}
        ).access_token_ttl_seconds
        == 60
    )


def test_production_refuses_to_serve_the_demo_or_demo_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("BEATSYNC_ENV", "production")
    assert main(["serve", "--db", str(tmp_path / "p.db")]) == 2
    assert DEMO_JWT_SECRET not in capsys.readouterr().err
    monkeypatch.setenv("BEATSYNC_JWT_SECRET", "a-real-secret-of-forty-characters-000000")
    assert main(["serve", "--demo", "--db", str(tmp_path / "p.db")]) == 2
    assert "--demo is refused" in capsys.readouterr().err
    # A database that still has the demo accounts in it.
    from server.demo import seed_demo_city

    store = open_store(str(tmp_path / "demo.db"), ManualClock())
    seed_demo_city(store, Passwords(time_cost=1, memory_kib=1024))
    store.close()
    assert main(["serve", "--db", str(tmp_path / "demo.db")]) == 2
    assert "demo accounts are active" in capsys.readouterr().err


def test_serve_leaves_the_client_address_to_beatsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn would rewrite the client's address from X-Forwarded-For for a peer on
    127.0.0.1 by default; beatsync's own rule (BEATSYNC_TRUSTED_PROXIES) must be the only one."""
    import uvicorn

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("BEATSYNC_WEB_DIR", str(tmp_path / "nothing-built"))
    assert main(["serve", "--db", str(tmp_path / "serve.db")]) == 0
    assert calls
    assert calls[0]["proxy_headers"] is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_demo_prints_where_to_log_in_and_warnings_start_arriving(tmp_path: Path) -> None:
    """The README's first command, as a new operator runs it."""
    port = _free_port()
    env = {**os.environ, "BEATSYNC_LOG_JSON": "true"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "demo.db"),
            "--feed-interval",
            "0.2",
            # The live feed alone; tests/test_demo_history.py serves a demo with a past.
            "--history-days",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        banner = ""
        assert server.stdout is not None
        while "Warning platform client" not in banner:
            line = server.stdout.readline()
            assert line, "the server exited before printing the login banner"
            banner += line
        assert f"POST {base}/api/v1/auth/login" in banner
        assert "admin" in banner
        assert "officer-411602-01-1" in banner
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"login": "admin", "password": "demo", "device_id": "laptop-0001"},
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        seen = 0
        for _ in range(100):
            seen = len(
                httpx.get(
                    f"{base}/api/v1/warnings/", params={"limit": 500}, headers=headers
                ).json()["items"]
            )
            if seen > 60:  # the first delivery, and then some
                break
            time.sleep(0.1)
        assert seen > 60
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def _older_release_db(path: Path) -> None:
    """A database last migrated by the release before this one."""
    from sqlite_utils import Database

    from server.store.sqlite import migrations

    conn = sqlite3.connect(path)
    migrations.migrations.apply(Database(conn), stop_before=migrations.known()[-1])
    conn.close()


def test_serve_refuses_a_database_behind_this_release_until_it_is_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another node may still be serving the older release from it: a node of the new one
    must not change its schema under that node's feet by starting."""
    import uvicorn

    from server.store.sqlite import migrations

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.setenv("BEATSYNC_WEB_DIR", str(tmp_path / "nothing-built"))
    db = tmp_path / "older.db"
    _older_release_db(db)
    newest = migrations.known()[-1]

    assert main(["serve", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve" in err
    assert newest in err
    assert f"beatsync migrate --db {db}" in err
    assert served == []
    # Nothing was applied by the refusal.
    assert main(["migrate", "--check", "--db", str(db)]) == 1
    assert newest in capsys.readouterr().out

    assert main(["migrate", "--db", str(db)]) == 0
    assert f"applied 1 migration(s) to {db}:\n  {newest}" in capsys.readouterr().out
    assert main(["migrate", "--check", "--db", str(db)]) == 0
    assert main(["serve", "--db", str(db)]) == 0
    assert len(served) == 1


def test_serve_refuses_a_database_it_cannot_reach_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("served anyway"))
    monkeypatch.setenv("BEATSYNC_WEB_DIR", str(tmp_path / "nothing-built"))
    missing = tmp_path / "no-such-folder" / "city.db"
    assert main(["serve", "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"refusing to serve: cannot open the database at {missing}" in err
    assert "Traceback" not in err


def test_a_worker_of_several_refuses_a_database_behind_this_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker of `serve --workers N` opens the database itself: none migrates it."""
    from server.app import create_worker_app
    from server.store.errors import PendingMigrations

    db = tmp_path / "older.db"
    _older_release_db(db)
    monkeypatch.setenv("BEATSYNC_DATABASE", str(db))
    with pytest.raises(PendingMigrations):
        create_worker_app()


def test_a_postgresql_url_is_chosen_by_its_own_setting_and_wins_over_the_file() -> None:
    url = "postgresql://beatsync:secret-pw@db.internal:5432/city"
    chosen = load_settings({"BEATSYNC_DATABASE": "city.db", "BEATSYNC_DATABASE_URL": url})
    assert chosen.database_path == url
    assert load_settings({"BEATSYNC_DATABASE": "city.db"}).database_path == "city.db"
    # --db names either, and wins over both.
    assert load_settings({"BEATSYNC_DATABASE_URL": url}, database_path="x.db").database_path == (
        "x.db"
    )
    with pytest.raises(SettingsError, match="postgresql:// URL"):
        load_settings({"BEATSYNC_DATABASE_URL": "mysql://db.internal/city"}).check()


def test_an_unreachable_postgresql_is_refused_without_showing_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("served anyway"))
    monkeypatch.setenv("BEATSYNC_WEB_DIR", str(tmp_path / "nothing-built"))
    with socket.socket() as s:  # a port no database listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://beatsync:secret-pw@127.0.0.1:{port}/city"
    monkeypatch.setenv("BEATSYNC_DATABASE_URL", url)
    assert main(["serve"]) == 2
    assert main(["migrate", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("refusing to serve") == 1
    assert f"127.0.0.1:{port}" in err or f"port={port}" in err
    assert "secret-pw" not in err
    assert "Traceback" not in err


def test_backup_and_restore_send_a_postgresql_operator_to_its_own_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://beatsync:secret-pw@127.0.0.1:1/city"
    assert main(["backup", str(tmp_path / "b"), "--db", url]) == 2
    assert main(["restore", str(tmp_path / "b"), "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("pg_dump") == 2
    assert not (tmp_path / "b").exists()
