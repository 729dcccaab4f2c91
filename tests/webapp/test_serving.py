"""The officers' app served at /app/: an officer's phone opens it without a token, gets
every new build at its next start and keeps hashed files for a year; nothing outside the
built folder is ever served, and the API keeps answering problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar

from server import cli
from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.demo import ACCOUNTS
from server.settings import Settings
from server.store.interface import Store
from server.webapp import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.anyio

INDEX = (
    '<!doctype html><html><head><link rel="manifest" href="/app/manifest.webmanifest">'
    '<script type="module" src="/app/assets/index-abc123.js"></script></head>'
    '<body><div id="app"></div></body></html>'
)
SCRIPT = "export const officer = 'on the beat';\n" * 100  # big enough to be gzipped


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A build as `npm run build` leaves it, and a secret beside it."""
    app = tmp_path / "dist" / "app"
    (app / "assets").mkdir(parents=True)
    (app / "index.html").write_text(INDEX)
    (app / "assets" / "index-abc123.js").write_text(SCRIPT)
    (app / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    (app / "registerSW.js").write_text("navigator.serviceWorker.register('/app/sw.js');")
    (app / "workbox-5f3e1a2b.js").write_text("// workbox")
    (app / "manifest.webmanifest").write_text('{"name": "beatsync", "start_url": "/app/"}')
    console = tmp_path / "dist" / "console"
    (console / "assets").mkdir(parents=True)
    (console / "index.html").write_text(
        INDEX.replace("/app/", "/console/").replace("abc123", "def456")
    )
    (console / "assets" / "index-def456.js").write_text(SCRIPT)
    (tmp_path / "dist" / "secret.txt").write_text("not for phones")
    (tmp_path / "secret.txt").write_text("not for phones")
    return tmp_path / "dist"


@pytest.fixture
def settings(db_path: Path, web_dir: Path) -> Settings:
    return Settings(
        env="test",
        database_path=str(db_path),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        web_dir=str(web_dir),
    )


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] == code
    return body


async def test_an_officer_opens_the_app_without_a_token_under_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/app/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    # The API behind it still wants one.
    _problem(await client.get("/api/v1/warnings/"), 401, "not_authenticated")


async def test_the_bare_names_lead_to_the_app(client: httpx.AsyncClient) -> None:
    bare = await client.get("/app")
    assert bare.status_code == 301
    assert bare.headers["location"] == "/app/"
    with_query = await client.get("/app?from=sms")
    assert with_query.headers["location"] == "/app/?from=sms"
    phone = "Mozilla/5.0 (Linux; Android 13; V2219A) AppleWebKit/537.36 Mobile Safari/537.36"
    root = await client.get("/", headers={"user-agent": phone})
    assert root.status_code == 302
    assert root.headers["location"] == "/app/"


async def test_a_desk_is_sent_to_the_console_which_is_served_like_the_app(
    client: httpx.AsyncClient,
) -> None:
    desk = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    root = await client.get("/", headers={"user-agent": desk})
    assert root.status_code == 302
    assert root.headers["location"] == "/console/"
    assert (await client.get("/console")).headers["location"] == "/console/"
    # A supervisor's bookmark of a page of the console opens the console's shell.
    for path in ("/console/", "/console/warnings/12", "/console/review"):
        shell = await client.get(path)
        assert shell.status_code == 200, path
        assert "/console/assets/index-def456.js" in shell.text
        assert shell.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    asset = await client.get("/console/assets/index-def456.js")
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    _problem(await client.get("/console/assets/index-gone.js"), 404, "not_found")
    _problem(await client.get("/console/%2e%2e/app/index.html"), 404, "not_found")


async def test_hashed_assets_are_kept_a_year_and_the_files_naming_them_revalidated(
    client: httpx.AsyncClient,
) -> None:
    asset = await client.get("/app/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.text == SCRIPT
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"] == "text/javascript; charset=utf-8"
    assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for name in ("sw.js", "registerSW.js", "workbox-5f3e1a2b.js", "manifest.webmanifest"):
        response = await client.get(f"/app/{name}")
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "no-cache", name
    sw = await client.get("/app/sw.js")
    assert sw.headers["service-worker-allowed"] == "/app/"
    assert sw.headers["content-type"].startswith("text/javascript")
    manifest = await client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.json()["start_url"] == "/app/"
    assert "service-worker-allowed" not in manifest.headers


async def test_text_travels_gzipped_and_an_unchanged_file_answers_304(
    client: httpx.AsyncClient,
) -> None:
    raw = await client.get("/app/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in raw.headers["vary"].lower()
    assert raw.text == SCRIPT
    assert raw.num_bytes_downloaded < len(SCRIPT) / 5
    again = await client.get(
        "/app/assets/index-abc123.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": raw.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""
    plain = await client.get("/app/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == SCRIPT
    assert plain.headers["etag"] != raw.headers["etag"]


async def test_the_apps_own_screens_answer_the_shell(client: httpx.AsyncClient) -> None:
    for path in ("/app/tasks", "/app/tasks/", "/app/warnings/W-20261125-0042/visit"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX, path
        assert response.headers["cache-control"] == "no-cache"


async def test_a_missing_file_is_a_404_problem_not_the_shell(client: httpx.AsyncClient) -> None:
    for path in (
        "/app/assets/index-0ld0ld.js",
        "/app/assets/",
        "/app/assets/fonts/vant.woff2",
        "/app/icon-512.png",
        "/app/sw-old.js",
    ):
        response = await client.get(path)
        body = _problem(response, 404, "not_found")
        assert body["instance"] == path.rstrip("/") or body["instance"] == path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_no_path_reaches_outside_the_built_folder(
    client: httpx.AsyncClient, web_dir: Path
) -> None:
    (web_dir / "app" / "linked.txt").symlink_to(web_dir / "secret.txt")
    (web_dir / "app" / ".env").write_text("not for phones")
    attempts = [
        "/app/%2e%2e/secret.txt",
        "/app/..%2fsecret.txt",
        "/app/..%2F..%2Fsecret.txt",
        "/app/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/app/assets/..%2f..%2fsecret.txt",
        "/app/..%5csecret.txt",
        "/app/%2e%2e/%2e%2e/server/app.py",
        "/app/%00index.html",
        "/app/linked.txt",
        "/app/.env",
        "/app/%2e/index.html",
    ]
    for path in attempts:
        response = await client.get(path)
        assert "not for phones" not in response.text, path
        assert "create_app" not in response.text, path
        _problem(response, 404, "not_found")
    # httpx removes plain dot segments itself, as browsers do: still nothing.
    response = await client.get("/app/../server/app.py")
    assert "create_app" not in response.text


async def test_unknown_api_paths_still_answer_problem_documents(
    client: httpx.AsyncClient,
) -> None:
    _problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    _problem(await client.get("/apple"), 404, "not_found")
    _problem(await client.post("/app/"), 405, "method_not_allowed")
    health = await client.get("/healthz")
    assert health.status_code == 200


@pytest.fixture
async def unbuilt_client(
    tmp_path: Path, settings: Settings, store: Store, clock: ManualClock, passwords: Passwords
) -> AsyncIterator[httpx.AsyncClient]:
    empty = tmp_path / "nothing-built"
    empty.mkdir()
    unbuilt: Litestar = create_app(
        msgspec.structs.replace(settings, web_dir=str(empty)),
        store=store,
        clock=clock,
        passwords=passwords,
    )
    transport = httpx.ASGITransport(app=unbuilt)
    async with httpx.AsyncClient(transport=transport, base_url="http://beatsync.test") as c:
        yield c


async def test_an_unbuilt_app_says_how_to_build_it(unbuilt_client: httpx.AsyncClient) -> None:
    for path in ("/app/", "/app/tasks", "/app/assets/index-abc123.js"):
        body = _problem(await unbuilt_client.get(path), 503, "app_not_built")
        assert "README's first command" in str(body["detail"])
    assert (await unbuilt_client.get("/healthz")).status_code == 200


def test_serve_warns_at_start_when_the_app_is_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setenv("BEATSYNC_WEB_DIR", str(tmp_path / "nothing-built"))
    monkeypatch.setenv("BEATSYNC_LOG_JSON", "true")
    monkeypatch.setenv("BEATSYNC_LOG_LEVEL", "info")
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: None)
    assert cli.main(["serve", "--db", str(tmp_path / "serve.db")]) == 0
    warnings = [
        msgspec.json.decode(line)
        for line in capsys.readouterr().err.splitlines()
        if "web_app_not_built" in line
    ]
    assert warnings
    assert warnings[0]["level"] == "warning"
    assert "README's first command" in warnings[0]["detail"]


def test_the_demo_banner_gives_the_apps_address(capsys: pytest.CaptureFixture[str]) -> None:
    cli._print_demo_banner(
        "http://127.0.0.1:8000", "demo.db", ACCOUNTS, "demo", "secret", app_built=True
    )
    assert "http://127.0.0.1:8000/app/" in capsys.readouterr().out
