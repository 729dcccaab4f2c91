"""In a village with no signal: the app opens from the phone itself, the officer records a
visit with a photo, and everything reaches the station once the phone is back in coverage."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from playwright.sync_api import expect

from tests.support.photos import jpeg
from tests.support.web import Phone, ServerDesk


def record_face_to_face_visit(phone: Phone, warning_id: int, photo: Path | None) -> None:
    """Open the warning, record a face-to-face visit that talked the resident out of it."""
    phone.card(warning_id).click()
    phone.page.locator("[data-test=record-visit]").click()
    phone.page.locator("[data-test=visit-contact-face_to_face]").click()
    phone.page.locator("[data-test=visit-outcome-dissuaded]").click()
    phone.page.locator("[data-test=visit-amount] input, input[data-test=visit-amount]").fill(
        "50000"
    )
    phone.page.locator("[data-test=visit-notes] textarea, textarea[data-test=visit-notes]").fill(
        "当面讲解贷款诈骗手法，群众已卸载涉诈APP"
    )
    phone.page.locator("[data-test=visit-locate]").click()
    expect(phone.page.locator("[data-test=visit-position]")).to_contain_text("12")
    if photo is not None:
        phone.page.locator("[data-test=visit-photo-input]").set_input_files(str(photo))
        expect(phone.page.locator("[data-test=visit-photo]")).to_have_count(1)


def test_a_visit_recorded_offline_with_a_photo_reaches_the_station(
    phone: Phone, desk: ServerDesk, tmp_path: Path
) -> None:
    warning = desk.deliver(name="陈秀英")
    phone.open().log_in("o1")
    phone.wait_for_cards(1)
    # The service worker has the app shell once it controls the page.
    # Polled from here: wait_for_function compiles its predicate with eval, which the
    # app's Content Security Policy (script-src 'self') refuses whenever it must poll.
    deadline = time.monotonic() + 15
    while not phone.page.evaluate("() => Boolean(navigator.serviceWorker?.controller)"):
        assert time.monotonic() < deadline, "the service worker never took over the page"
        phone.page.wait_for_timeout(100)

    phone.offline()
    phone.page.reload()
    expect(phone.card(warning)).to_contain_text("陈秀英")
    expect(phone.page.locator("[data-test=sync-state]")).to_contain_text("离线")

    picture = jpeg(1280, 960, seed=7)
    photo = tmp_path / "door.jpg"
    photo.write_bytes(picture)
    record_face_to_face_visit(phone, warning, photo)
    phone.screenshot("officer-record-visit")
    phone.page.locator("[data-test=visit-save]").click()

    # Still offline: the entry waits in the outbox, and nothing reached the server.
    phone.tab("outbox")
    expect(phone.page.locator("[data-test=outbox-row][data-status=pending]")).to_have_count(1)
    assert desk.visits_with_photos(warning)["visits"] == []

    phone.online()
    expect(phone.page.locator("[data-test=outbox-row][data-status=applied]")).to_have_count(
        1, timeout=20_000
    )
    sha = hashlib.sha256(picture).hexdigest()
    tables = phone.wait_for_device(
        lambda t: [p["state"] for p in t["photos"]] == ["done"], timeout_s=20
    )
    assert [p["sha256"] for p in tables["photos"]] == [sha]

    # The supervisor sees the visit and its photo, stored under its sha256.
    [visit] = desk.visits_with_photos(warning)["visits"]
    [stored] = visit["photos"]
    assert stored["sha256"] == sha
    assert stored["status"] == "received"
    assert stored["photo"]["size"] == len(picture)
    state = desk.warning(warning)
    assert state["state"] == "completed"
    assert state["outcome"] == "dissuaded"
