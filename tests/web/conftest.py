"""The officers' app in a real browser: Debian's Chromium driven by Playwright, at a phone's
viewport, against `beatsync serve` on a real SQLite file of the tiny city.

Each story gets its own server and database, so what one officer's phone did never leaks
into the next story. The browser is shared (starting Chromium costs seconds); each story
opens a fresh context, which is a fresh phone: its own IndexedDB and service worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from clients.device import DeviceClient
from tests.support.city import PASSWORD
from tests.support.live import ROOT, LiveServer
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, Console, Phone, ServerDesk

APP_DIR = ROOT / "clients" / "web" / "dist"
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="session")
def built_app() -> Path:
    index = APP_DIR / "app" / "index.html"
    if not index.is_file():
        pytest.fail(
            "the officers' app is not built: run `npm ci --prefix clients/web && "
            "npm run build --prefix clients/web` (scripts/check does)"
        )
    return APP_DIR


# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and the async tests that run after this package need the
# thread's loop to themselves.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/check installs Debian's chromium")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def server(tmp_path: Path, built_app: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, BEATSYNC_WEB_DIR=str(built_app))
    live.start()
    yield live
    live.stop()


@pytest.fixture
def desk(server: LiveServer) -> Iterator[ServerDesk]:
    """The other side of each story: the platform and the supervisors, through the API."""
    with ServerDesk(server.base) as the_desk:
        yield the_desk


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 360, "height": 800},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        # The door of 七一路社区 (WGS-84), within a few metres.
        geolocation={"latitude": 33.6255, "longitude": 114.6478, "accuracy": 12},
        service_workers="allow",
    )
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def phone(server: LiveServer, page: Page, context: BrowserContext) -> Phone:
    # The server first, so that it stops last: stopped under an open page, it would wait
    # out its graceful shutdown for the page's event stream.
    return Phone(page, context, server.base, SCREENSHOTS)


@pytest.fixture
def console(browser: Browser, server: LiveServer) -> Iterator[Console]:
    """A supervisor's desk: a wide screen, Chinese, China Standard Time."""
    ctx = browser.new_context(
        viewport={"width": 1440, "height": 900},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    yield Console(page, server.base, SCREENSHOTS)
    ctx.close()


@pytest.fixture
def officer_phone(server: LiveServer, tmp_path: Path) -> Iterator[DeviceClient]:
    """o1's phone, driven by the reference device client (as a second phone would be)."""
    with DeviceClient(server.base, tmp_path / "o1-phone.db", device_id="phone-o1-sdk") as phone:
        phone.login("o1", PASSWORD)
        yield phone
