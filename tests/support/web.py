"""Verbs for the browser stories: an officer's phone (a Playwright page on the app) and the
desk on the other side (the platform and the supervisors, through the API).

The phone is driven only as an officer would drive it, through what is on screen; the
desk only through the HTTP API. What the device holds is read straight from its
IndexedDB, the way a forensic look at a lost phone would.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.city import PASSWORD, PLATFORM_SECRET

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which
# this machine's closed network refuses; the rest keep a headless run quiet and quick.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_numbers = itertools.count(1)

# Every store of the device's database, as JSON text: blobs show as {} and everything
# else as stored. A resident's details anywhere in it are found by a substring search.
_DUMP_INDEXEDDB = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('beatsync');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const out = {};
  for (const name of Array.from(db.objectStoreNames)) {
    out[name] = await new Promise((resolve, reject) => {
      const req = db.transaction(name).objectStore(name).getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  db.close();
  return JSON.stringify(out);
}
"""


class Phone:
    """An officer's phone with the app open at /app/."""

    def __init__(self, page: Page, context: BrowserContext, base: str, shots: Path) -> None:
        self.page = page
        self.context = context
        self.base = base
        self.shots = shots

    def open(self) -> Self:
        self.page.goto(f"{self.base}/app/")
        return self

    def log_in(self, login: str, password: str = PASSWORD) -> Self:
        self.page.locator("[data-test=login-name] input, input[data-test=login-name]").fill(login)
        self.page.locator("[data-test=login-password] input, input[data-test=login-password]").fill(
            password
        )
        self.page.locator("[data-test=login-submit]").click()
        expect(self.page.locator("[data-test=sync-state]")).to_be_visible()
        return self

    def cards(self) -> list[tuple[str, int]]:
        """The task cards on screen, top to bottom, as (kind, id)."""
        cards = self.page.locator("[data-test=task-card]")
        return [
            (str(c.get_attribute("data-kind")), int(c.get_attribute("data-id") or 0))
            for c in cards.all()
        ]

    def wait_for_cards(self, count: int, timeout_s: float = 15) -> list[tuple[str, int]]:
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.cards()
            if len(seen) == count or time.monotonic() > deadline:
                return seen
            self.page.wait_for_timeout(100)

    def card(self, task_id: int, kind: str = "warning") -> Any:
        return self.page.locator(f"[data-test=task-card][data-kind={kind}][data-id='{task_id}']")

    def tab(self, name: str) -> None:
        """Back out of a task to the bottom bar, as an officer would, and open a tab."""
        tab = self.page.locator(f"[data-test=tab-{name}]")
        for _ in range(3):
            if tab.is_visible():
                break
            self.page.locator("[data-test=back]").click()
            self.page.wait_for_timeout(300)
        tab.click()

    def sync_now(self) -> None:
        self.page.locator("[data-test=sync-now]").click()

    def offline(self) -> None:
        self.context.set_offline(True)

    def online(self) -> None:
        self.context.set_offline(False)

    def device_data(self) -> str:
        text: str = self.page.evaluate(_DUMP_INDEXEDDB)
        return text

    def device_tables(self) -> dict[str, list[Any]]:
        tables: dict[str, list[Any]] = json.loads(self.device_data())
        return tables

    def wait_for_device(self, predicate: Any, timeout_s: float = 15) -> dict[str, list[Any]]:
        """Poll the device's database until `predicate(tables)` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            tables = self.device_tables()
            if predicate(tables) or time.monotonic() > deadline:
                return tables
            self.page.wait_for_timeout(200)

    def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


class ServerDesk:
    """The platform and the supervisors of the tiny city, through the API."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self._tokens: dict[str, dict[str, str]] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.close()

    def auth(self, who: str) -> dict[str, str]:
        if who not in self._tokens:
            if who == "platform":
                response = self.http.post(
                    "/api/v1/auth/token",
                    json={"client_id": "platform", "client_secret": PLATFORM_SECRET},
                )
            else:
                response = self.http.post(
                    "/api/v1/auth/login",
                    json={"login": who, "password": PASSWORD, "device_id": f"desk-of-{who}"},
                )
            assert response.status_code == 200, response.text
            self._tokens[who] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._tokens[who]

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.auth(who), **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def deliver(
        self,
        grid_code: str = "411602001001",
        *,
        name: str = "陈秀英",
        phone: str | None = None,
        risk_level: str = "high",
        fraud_type: str = "fake_loan",
        deadline_in: timedelta = timedelta(hours=2),
    ) -> int:
        """The platform sends one warning for a resident of the grid; returns its id."""
        n = next(_numbers)
        issued = datetime.now(UTC) - timedelta(minutes=5)
        body = {
            "warnings": [
                {
                    "platform_id": f"YJ-WEB-{time.time_ns()}-{n}",
                    "resident": {
                        "name": name,
                        "phone": phone or f"1390000{n:04d}",
                        "address": f"七一路{n}号院3单元",
                        "id_number": f"41160219600101{n:04d}",
                    },
                    "grid_code": grid_code,
                    "source": "fund_transfer",
                    "fraud_type": fraud_type,
                    "risk_level": risk_level,
                    "issued_at": issued.isoformat(),
                    "deadline_at": (issued + deadline_in).isoformat(),
                }
            ]
        }
        [result] = self.call("POST", "/api/v1/platform/warnings", "platform", json=body)["results"]
        assert result["status"] == "created", result
        return int(result["warning_id"])

    def warning(self, warning_id: int, who: str = "sup1") -> dict[str, Any]:
        out: dict[str, Any] = self.call("GET", f"/api/v1/warnings/{warning_id}", who)
        return out

    def reassign(self, warning_id: int, officer_id: int, who: str = "sup1") -> None:
        self.call(
            "POST",
            f"/api/v1/warnings/{warning_id}/reassign",
            who,
            json={"officer_id": officer_id, "reason": "换人处置"},
        )

    def cancel(self, warning_id: int, who: str = "sup1") -> None:
        self.call("POST", f"/api/v1/warnings/{warning_id}/cancel", who, json={"reason": "平台撤回"})

    def visits_with_photos(self, warning_id: int, who: str = "sup1") -> dict[str, Any]:
        out: dict[str, Any] = self.call("GET", f"/api/v1/photos/tasks/warning/{warning_id}", who)
        return out

    def review_queue(self, who: str = "sup1") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/api/v1/review", who)["items"]
        return items

    def return_visit(self, entry_id: str, reason: str, who: str = "sup1") -> None:
        self.call("POST", f"/api/v1/review/{entry_id}/return", who, json={"reason": reason})

    def conflicts(self, who: str = "sup1") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/api/v1/conflicts", who)["items"]
        return items

    def revoke_devices_of(self, user_id: int, who: str = "sup1") -> int:
        revoked = 0
        for device in self.call("GET", "/api/v1/devices", who, params={"user_id": user_id}):
            if device["user_id"] == user_id and device["revoked_at"] is None:
                self.call("POST", f"/api/v1/devices/{device['id']}/revoke", who)
                revoked += 1
        return revoked

    def user_id(self, login: str, who: str = "admin") -> int:
        for user in self.call("GET", "/api/v1/users", who):
            if user["login"] == login:
                return int(user["id"])
        raise AssertionError(f"no user {login}")


class Console:
    """A supervisor's browser with the console open at /console/."""

    def __init__(self, page: Page, base: str, shots: Path) -> None:
        self.page = page
        self.base = base
        self.shots = shots

    def open(self, path: str = "") -> Self:
        self.page.goto(f"{self.base}/console/{path.lstrip('/')}")
        return self

    def log_in(self, login: str, password: str = PASSWORD) -> Self:
        self.page.locator("[data-test=login-name] input, input[data-test=login-name]").fill(login)
        self.page.locator("[data-test=login-password] input, input[data-test=login-password]").fill(
            password
        )
        self.page.locator("[data-test=login-submit]").click()
        expect(self.page.locator("[data-test=logout]")).to_be_visible()
        return self

    def number(self, selector: str) -> int:
        """The integer shown by an element (thousands separators and units dropped)."""
        text = self.page.locator(selector).first.inner_text()
        digits = "".join(ch for ch in text if ch.isdigit())
        assert digits, f"{selector} shows no number: {text!r}"
        return int(digits)

    def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        # Element Plus fades tags and dialogs in: finish those, or they show half drawn.
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path


def seed_overdue_warning(location: str, *, minutes_ago: int, name: str, login: str = "o1") -> int:
    """A warning that reached the officer `minutes_ago` minutes ago and was never visited,
    written before the server starts: the server's own clock cannot be set back."""
    from server.clock import ManualClock
    from server.store.opening import open_store
    from server.store.records import Actor
    from tests.support.city import new_warning

    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    store = open_store(location, clock)
    try:
        platform = store.get_user_by_login("platform")
        officer = store.get_user_by_login(login)
        assert platform is not None
        assert officer is not None
        issued = clock.now() - timedelta(minutes=1)
        [(record, _)] = store.ingest_warnings(
            [
                new_warning(
                    platform.id,
                    f"YJ-LATE-{time.time_ns()}",
                    officer.id,
                    resident_name=name,
                    issued_at=issued,
                    deadline_at=issued + timedelta(hours=1),
                )
            ],
            Actor(user_id=platform.id),
        )
        return record.id
    finally:
        store.close()
