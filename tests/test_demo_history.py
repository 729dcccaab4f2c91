"""The demo's past: a few days of the demo city lived on a clock set back, through the same
services the server runs, read back through the API as a supervisor reads it.

The history here is small (three days, about eighty warnings a day city-wide) so that it
seeds in about a second; `beatsync serve --demo` lives 35 days of about 300 a day.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.cli import main
from server.clock import ManualClock, iso
from server.demo import ACCOUNTS, DEMO_PASSWORD, DEMO_PLATFORM_SECRET, seed_demo_city
from server.demo_history import HistoryFigures, seed_demo, seed_history
from server.publicity.service import CITY_TIMEZONE
from server.settings import Settings
from server.store.interface import Store
from tests.support import raw
from tests.support.api import bearer, login
from tests.support.live import ROOT, free_port

pytestmark = pytest.mark.anyio
END = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 in Zhoukou
TODAY = END.astimezone(CITY_TIMEZONE).date()
DAYS = 3
PER_DAY = 80


@pytest.fixture
def history(store: Store, clock: ManualClock, settings: Settings, passwords: Passwords) -> Any:
    clock.set(END - timedelta(days=DAYS + 1))
    assert seed_demo_city(store, passwords)
    return seed_history(store, clock, settings, days=DAYS, end=END, warnings_per_day=PER_DAY)


@pytest.fixture
def app(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, history: Any
) -> Litestar:
    return create_app(settings, store=store, clock=clock, passwords=passwords)


async def get(client: httpx.AsyncClient, who: str, path: str, **params: Any) -> Any:
    headers = bearer(await login(client, who, f"laptop-{who}", DEMO_PASSWORD))
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_few_days_of_history_fill_the_supervisors_reports(
    client: httpx.AsyncClient, history: HistoryFigures, clock: ManualClock, database: str
) -> None:
    assert clock.now() == END  # left where the server's own time takes over
    assert history.days == DAYS
    assert history.warnings > DAYS * PER_DAY / 2
    assert history.visits > history.warnings * 0.8
    assert min(history.reassigned, history.escalation_steps, history.publicity_tasks) > 0

    # Yesterday, as the county's supervisor reads it: every column has something in it.
    yesterday = str(TODAY - timedelta(days=1))
    county = ACCOUNTS.county_supervisor
    report = await get(
        client, county, "/api/v1/reports/completion", date_from=yesterday, date_to=yesterday
    )
    day = report["total"]["warnings"]
    for figure in ("received", "visited", "face_to_face", "on_time", "closed"):
        assert day[figure] > 0, figure
    assert day["outcomes"]["dissuaded"] > 0
    assert len(report["by_unit"]) == 3  # the county's three stations
    whole = await get(
        client,
        ACCOUNTS.admin,
        "/api/v1/reports/completion",
        date_from=str(TODAY - timedelta(days=DAYS)),
        date_to=str(TODAY),
    )
    total = whole["total"]["warnings"]
    assert total["received"] == history.warnings
    assert total["late"] > 0
    assert total["overdue"] > 0  # never visited, or not yet: today's open ones
    assert total["amount_prevented"] > 0
    assert 0.8 < total["face_to_face_rate"] < 1
    assert {k for k, v in total["outcomes"].items() if v} >= {"dissuaded", "not_reachable"}
    assert whole["total"]["publicity"]["done"] > 0
    assert whole["total"]["publicity"]["attendance"] > 0

    # The city's bulletin for yesterday ranks all ten counties on real figures.
    bulletin = await get(client, ACCOUNTS.admin, "/api/v1/reports/bulletin", day=yesterday)
    assert len(bulletin["counties"]) == 10
    assert bulletin["total"]["warnings"]["received"] > 0
    assert (
        sum(c["warnings"]["received"] for c in bulletin["counties"])
        == (bulletin["total"]["warnings"]["received"])
    )
    trend = await get(
        client,
        ACCOUNTS.admin,
        "/api/v1/reports/trend",
        date_from=str(TODAY - timedelta(days=DAYS)),
        date_to=str(TODAY),
    )
    assert all(d["received"] > 0 for d in trend["days"])

    # Escalations went up the levels over time, each step at its own moment.
    steps = (await get(client, ACCOUNTS.admin, "/api/v1/escalations", limit=500))["items"]
    assert {s["level"] for s in steps} == {"station", "county", "city"}
    assert len({s["at"][:13] for s in steps}) > 10

    # The platform's outcome feed holds every closed warning of the past days.
    response = await client.post(
        "/api/v1/auth/token",
        json={"client_id": ACCOUNTS.platform_client, "client_secret": DEMO_PLATFORM_SECRET},
    )
    feed = await client.get(
        "/api/v1/platform/outcomes", headers=bearer(response.json()), params={"limit": 500}
    )
    assert feed.status_code == 200, feed.text
    assert len(feed.json()["items"]) > history.warnings / 2

    decisions = {
        r["decision"]: r["n"]
        for r in raw.rows(
            database, "SELECT decision, count(*) AS n FROM visit_reviews GROUP BY decision"
        )
    }
    # A returned visit stays on record, superseded by the officer's redo.
    [redone] = raw.rows(
        database,
        "SELECT count(*) AS n FROM visit_reviews r JOIN visit_logs v ON v.supersedes = r.entry_id"
        " JOIN visit_logs o ON o.entry_id = r.entry_id AND o.officer_id = v.officer_id"
        " WHERE r.decision = 'returned'",
    )
    [span] = raw.rows(database, "SELECT min(created_at) AS a, max(created_at) AS z FROM warnings")
    [skewed] = raw.rows(
        database, "SELECT count(*) AS n FROM visit_logs WHERE flags LIKE '%clock_skew%'"
    )
    assert decisions["approved"] == history.approved > 0
    assert decisions["returned"] == history.returned > 0
    assert redone["n"] == history.redone > 0
    assert skewed["n"] > 0
    assert span["a"] >= str(TODAY - timedelta(days=DAYS + 1))
    assert span["z"] <= iso(END)


def test_the_history_is_the_same_on_every_run_and_is_seeded_once(
    tmp_path: Path, passwords: Passwords
) -> None:
    dumps = []
    for name in ("one.db", "two.db"):
        settings = Settings(env="test", database_path=str(tmp_path / name))
        assert seed_demo(settings, passwords, history_days=2, end=END, warnings_per_day=30)
        dumps.append(_dump(tmp_path / name))
    assert dumps[0] == dumps[1]
    assert dumps[0]["warnings"]

    # A second start on the same file: the city is there, so nothing is seeded again.
    settings = Settings(env="test", database_path=str(tmp_path / "one.db"))
    assert not seed_demo(settings, passwords, history_days=2, end=END + timedelta(days=1))
    assert _dump(tmp_path / "one.db") == dumps[0]


def _dump(path: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(path) as conn:
        return {
            "warnings": conn.execute(
                "SELECT id, platform_id, state, officer_id, outcome, first_contact_at, closed_at"
                " FROM warnings ORDER BY id"
            ).fetchall(),
            "visits": conn.execute(
                "SELECT entry_id, task_kind, task_id, received_at FROM visit_logs ORDER BY seq"
            ).fetchall(),
            "escalations": conn.execute("SELECT * FROM escalations ORDER BY id").fetchall(),
            "reviews": conn.execute(
                "SELECT entry_id, decision FROM visit_reviews ORDER BY entry_id"
            ).fetchall(),
        }


def test_history_days_must_be_a_number_of_days(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--demo", "--history-days", "-1"])
    assert "not a number of days" in capsys.readouterr().err


def test_serve_demo_lives_its_past_first_then_takes_warnings_live(tmp_path: Path) -> None:
    """The README's first command with a short past: yesterday's bulletin is not empty,
    and the platform client still starts delivering."""
    port = free_port()
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
            "--history-days",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "BEATSYNC_LOG_JSON": "true"},
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
        with httpx.Client(base_url=base, timeout=10) as http:
            _wait_until_up(http)
            tokens = http.post(
                "/api/v1/auth/login",
                json={"login": "admin", "password": "demo", "device_id": "laptop-0001"},
            ).json()
            headers = bearer(tokens)
            yesterday = datetime.now(CITY_TIMEZONE).date() - timedelta(days=1)
            bulletin = http.get(
                "/api/v1/reports/bulletin", headers=headers, params={"day": str(yesterday)}
            ).json()
            assert bulletin["total"]["warnings"]["received"] > 100
            assert bulletin["total"]["warnings"]["visited"] > 0
            assert _live_deliveries(http, headers) > 0
        # The README's device example, as a reader runs it against this server: its visit
        # is applied, and its times are ones that could be true (issue 12).
        example = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
        assert example is not None
        code = example.group(1).replace("http://127.0.0.1:8000", base)
        code = code.replace('"phone.db"', repr(str(tmp_path / "phone.db")))
        reader: dict[str, Any] = {}
        exec(compile(code, "README.md", "exec"), reader)  # noqa: S102 - our own README
        assert reader["pushed"].applied == 1
        phone, task = reader["phone"], reader["task"]
        mine = max(phone.task(task.kind, task.id).visits, key=lambda v: v.received_at)
        assert mine.amount_prevented == 100_000
        assert "impossible_time" not in mine.flags
        phone.close()
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def _wait_until_up(http: httpx.Client) -> None:
    for _ in range(100):
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not come up")


def _live_deliveries(http: httpx.Client, headers: dict[str, str]) -> int:
    """Warnings from the live platform client (its ids start DEMO-), after the past's."""
    for _ in range(100):
        items = http.get(
            "/api/v1/warnings/",
            headers=headers,
            params={"limit": 500, "state": ["new", "dispatched"]},
        ).json()["items"]
        live = sum(i["platform_id"].startswith("DEMO-") for i in items)
        if live:
            return live
        time.sleep(0.1)
    return 0
