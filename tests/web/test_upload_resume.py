"""A photo upload cut off midway, by a dropped network and a closed app, goes on from where
the server stands: the bytes already there are not sent again."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Route

from tests.support.live import LiveServer
from tests.support.photos import big_jpeg
from tests.support.web import Phone, ServerDesk
from tests.web.test_offline_visit import record_face_to_face_visit

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_an_upload_cut_off_midway_resumes_from_its_offset_after_a_reload(
    browser: Browser, server: LiveServer, desk: ServerDesk, tmp_path: Path
) -> None:
    # Playwright cannot see requests a service worker handles: this phone runs without
    # one, which changes nothing for uploads (the worker never touches /api/).
    context = browser.new_context(
        viewport={"width": 360, "height": 800},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        geolocation={"latitude": 33.6255, "longitude": 114.6478, "accuracy": 12},
        service_workers="block",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    phone = Phone(page, context, server.base, SCREENSHOTS)
    warning = desk.deliver(name="陈秀英")
    picture = big_jpeg(900_000, seed=3)
    sha = hashlib.sha256(picture).hexdigest()
    photo = tmp_path / "door.jpg"
    photo.write_bytes(picture)

    creations: list[str] = []
    patches: list[dict[str, Any]] = []
    cut = {"done": False, "down": False}

    def uploads(route: Route) -> None:
        request = route.request
        if request.method == "POST":
            creations.append(request.url)
        if request.method != "PATCH":
            route.continue_()
            return
        offset = int(request.headers.get("upload-offset", "-1"))
        body = request.post_data_buffer or b""
        patches.append({"offset": offset, "bytes": len(body)})
        if cut["down"]:
            # The network stays down until the officer closes the app.
            patches.pop()
            route.abort("internetdisconnected")
            return
        if cut["done"] or len(body) < 2:
            route.continue_()
            return
        # The network drops halfway through this PATCH: the server keeps what arrived,
        # and the app sees only a broken connection.
        cut["done"] = cut["down"] = True
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("upload-checksum",)
        }
        half = body[: len(body) // 2]
        headers["content-length"] = str(len(half))
        route.fetch(headers=headers, post_data=half)
        route.abort("connectionreset")

    page.route("**/api/v1/uploads/**", uploads)
    page.route("**/api/v1/uploads", uploads)

    phone.open().log_in("o1")
    phone.wait_for_cards(1)
    record_face_to_face_visit(phone, warning, photo)
    # Saving starts a sync by itself, whose upload meets the drop. (Pressing "sync now"
    # here would wait out the app's retries of it, 14 s of them, with the button disabled.)
    page.locator("[data-test=visit-save]").click()
    for _ in range(100):
        if cut["done"]:
            break
        page.wait_for_timeout(100)
    assert cut["done"], "no PATCH was sent"

    # The officer closes the app before it retries, and opens it again later.
    page.close()
    page = context.new_page()
    cut["down"] = False
    phone = Phone(page, context, server.base, SCREENSHOTS)
    page.route("**/api/v1/uploads/**", uploads)
    page.route("**/api/v1/uploads", uploads)
    phone.open()
    resumed_from = len(patches)
    phone.sync_now()
    tables = phone.wait_for_device(lambda t: [p["state"] for p in t["photos"]] == ["done"], 30)
    assert [p["state"] for p in tables["photos"]] == ["done"]

    assert len(creations) == 1, "the upload was created again instead of resumed"
    first_after = patches[resumed_from]
    assert first_after["offset"] > 0, "the resumed upload started from zero"
    sent_after = sum(p["bytes"] for p in patches[resumed_from:])
    assert sent_after == len(picture) - first_after["offset"]
    [visit] = desk.visits_with_photos(warning)["visits"]
    [stored] = visit["photos"]
    assert stored == {**stored, "sha256": sha, "status": "received"}
    assert stored["photo"]["size"] == len(picture)
    context.close()
