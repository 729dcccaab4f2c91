"""The API explorer on an intranet that reaches no CDN: the Swagger page and everything
it loads come from beatsync itself, with no login (like the document at /schema)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from playwright.sync_api import sync_playwright

from tests.support.live import serve_in_thread
from tests.support.web import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.anyio
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    """Every URL the page would fetch: scripts, styles, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


async def test_the_swagger_page_loads_only_files_beatsync_serves(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/schema/swagger")
    assert page.status_code == 200, page.text
    references = _References()
    references.feed(page.text)
    assert len(references.urls) == 4  # script, preset, styles, icon
    for url in references.urls:
        assert re.match(r"^/[^/]", url), url  # a path on this server: same origin
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = CONTENT_TYPES[Path(url).suffix]
        assert asset.headers["content-type"].split(";")[0] == expected, url
        assert len(asset.content) > 1000, url
    assert not re.search(r"https?://", page.text.split("<body>")[0])  # nothing in <head>

    # Only what the page needs, nothing else of the package's folder.
    assert (await client.get("/schema/swagger-ui/LICENSE")).status_code == 404
    assert (await client.get("/schema/swagger-ui/swagger-editor.js")).status_code == 404
    assert (await client.get("/schema/swagger-ui/..%2F__init__.py")).status_code == 404


async def test_the_explorer_files_are_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/schema")]


def test_the_explorer_draws_the_api_in_a_browser_with_no_internet(app: Litestar) -> None:
    """Chromium with every request to another host refused, as on the intranet."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/check installs Debian's chromium")
    elsewhere: list[str] = []
    with serve_in_thread(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def only_beatsync(route, request) -> None:  # type: ignore[no-untyped-def]
                if request.url.startswith(base):
                    route.continue_()
                else:
                    elsewhere.append(request.url)
                    route.abort()

            page.route("**/*", only_beatsync)
            page.goto(f"{base}/schema/swagger")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() > 20  # one per operation
            assert "beatsync" in page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert elsewhere == []
