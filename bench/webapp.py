"""The officers' app against its budgets, in Debian's Chromium at a phone's viewport.

    .venv/bin/python -m bench.webapp [--tasks 2000] [--runs 3]

The server is the real `beatsync serve` process on 127.0.0.1 (the tiny city of the tests,
whose password hashes are cheap), serving the built app from `clients/web/dist` (run the
README's first command, or `npm run build --prefix clients/web`, first). Each figure is
printed beside its budget:

- JavaScript on first load: the scripts the login page loads (read from the network log,
  sized from dist gzipped at level 9, as the server sends them). Budget 250 KB.
- First load on 3G: a fresh phone (empty cache, no service worker), the network throttled
  through CDP to 300 ms latency, 180 KB/s down and 84 KB/s up (1.6 Mbps and 750 kbps at
  90%), and the CPU slowed 4x; from navigation start to the login button being shown
  and enabled, read in the page. Median of --runs. Budget 5 s.
- Reopening offline: logged in, synced, the service worker in control, the network cut;
  from the reload's navigation start to the first task card. For an officer with 20
  tasks and for the one with --tasks. Median of --runs. Budget 1 s.
- A pull of --tasks warnings: the platform delivers them to one officer's grid through
  `POST /api/v1/platform/warnings` (1,000 a request); timed from pressing "log in" on a
  fresh phone to every row being in IndexedDB (`beatsync`, store `tasks`). Budget 3 s.
- Scrolling them: the task list scrolled through in steps of one frame each; frame times
  from requestAnimationFrame in the page, p95 against 50 ms, with long tasks counted.
  Not CPU-throttled: this machine's cores stand in for a mid-range phone's.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

from bench.common import percentile  # noqa: E402
from tests.support.city import PASSWORD, PLATFORM_SECRET  # noqa: E402
from tests.support.live import LiveServer  # noqa: E402

DIST = ROOT / "clients" / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BIG_OFFICER, BIG_GRID = "o1", "411602001001"
SMALL_OFFICER, SMALL_GRID = "o2", "411602001002"
SMALL_TASKS = 20
THREE_G = {
    "offline": False,
    "latency": 300,
    "downloadThroughput": 1.6e6 * 0.9 / 8,
    "uploadThroughput": 750e3 * 0.9 / 8,
}
BUDGET_JS_KB = 250
BUDGET_3G_S = 5.0
BUDGET_OFFLINE_S = 1.0
BUDGET_PULL_S = 3.0
BUDGET_FRAME_MS = 50.0

NAME = "[data-test=login-name] input, input[data-test=login-name]"
PASSWORD_FIELD = "[data-test=login-password] input, input[data-test=login-password]"
# Truthy (the page's clock, ms since its navigation started) once the element is usable.
_LOGIN_READY = """() => {
  const b = document.querySelector('[data-test=login-submit]');
  if (!b || b.disabled || b.getAttribute('aria-disabled') === 'true') return false;
  const r = b.getBoundingClientRect();
  return r.width > 0 && r.height > 0 ? performance.now() : false;
}"""
_CARD_SHOWN = """() => {
  const c = document.querySelector('[data-test=task-card]');
  if (!c) return false;
  const r = c.getBoundingClientRect();
  return r.width > 0 && r.height > 0 ? performance.now() : false;
}"""
# Rows in the device's task store, without ever creating the database or blocking the
# app's own schema upgrade (the connection is closed at once).
_COUNT_TASKS = """async () => {
  const names = (await indexedDB.databases()).map(d => d.name);
  if (!names.includes('beatsync')) return 0;
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('beatsync');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    if (!db.objectStoreNames.contains('tasks')) return 0;
    return await new Promise((resolve, reject) => {
      const req = db.transaction('tasks').objectStore('tasks').count();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}"""
_SCROLL_THROUGH = """async ({stepPx, maxSteps}) => {
  const first = document.querySelector('[data-test=task-card]');
  let el = first ? first.parentElement : null;
  while (el && el !== document.body && el !== document.documentElement) {
    const style = getComputedStyle(el);
    if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 8) break;
    el = el.parentElement;
  }
  const scroller = el && el !== document.body && el !== document.documentElement
    ? el : document.scrollingElement;
  let longTasks = 0;
  const observer = new PerformanceObserver(list => { longTasks += list.getEntries().length; });
  try { observer.observe({type: 'longtask'}); } catch (e) { longTasks = -1; }
  const frame = () => new Promise(resolve => requestAnimationFrame(resolve));
  const seen = new Set();
  const frames = [];
  let last = await frame();
  let still = 0;
  let steps = 0;
  // Keep going while the list grows (a list that loads more at its end) for half a second.
  while (steps < maxSteps && still < 30) {
    const before = scroller.scrollTop;
    scroller.scrollTop = before + stepPx;
    const now = await frame();
    frames.push(now - last);
    last = now;
    for (const c of document.querySelectorAll('[data-test=task-card]')) {
      seen.add(`${c.dataset.kind}:${c.dataset.id}`);
    }
    still = scroller.scrollTop === before ? still + 1 : 0;
    steps += 1;
  }
  observer.disconnect();
  return {frames, longTasks, steps, seen: seen.size};
}"""


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER BUDGET"


def deliver(base: str, grid: str, count: int, tag: str) -> None:
    """The platform sends `count` warnings for residents of `grid`, 1,000 a request."""
    http = httpx.Client(base_url=base, timeout=120)
    token = http.post(
        "/api/v1/auth/token", json={"client_id": "platform", "client_secret": PLATFORM_SECRET}
    ).json()["access_token"]
    issued = datetime.now(UTC) - timedelta(minutes=5)
    levels = ("high", "medium", "low")
    fraud = ("fake_loan", "task_rebate", "impersonate_police", "fake_investment")
    for start in range(0, count, 1000):
        batch = [
            {
                "platform_id": f"YJ-BENCH-{tag}-{n:06d}",
                "resident": {
                    "name": f"居民{n}",
                    "phone": f"139{n:08d}",
                    "address": f"七一路{n % 300}号院{n % 7 + 1}单元",
                    "id_number": f"411602196001{n:06d}",
                },
                "grid_code": grid,
                "source": "fund_transfer",
                "fraud_type": fraud[n % len(fraud)],
                "risk_level": levels[n % 3],
                "issued_at": issued.isoformat(),
                "deadline_at": (issued + timedelta(minutes=60 + n)).isoformat(),
            }
            for n in range(start, min(count, start + 1000))
        ]
        response = http.post(
            "/api/v1/platform/warnings",
            json={"warnings": batch},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        created = sum(r["status"] == "created" for r in response.json()["results"])
        assert created == len(batch), response.text[:500]
    http.close()


def phone(browser: Browser) -> BrowserContext:
    """A fresh phone: its own cache, IndexedDB and service worker."""
    return browser.new_context(
        viewport={"width": 360, "height": 800},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        geolocation={"latitude": 33.6255, "longitude": 114.6478, "accuracy": 12},
        service_workers="allow",
    )


def ready_ms(page: Page, predicate: str, timeout_ms: float = 60_000) -> float:
    value = page.wait_for_function(predicate, polling="raf", timeout=timeout_ms).json_value()
    return float(value)


def log_in(page: Page, login: str) -> None:
    ready_ms(page, _LOGIN_READY)
    page.locator(NAME).fill(login)
    page.locator(PASSWORD_FIELD).fill(PASSWORD)
    page.locator("[data-test=login-submit]").click()


def wait_for_rows(page: Page, count: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    rows = 0
    while time.monotonic() < deadline:
        rows = int(page.evaluate(_COUNT_TASKS))
        if rows >= count:
            return rows
        page.wait_for_timeout(20)
    return rows


def first_load_javascript(browser: Browser, base: str) -> None:
    context = phone(browser)
    page = context.new_page()
    scripts: list[str] = []
    page.on(
        "response",
        lambda r: (
            scripts.append(urlparse(r.url).path) if r.request.resource_type == "script" else None
        ),
    )
    page.goto(f"{base}/app/")
    ready_ms(page, _LOGIN_READY)
    page.wait_for_load_state("networkidle")
    raw = zipped = 0
    for path in dict.fromkeys(scripts):
        file = DIST / path.lstrip("/")
        if path.startswith("/app/") and file.is_file():
            data = file.read_bytes()
            raw += len(data)
            zipped += len(gzip.compress(data, compresslevel=9))
    context.close()
    kb = zipped / 1000
    print(
        f"JavaScript on first load: {kb:.1f} KB gzipped ({raw / 1000:.0f} KB raw,"
        f" {len(set(scripts))} files)   budget {BUDGET_JS_KB} KB   " + verdict(kb <= BUDGET_JS_KB)
    )


def first_load_on_3g(browser: Browser, base: str, runs: int) -> None:
    times: list[float] = []
    for _ in range(runs):
        context = phone(browser)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THREE_G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.goto(f"{base}/app/", wait_until="commit", timeout=60_000)
        times.append(ready_ms(page, _LOGIN_READY) / 1000)
        context.close()
    median = statistics.median(times)
    print(
        f"first load on 3G (4x CPU) to a usable login: {median:.2f} s median of {runs}"
        f" ({', '.join(f'{t:.2f}' for t in times)})   budget {BUDGET_3G_S:.0f} s   "
        + verdict(median <= BUDGET_3G_S)
    )


def reopen_offline(page: Page, context: BrowserContext, label: str, runs: int) -> None:
    page.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=60_000)
    context.set_offline(True)
    times: list[float] = []
    try:
        for _ in range(runs):
            page.reload(wait_until="commit")
            times.append(ready_ms(page, _CARD_SHOWN, 30_000) / 1000)
    finally:
        context.set_offline(False)
    median = statistics.median(times)
    print(
        f"reopening offline to the task list ({label}): {median:.3f} s median of {runs}"
        f" ({', '.join(f'{t:.3f}' for t in times)})   budget {BUDGET_OFFLINE_S:.0f} s   "
        + verdict(median <= BUDGET_OFFLINE_S)
    )


def small_officer_offline(browser: Browser, base: str, runs: int) -> None:
    context = phone(browser)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/app/")
    log_in(page, SMALL_OFFICER)
    rows = wait_for_rows(page, SMALL_TASKS, 60)
    assert rows >= SMALL_TASKS, f"only {rows} of {SMALL_TASKS} tasks reached the phone"
    ready_ms(page, _CARD_SHOWN)
    reopen_offline(page, context, f"{SMALL_TASKS} tasks", runs)
    context.close()


def big_pull_scroll_and_offline(browser: Browser, base: str, tasks: int, runs: int) -> None:
    context = phone(browser)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/app/")
    ready_ms(page, _LOGIN_READY)
    page.locator(NAME).fill(BIG_OFFICER)
    page.locator(PASSWORD_FIELD).fill(PASSWORD)
    started = time.perf_counter()
    page.locator("[data-test=login-submit]").click()
    rows = wait_for_rows(page, tasks)
    took = time.perf_counter() - started
    print(
        f"pull of {tasks:,} tasks into IndexedDB, from login: {took:.2f} s ({rows:,} rows)"
        f"   budget {BUDGET_PULL_S:.0f} s   " + verdict(rows >= tasks and took <= BUDGET_PULL_S)
    )

    ready_ms(page, _CARD_SHOWN)
    page.wait_for_timeout(500)
    result: dict[str, Any] = page.evaluate(
        _SCROLL_THROUGH, {"stepPx": 240, "maxSteps": max(2000, tasks * 2)}
    )
    frames = [float(f) for f in result["frames"]]
    p95 = percentile(frames, 95)
    long_tasks = int(result["longTasks"])
    print(
        f"scrolling {tasks:,} tasks: p95 frame {p95:.1f} ms, max {max(frames):.0f} ms,"
        f" {sum(f > BUDGET_FRAME_MS for f in frames)} of {len(frames)} frames over"
        f" {BUDGET_FRAME_MS:.0f} ms, "
        + (f"{long_tasks} long tasks" if long_tasks >= 0 else "long tasks not observable")
        + f", {result['seen']:,} cards seen   budget p95 {BUDGET_FRAME_MS:.0f} ms   "
        + verdict(p95 <= BUDGET_FRAME_MS)
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    reopen_offline(page, context, f"{tasks:,} tasks", runs)
    context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="warnings for one officer")
    parser.add_argument("--runs", type=int, default=3, help="runs of the timed page loads")
    args = parser.parse_args()
    if not (DIST / "app" / "index.html").is_file():
        print(
            "the officers' app is not built: npm ci --prefix clients/web &&"
            " npm run build --prefix clients/web",
            file=sys.stderr,
        )
        return 2
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-webapp-") as tmp:
        server = LiveServer(Path(tmp), BEATSYNC_WEB_DIR=str(DIST)).start()
        try:
            deliver(server.base, SMALL_GRID, SMALL_TASKS, "small")
            started = time.perf_counter()
            deliver(server.base, BIG_GRID, args.tasks, "big")
            print(
                f"(setup: {args.tasks:,} warnings delivered to {BIG_OFFICER}'s grid in"
                f" {time.perf_counter() - started:.1f} s; Chromium at 360x800)"
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    first_load_javascript(browser, server.base)
                    first_load_on_3g(browser, server.base, args.runs)
                    small_officer_offline(browser, server.base, args.runs)
                    big_pull_scroll_and_offline(browser, server.base, args.tasks, args.runs)
                finally:
                    browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
