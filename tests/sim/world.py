"""The randomized simulation: phones, supervisors and the platform against the real app.

A World is the real server (store, app, manual clock) with a tiny city in it, driven
in-process through Litestar's test transport. Its phones are DeviceClients, each behind a
FaultyTransport. `run` draws, from one seeded generator, a few hundred steps: the platform
sends warnings, supervisors reassign and cancel warnings and plan, re-staff and cancel
publicity talks, and officers record visits and edit notes on whatever their phones show,
while their phones go offline, lose answers, see requests duplicated and old pushes
replayed, are killed mid-request and restarted from their database files, and run with
clocks hours off. Then everybody syncs without faults and `check` asserts the invariants.

tests/sim/test_simulation.py runs it small; bench/sim.py runs it large.

Refresh tokens: faults are injected on push and pull, not on `POST /auth/refresh`. A lost
answer to a refresh is covered by tests/clients/test_device_client.py: the server lets
the phone retry the spent token within a short grace period.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport

from clients.device import (
    DeviceClient,
    DeviceWiped,
    NotLoggedIn,
    RetryPolicy,
    ServerUnreachable,
)
from server import maintenance
from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.settings import Settings
from server.store.opening import open_store
from server.store.sync_records import ClaimSide, FieldSide
from server.store.visit_records import VisitRecord
from sync import merge
from sync.hlc import HLC
from sync.protocol import (
    CLOCK_TOLERANCE_MS,
    PublicityTask,
    RecordVisit,
    SetField,
    VisitOut,
    WarningTask,
)
from tests.sim.faults import Arrival, FaultRates, FaultyTransport, Killed
from tests.support import backend, raw
from tests.support.city import PASSWORD, PLATFORM_SECRET, build_tiny_city

BASE = "http://beatsync.test"
OUTCOMES = ["dissuaded", "already_lost", "not_reachable", "refused", "false_alarm"]
FRAUD_TYPES = ["fake_loan", "task_rebate", "fake_investment", "impersonate_police"]
NOTES = ["dog at the gate", "works nights", "call the daughter", "speaks only dialect", "ok"]
WARNING_OPEN = {"new", "dispatched", "in_progress"}
PUBLICITY_OPEN = {"planned", "in_progress"}
PHANTOM = 100_000  # ids a tampered local file shows that the server never had
AFTER_REVOCATION = merge.Rejection.RECORDED_AFTER_REVOCATION.value


@dataclass(frozen=True)
class DeviceSpec:
    login: str
    device_id: str
    clock_skew_s: float = 0.0


@dataclass(frozen=True)
class Jurisdiction:
    """A supervisor, the officers they may move warnings between, and where warnings of
    each officer arrive (grid) and where publicity is held (grid, its officers)."""

    supervisor: str
    officers: tuple[str, ...]
    grids: tuple[tuple[str, str | None], ...]  # (grid code, officer login or None)
    publicity: tuple[tuple[str, tuple[str, ...]], ...] = ()


STATION_1 = Jurisdiction(
    supervisor="sup1",
    officers=("o1", "o2"),
    grids=(("411602001001", "o1"), ("411602001002", "o2"), ("411602001003", None)),
    publicity=(("411602001001", ("o1", "o2")),),
)
COUNTY_1 = Jurisdiction(
    supervisor="county1",
    officers=("o1", "o2", "o3"),
    grids=(("411602002001", "o3"),),
    publicity=(("411602002001", ("o3",)),),
)
COUNTY_2 = Jurisdiction(
    supervisor="county2",
    officers=("o4",),
    grids=(("411621001001", "o4"),),
    publicity=(("411621001001", ("o4",)),),
)


@dataclass(frozen=True)
class SimConfig:
    seed: int
    steps: int = 600
    devices: tuple[DeviceSpec, ...] = (
        DeviceSpec("o1", "o1-phone"),
        DeviceSpec("o1", "o1-tablet", clock_skew_s=3 * 3600),  # hours ahead
        DeviceSpec("o2", "o2-phone", clock_skew_s=-2 * 3600),  # hours behind
    )
    # A phone that reads and records, and is reported lost (revoked) half way through
    # while out of coverage with visits in its outbox; it records on, and comes back a
    # quarter of the run later: it hands in its outbox and wipes (PROTOCOL.md, Being cut
    # off). Visits made before the revocation count; those made after are kept, not applied.
    lost_device: DeviceSpec | None = DeviceSpec("o2", "o2-lost")
    jurisdictions: tuple[Jurisdiction, ...] = (STATION_1,)
    rates: FaultRates = field(
        default_factory=lambda: FaultRates(
            lose=0.06,
            duplicate=0.05,
            replay_old=0.05,
            server_down=0.04,
            kill_before=0.03,
            kill_after=0.04,
        )
    )
    # Per phone action: the chance that the phone goes offline, or comes back.
    offline_toggle: float = 0.12
    # Per step: a night and more passes (retention sweeps closed work off the phones), or
    # the server forgets its change log (every cursor must resync from zero).
    long_pause: float = 0.006
    log_compaction: float = 0.006
    # Each phone draws its batch and page sizes from these: small ones make pushes span
    # batches and pulls span pages, so that kills land between them.
    push_batches: tuple[int, ...] = (3, 20, 100)
    pull_pages: tuple[int, ...] = (2, 7, 200)


class Api:
    """Supervisors and the platform, over the same in-process transport, fault-free."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.tokens: dict[str, str] = {}

    def _token(self, who: str) -> str:
        if who == "platform":
            response = self.http.post(
                "/api/v1/auth/token",
                json={"client_id": "platform", "client_secret": PLATFORM_SECRET},
            )
        else:
            response = self.http.post(
                "/api/v1/auth/login",
                json={"login": who, "password": PASSWORD, "device_id": f"desk-{who}"},
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(2):
            if who not in self.tokens:
                self.tokens[who] = self._token(who)
            response = self.http.request(
                method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs
            )
            if response.status_code != 401:
                assert response.status_code < 500, response.text
                return response
            del self.tokens[who]  # expired while the clock moved on
        return response


class Phone:
    """One device: a DeviceClient that can be killed and restarted from its file."""

    def __init__(self, world: World, spec: DeviceSpec, rates: FaultRates) -> None:
        self.world = world
        self.spec = spec
        self.db_path = world.root / f"{spec.device_id}.db"
        self.transport = FaultyTransport(
            inner=world.inner,
            device=spec.device_id,
            rng=random.Random(f"{world.config.seed}-{spec.device_id}-net"),
            rates=rates,
            server_ms=world.server_ms,
            arrivals=world.arrivals,
        )
        self._rng = random.Random(f"{world.config.seed}-{spec.device_id}-jitter")
        sizes = random.Random(f"{world.config.seed}-{spec.device_id}-sizes")
        self.batch_size = sizes.choice(world.config.push_batches)
        self.page_size = sizes.choice(world.config.pull_pages)
        self.client: DeviceClient | None = None
        self.kills = 0
        self.wiped = False
        self.entries: list[str] = []
        # Recorded on a task that only a corrupted local file showed: bound to be refused.
        self.phantom_entries: set[str] = set()
        self.last_checksum: str | None = None
        self.tampered = False
        self.open()

    def now(self) -> float:
        return self.world.clock.now().timestamp() + self.spec.clock_skew_s

    def open(self) -> DeviceClient:
        self.client = DeviceClient(
            BASE,
            self.db_path,
            self.spec.device_id,
            transport=self.transport,
            now=self.now,
            sleep=self.world.slept.append,
            rng=self._rng,
            new_id=self.world.new_id,
            retry=RetryPolicy(attempts=4, base_seconds=0.5, cap_seconds=8),
            batch_size=self.batch_size,
            page_size=self.page_size,
        )
        return self.client

    def kill(self) -> None:
        """What a dead process leaves: its file, with only what was committed."""
        client, self.client = self.client, None
        self.kills += 1
        if client is not None:
            client.http.close()
            client.local.db.conn.close()  # no commit: an open transaction is gone

    @property
    def alive(self) -> DeviceClient:
        return self.client if self.client is not None else self.open()


class World:
    def __init__(self, root: Path, config: SimConfig) -> None:
        self.root = root
        self.config = config
        self.rng = random.Random(config.seed)
        self._ids = random.Random(f"{config.seed}-ids")
        self.clock = ManualClock()
        self.settings = Settings(
            env="test",
            # The run's backend: SQLite, or a database of its own on PostgreSQL.
            database_path=backend.location_for(root, "server.db"),
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            maintenance_interval_seconds=0,
        )
        self.store = open_store(self.settings.database_path, self.clock)
        self.city = build_tiny_city(self.store, Passwords(time_cost=1, memory_kib=1024))
        self.app = create_app(self.settings, store=self.store, clock=self.clock)
        self.http = TestClient(self.app, base_url=BASE, timeout=10)
        self.http.__enter__()
        self.inner = TestClientTransport(self.http)
        self.api = Api(self.http)
        self.arrivals: list[Arrival] = []
        self.slept: list[float] = []
        self.warnings: dict[int, str] = {}  # id -> resident phone
        self.publicity: list[int] = []
        self.counts: Counter[str] = Counter()
        self.initial_hlc = HLC.decode(self.store.server_hlc())
        self.phones = [Phone(self, spec, config.rates) for spec in config.devices]
        self.lost = Phone(self, config.lost_device, FaultRates()) if config.lost_device else None
        self.lost_revoked = False
        self.lost_rng = random.Random(f"{config.seed}-lost")
        # entry id -> the server's time (ms) when the lost phone recorded it
        self.lost_entries: dict[str, int] = {}
        self.lost_revoked_ms = 0
        self.lost_device_pk = 0
        self.unexplained_mismatches: list[tuple[str, datetime]] = []
        self._platform_ids = iter(range(1, 10**9))

    def close(self) -> None:
        for phone in [*self.phones, *([self.lost] if self.lost else [])]:
            if phone.client is not None:
                phone.client.close()
        self.http.__exit__(None, None, None)
        self.store.close()
        backend.drop_for(self.root)

    def new_id(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    def server_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> None:
        for phone in self.phones:
            self._guard(phone, lambda c: None)
        if self.lost is not None:
            self._login(self.lost)
        for step in range(self.config.steps):
            self.step(step)
        self.settle()

    def step(self, step: int) -> None:
        rng = self.rng
        self.clock.advance(seconds=rng.uniform(0, 240))
        if rng.random() < self.config.long_pause:
            self.clock.advance(hours=rng.uniform(73, 90))
            swept, _ = maintenance.run_once(self.store, self.settings)
            self.counts["retention_sweeps"] += 1
            self.counts["swept"] += swept
        if rng.random() < self.config.log_compaction:
            self.store.compact_changes(self.clock.now())
            self.counts["log_compactions"] += 1
        roll = rng.random()
        if roll < 0.14:
            self.ingest(rng.randint(1, 3))
        elif roll < 0.21:
            self.reassign_warning()
        elif roll < 0.25:
            self.cancel_warning()
        elif roll < 0.28:
            self.plan_publicity()
        elif roll < 0.30:
            self.restaff_or_cancel_publicity()
        else:
            self.phone_action(rng.choice(self.phones))
        if self.lost is not None:
            self.lost_phone_step(step)

    # -- the platform and supervisors ----------------------------------------------------

    def ingest(self, count: int) -> None:
        rng = self.rng
        grids = [g for j in self.config.jurisdictions for g, _ in j.grids]
        items = []
        for _ in range(count):
            n = next(self._platform_ids)
            phone = f"139{self.config.seed % 100:02d}{n:06d}"
            issued = self.clock.now() - timedelta(minutes=rng.randint(0, 30))
            items.append(
                {
                    "platform_id": f"SIM-{self.config.seed}-{n}",
                    "resident": {
                        "name": f"居民{n}",
                        "phone": phone,
                        "address": f"七一路{n}号",
                        "id_number": f"41160219600101{n % 10000:04d}",
                    },
                    "grid_code": rng.choice(grids),
                    "source": "fund_transfer",
                    "fraud_type": rng.choice(FRAUD_TYPES),
                    "risk_level": rng.choice(["high", "medium"]),
                    "issued_at": issued.isoformat(),
                    "deadline_at": (issued + timedelta(hours=rng.randint(1, 6))).isoformat(),
                }
            )
        out = self.api.call(
            "platform", "POST", "/api/v1/platform/warnings", json={"warnings": items}
        ).json()
        for item, result in zip(items, out["results"], strict=True):
            assert result["status"] == "created", result
            self.warnings[result["warning_id"]] = item["resident"]["phone"]
        self.counts["warnings"] += count

    def _open_warning(self, jurisdiction: Jurisdiction) -> dict[str, Any] | None:
        if not self.warnings:
            return None
        for _ in range(4):
            warning_id = self.rng.choice(sorted(self.warnings))
            response = self.api.call(
                jurisdiction.supervisor, "GET", f"/api/v1/warnings/{warning_id}"
            )
            if response.status_code == 200 and response.json()["state"] in WARNING_OPEN:
                body: dict[str, Any] = response.json()
                return body
        return None

    def reassign_warning(self) -> None:
        jurisdiction = self.rng.choice(self.config.jurisdictions)
        warning = self._open_warning(jurisdiction)
        if warning is None:
            return
        ids = [self.city.id(o) for o in jurisdiction.officers]
        others = [i for i in ids if i != warning["officer_id"]]
        if not others:
            return
        response = self.api.call(
            jurisdiction.supervisor,
            "POST",
            f"/api/v1/warnings/{warning['id']}/reassign",
            json={"officer_id": self.rng.choice(others), "reason": "simulation"},
        )
        self.counts[f"reassign_{response.status_code}"] += 1

    def cancel_warning(self) -> None:
        jurisdiction = self.rng.choice(self.config.jurisdictions)
        warning = self._open_warning(jurisdiction)
        if warning is None:
            return
        response = self.api.call(
            jurisdiction.supervisor,
            "POST",
            f"/api/v1/warnings/{warning['id']}/cancel",
            json={"reason": "platform withdrew it"},
        )
        self.counts[f"cancel_{response.status_code}"] += 1

    def plan_publicity(self) -> None:
        jurisdiction = self.rng.choice(self.config.jurisdictions)
        if not jurisdiction.publicity:
            return
        grid, officers = self.rng.choice(jurisdiction.publicity)
        staff = self.rng.sample(officers, self.rng.randint(1, len(officers)))
        day = self.clock.now().date()
        response = self.api.call(
            jurisdiction.supervisor,
            "POST",
            "/api/v1/publicity-tasks",
            json={
                "title": "老年人防骗讲座",
                "grid_code": grid,
                "venue_kind": "village",
                "audience": "elderly",
                "window_start": day.isoformat(),
                "window_end": (day + timedelta(days=2)).isoformat(),
                "officer_ids": [self.city.id(o) for o in staff],
            },
        )
        assert response.status_code == 201, response.text
        self.publicity.append(response.json()["id"])
        self.counts["publicity"] += 1

    def restaff_or_cancel_publicity(self) -> None:
        if not self.publicity:
            return
        jurisdiction = self.rng.choice(self.config.jurisdictions)
        task_id = self.rng.choice(self.publicity)
        current = self.api.call(
            jurisdiction.supervisor, "GET", f"/api/v1/publicity-tasks/{task_id}"
        )
        if current.status_code != 200 or current.json()["status"] not in PUBLICITY_OPEN:
            return
        officers = next(
            (o for g, o in jurisdiction.publicity if g == current.json()["grid_code"]), ()
        )
        if self.rng.random() < 0.4 or not officers:
            patch: dict[str, Any] = {"status": "cancelled"}
        else:
            staff = self.rng.sample(officers, self.rng.randint(1, len(officers)))
            patch = {"officer_ids": [self.city.id(o) for o in staff]}
        response = self.api.call(
            jurisdiction.supervisor, "PATCH", f"/api/v1/publicity-tasks/{task_id}", json=patch
        )
        self.counts[f"publicity_patch_{response.status_code}"] += 1

    def lost_phone_step(self, step: int) -> None:
        lost = self.lost
        assert lost is not None
        steps = self.config.steps
        if lost.wiped:
            return
        if step >= 3 * steps // 4:
            # Back in coverage: told to wipe, it hands in its outbox first.
            lost.transport.offline = False
            try:
                lost.alive.push()
            except DeviceWiped as wiped:
                lost.wiped = True
                self.counts["handed_in"] += wiped.handed_in
            return
        if step >= steps // 2 - 20:
            lost.transport.offline = True  # out of coverage, recording on
            if self.lost_rng.random() < 0.25:
                self.lost_visit(lost)
            if step >= steps // 2 and not self.lost_revoked:
                self.revoke_lost(lost)
            return
        if self.rng.random() < 0.1:
            lost.alive.pull()
        if self.lost_rng.random() < 0.05:
            self.lost_visit(lost)
            lost.alive.push()

    def revoke_lost(self, lost: Phone) -> None:
        supervisor = next(
            j.supervisor for j in self.config.jurisdictions if lost.spec.login in j.officers
        )
        user_id = self.city.id(lost.spec.login)
        devices = self.api.call(
            supervisor, "GET", "/api/v1/devices/", params={"user_id": user_id}
        ).json()
        [device] = [d for d in devices if d["device_id"] == lost.spec.device_id]
        response = self.api.call(supervisor, "POST", f"/api/v1/devices/{device['id']}/revoke")
        assert response.status_code == 200, response.text
        self.lost_revoked = True
        self.lost_device_pk = device["id"]
        revoked_at = datetime.fromisoformat(response.json()["revoked_at"])
        self.lost_revoked_ms = int(revoked_at.timestamp() * 1000)

    def lost_visit(self, lost: Phone) -> None:
        rng = self.lost_rng
        client = lost.alive
        tasks = client.tasks()
        if not tasks:
            return
        task = rng.choice(tasks)
        at = datetime.fromtimestamp(lost.now(), UTC)
        entry: dict[str, Any]
        if task.kind == "warning":
            entry = {
                "arrived_at": at,
                "contact": rng.choice(["face_to_face", "phone"]),
                "outcome": rng.choice([*OUTCOMES, None]),
            }
        else:
            entry = {"held_at": at, "attendance": rng.randint(5, 120)}
        entry_id = client.record_visit(task.kind, task.id, **entry)
        self.lost_entries[entry_id] = self.server_ms()
        self.counts["lost_visits"] += 1

    # -- officers ------------------------------------------------------------------------

    def _login(self, phone: Phone) -> None:
        client = phone.alive
        if client.local.access_token() is None:
            client.login(phone.spec.login, PASSWORD)
            self.counts["logins"] += 1

    def _guard(self, phone: Phone, action: Callable[[DeviceClient], object]) -> None:
        """Run one thing on a phone the way a phone lives: it may die or find no signal."""
        try:
            self._login(phone)
            action(phone.alive)
        except Killed:
            phone.kill()
            self.counts["kills"] += 1
        except ServerUnreachable:
            self.counts["unreachable"] += 1
        except NotLoggedIn:
            # The session ended (it should not here): sign in again next time.
            phone.alive.local.end_session()
            self.counts["relogins"] += 1

    def phone_action(self, phone: Phone) -> None:
        rng = self.rng
        if rng.random() < self.config.offline_toggle:
            phone.transport.offline = not phone.transport.offline
            self.counts["offline_toggles"] += 1
            return
        roll = rng.random()
        if roll < 0.35:
            self._guard(phone, lambda c: self.record_visit(phone, c))
        elif roll < 0.5:
            self._guard(phone, self.edit_notes)
        elif roll < 0.62:
            self._guard(phone, lambda c: c.push())
        elif roll < 0.74:
            self._guard(phone, lambda c: self._pull(phone, c))
        elif roll < 0.99:
            self._guard(phone, lambda c: (c.push(), self._pull(phone, c)))
        else:
            self.tamper(phone)

    def _pull(self, phone: Phone, client: DeviceClient) -> None:
        summary = client.pull()
        phone.last_checksum = summary.checksum
        self.counts["resyncs"] += summary.resyncs
        if summary.mismatches and not phone.tampered:
            # The server's checksum disagreed with a copy nobody touched: the scope the
            # server sent and the scope it summed are not the same. A bug, even if the
            # resync hid it.
            self.unexplained_mismatches.append((phone.spec.device_id, self.clock.now()))
        phone.tampered = False

    def record_visit(self, phone: Phone, client: DeviceClient) -> None:
        rng = self.rng
        tasks = client.tasks()
        if not tasks:
            return
        task = rng.choice(tasks)
        me = self.city.id(phone.spec.login)
        mine = [v.entry_id for v in task.visits if v.officer_id == me] + [
            e.entry_id for e in task.pending
        ]
        at = datetime.fromtimestamp(phone.now(), UTC)
        entry: dict[str, Any] = {
            "arrived_at": at - timedelta(minutes=rng.randint(1, 50)),
            "position": {"lat": 33.6 + rng.random() / 10, "lon": 114.6, "accuracy_m": 15.0},
        }
        if mine and rng.random() < 0.15:
            entry["supersedes"] = rng.choice(mine)
        if rng.random() < 0.3:
            entry["notes"] = rng.choice(NOTES)
        if rng.random() < 0.3:
            entry["photos"] = [f"{rng.getrandbits(256):064x}"]
        if task.kind == "warning":
            entry["contact"] = rng.choice(["face_to_face", "phone", None])
            entry["outcome"] = rng.choice([*OUTCOMES, None, None])
            if entry["outcome"] == "dissuaded" and rng.random() < 0.5:
                entry["amount_prevented"] = rng.randint(1, 300) * 1000
        else:
            entry["held_at"] = entry.pop("arrived_at")
            entry["attendance"] = rng.randint(5, 120)
            entry["materials"] = [{"kind": "leaflet", "count": rng.randint(10, 200)}]
            entry["completed"] = rng.random() < 0.3
        entry_id = client.record_visit(task.kind, task.id, **entry)
        phone.entries.append(entry_id)
        if task.id >= PHANTOM:
            phone.phantom_entries.add(entry_id)
        self.counts["visits"] += 1

    def edit_notes(self, client: DeviceClient) -> None:
        tasks = client.tasks()
        if not tasks:
            return
        task = self.rng.choice(tasks)
        value = (
            None if self.rng.random() < 0.1 else f"{self.rng.choice(NOTES)} #{self.new_id()[:6]}"
        )
        client.set_notes(task.kind, task.id, value)
        self.counts["note_edits"] += 1

    def tamper(self, phone: Phone) -> None:
        """Someone restores an old backup over part of the file, or a bug corrupts it."""
        client = phone.alive
        with client.local.atomic():
            client.local.db.execute("UPDATE tasks SET version = version + 7 WHERE rowid % 2 = 0")
            client.local.db.execute(
                "INSERT OR IGNORE INTO tasks (kind, id, version, task, visits)"
                " SELECT kind, id + ?, version, task, visits FROM tasks LIMIT 1",
                (PHANTOM,),
            )
        phone.tampered = True
        self.counts["tampers"] += 1

    # -- the end -------------------------------------------------------------------------

    def settle(self) -> None:
        """Everyone back in coverage, no more faults, everyone syncs until nothing moves."""
        for phone in self.phones:
            phone.transport.offline = False
            phone.transport.rates = FaultRates()
            phone.transport.planned.clear()
            self._login(phone)
        for _ in range(2):
            for phone in self.phones:
                phone.alive.push()
            for phone in self.phones:
                self._pull(phone, phone.alive)

    def sim_stats(self) -> dict[str, int]:
        faults: Counter[str] = Counter()
        for phone in self.phones:
            faults.update(phone.transport.faults_seen)
        return {
            **dict(sorted(self.counts.items())),
            **{f"fault_{k}": v for k, v in sorted(faults.items())},
            "requests_reaching_server": len(self.arrivals),
            "entries": sum(len(p.entries) for p in self.phones),
        }


# -- invariants --------------------------------------------------------------------------


def snapshot(world: World, login: str) -> tuple[dict[tuple[str, int], Any], str | None]:
    """The officer's scope as the server holds it, pulled from zero by a fresh device."""
    headers = {"Authorization": f"Bearer {_login_token(world, login)}"}
    held: dict[tuple[str, int], Any] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = world.http.get("/api/v1/sync/pull", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        for change in page["changes"]:
            if change["type"] == "upsert":
                task = change["task"]
                held[(task["kind"], task["id"])] = change
            else:
                held.pop((change["kind"], change["id"]), None)
        cursor = page["cursor"]
        if not page["has_more"]:
            return held, page["checksum"]


def _login_token(world: World, login: str) -> str:
    response = world.http.post(
        "/api/v1/auth/login",
        json={"login": login, "password": PASSWORD, "device_id": f"audit-{login}"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


_task = msgspec.json.Decoder(WarningTask | PublicityTask)
_visits = msgspec.json.Decoder(list[VisitOut])


def check(world: World) -> None:
    """Every invariant of the brief; an AssertionError names the first one broken."""
    check_outboxes_empty(world)
    assert not world.unexplained_mismatches, (
        f"checksum mismatches on untouched phones: {world.unexplained_mismatches}"
    )
    check_every_entry_once(world)
    check_scopes_and_checksums(world)
    check_overridden_outcomes(world)
    check_conflict_flags(world)
    check_notes_against_the_rules(world)
    check_personal_data_gone(world)
    check_no_rejections_and_no_server_errors(world)
    check_lost_phone(world)
    check_hand_in(world)


def check_outboxes_empty(world: World) -> None:
    for phone in world.phones:
        assert phone.alive.outbox_size() == 0, f"{phone.spec.device_id}: outbox not empty"


def _all_visits(world: World) -> Iterator[VisitRecord]:
    for warning_id in sorted(world.warnings):
        yield from world.store.visit_logs_for("warning", warning_id)
    for task_id in sorted(world.publicity):
        yield from world.store.visit_logs_for("publicity", task_id)


def check_every_entry_once(world: World) -> None:
    on_server = Counter(v.entry_id for v in _all_visits(world))
    recorded = Counter([*(e for p in world.phones for e in p.entries), *world.lost_entries])
    assert max(recorded.values(), default=1) == 1, "two phones made the same entry id"
    assert max(on_server.values(), default=1) == 1, "an entry is on the server twice"
    phantom = {e for p in world.phones for e in p.phantom_entries}
    for phone in world.phones:
        refused = {
            r.mutation.entry.entry_id: r.code
            for r in phone.alive.rejected()
            if isinstance(r.mutation, RecordVisit)
        }
        assert refused == dict.fromkeys(phone.phantom_entries, "unknown_task"), (
            f"{phone.spec.device_id}: refused {refused}, expected only its phantom entries"
        )
    missing = set(recorded) - set(on_server) - phantom - set(world.lost_entries)
    assert not missing, f"{len(missing)} recorded entries never reached the server"
    extra = set(on_server) - set(recorded)
    assert not extra, f"{len(extra)} entries on the server that no phone recorded"


def check_scopes_and_checksums(world: World) -> None:
    for phone in world.phones:
        client = phone.alive
        held, server_checksum = snapshot(world, phone.spec.login)
        local = {(t.kind, t.id): t for t in client.tasks()}
        assert set(local) == set(held), (
            f"{phone.spec.device_id}: holds {sorted(set(local) - set(held))} too many,"
            f" {sorted(set(held) - set(local))} too few"
        )
        for key, change in held.items():
            mine = local[key]
            theirs = _task.decode(msgspec.json.encode(change["task"]))
            assert mine.task == theirs, f"{phone.spec.device_id}: {key} differs"
            assert mine.visits == _visits.decode(msgspec.json.encode(change["visits"])), (
                f"{phone.spec.device_id}: visit log of {key} differs"
            )
        assert client.checksum() == server_checksum == phone.last_checksum, (
            f"{phone.spec.device_id}: checksums {client.checksum()} (local),"
            f" {server_checksum} (server), {phone.last_checksum} (last pull)"
        )


def _conflicts(world: World) -> list[Any]:
    out: list[Any] = []
    after = 0
    while page := world.store.list_conflicts("city_id", "411600", after_id=after, limit=500):
        out += page
        after = page[-1].id
    return out


def _server_rows(world: World, statement: str) -> list[dict[str, Any]]:
    return raw.rows(world.settings.database_path, statement)


def check_overridden_outcomes(world: World) -> None:
    """Every visit whose outcome is not the warning's outcome was overridden on record:
    a conflict names it, or its own officer corrected it, or it said the same thing as
    the outcome that stands, from the same officer."""
    named: dict[int, set[str]] = {}
    claims_on_record: dict[int, set[tuple[int, str]]] = {}
    for c in _conflicts(world):
        if c.task_kind != "warning":
            continue
        ids = named.setdefault(c.task_id, set())
        ids.add(c.entry_id or "")
        for side in (c.winner, c.loser):
            if isinstance(side, ClaimSide) and side.entry_id:
                ids.add(side.entry_id)
                claims_on_record.setdefault(c.task_id, set()).add((side.officer_id, side.outcome))
    claims = {
        r["id"]: r
        for r in _server_rows(
            world, "SELECT id, state, outcome, outcome_entry_id, outcome_officer_id FROM warnings"
        )
    }
    for warning_id in sorted(world.warnings):
        visits = world.store.visit_logs_for("warning", warning_id)
        claim = claims[warning_id]
        by_id = {v.entry_id: v for v in visits}
        if claim["outcome_entry_id"] is not None:
            holder = by_id[claim["outcome_entry_id"]]
            assert holder.outcome == claim["outcome"], f"warning {warning_id}: wrong outcome"
        for v in visits:
            if v.outcome is None or v.entry_id == claim["outcome_entry_id"]:
                continue
            same = v.officer_id == claim["outcome_officer_id"] and v.outcome == claim["outcome"]
            # The officer's own later correction speaks for all their earlier entries
            # (the same officer on two devices may have said the same thing twice).
            corrected = any(
                w.supersedes and w.officer_id == v.officer_id and w.seq > v.seq for w in visits
            )
            # An officer who said the same thing twice is on record once: the conflict
            # names the entry that held the outcome, with that officer and that outcome.
            on_record = v.entry_id in named.get(warning_id, set()) or (
                (v.officer_id, v.outcome) in claims_on_record.get(warning_id, set())
            )
            assert on_record or corrected or same, (
                f"warning {warning_id} ({claim['state']}, {claim['outcome']}): the outcome"
                f" {v.outcome!r} of entry {v.entry_id} was overridden with no record"
            )


def check_conflict_flags(world: World) -> None:
    """A visit flagged with a rule has that rule's conflict record naming it, and back."""
    by_entry: dict[str, set[str]] = {}
    for c in _conflicts(world):
        if c.entry_id:
            by_entry.setdefault(c.entry_id, set()).add(c.rule)
    rules = {r.value for r in merge.ConflictRule} - {"concurrent_edit"}
    for v in _all_visits(world):
        flagged = set(v.flags) & rules
        assert flagged == by_entry.get(v.entry_id, set()), (
            f"entry {v.entry_id}: flags {flagged}, conflicts {by_entry.get(v.entry_id)}"
        )


def check_notes_against_the_rules(world: World) -> None:
    """Replay every push the server received, in order, through the written rules
    (sync.merge); the notes the server holds and its concurrent_edit conflicts must be
    exactly what the rules say, so every edit that lost is on record."""
    user_of = {
        p.spec.device_id: world.city.id(p.spec.login)
        for p in [*world.phones, *([world.lost] if world.lost else [])]
    }
    seen: set[tuple[int, str]] = set()
    server_hlc = world.initial_hlc
    stored: dict[tuple[str, int], tuple[str | None, str]] = {}
    expected: Counter[tuple[str, int, str | None, str, str | None, str]] = Counter()
    push_request = msgspec.json.Decoder(dict[str, Any])
    set_field = msgspec.json.Decoder(SetField)
    statuses = _push_statuses(world)
    for n, arrival in enumerate(world.arrivals):
        if not arrival.path.endswith("/sync/push") or statuses[n] != 200:
            continue
        user = user_of[arrival.device]
        for sent in push_request.decode(arrival.body)["mutations"]:
            if (user, sent["mutation_id"]) in seen:
                continue
            seen.add((user, sent["mutation_id"]))
            device = HLC.decode(sent["hlc"])
            hlc, _ = merge.trusted_hlc(device, server_hlc, arrival.at_ms)
            server_hlc = max(server_hlc, HLC(hlc.wall_ms, hlc.counter, server_hlc.node))
            if sent["type"] != "set_field" or sent["task_id"] >= PHANTOM:
                continue  # phantom tasks are refused: nothing to replay
            edit = set_field.decode(msgspec.json.encode(sent))
            key = (edit.task_kind.value, edit.task_id)
            value, at = stored.get(key, (None, None))  # type: ignore[assignment]
            decision = merge.decide_field(value, at, edit, hlc)
            if decision.conflict and at is not None:
                winner = (edit.value, hlc.encode()) if decision.apply else (value, at)
                expected[(*key, decision.losing_value, decision.losing_hlc or "", *winner)] += 1
            if decision.apply:
                stored[key] = (edit.value, hlc.encode())
        server_hlc = (
            server_hlc
            if server_hlc.wall_ms >= arrival.at_ms
            else HLC(arrival.at_ms, 0, server_hlc.node)
        )
    actual: Counter[tuple[str, int, str | None, str, str | None, str]] = Counter()
    for c in _conflicts(world):
        if c.rule == "concurrent_edit":
            assert isinstance(c.loser, FieldSide)
            assert isinstance(c.winner, FieldSide)
            actual[
                (
                    c.task_kind,
                    c.task_id,
                    c.loser.value,
                    c.loser.hlc,
                    c.winner.value,
                    c.winner.hlc,
                )
            ] += 1
    assert actual == expected, (
        f"concurrent_edit conflicts differ from the rules: missing {expected - actual},"
        f" unexpected {actual - expected}"
    )
    held = {
        (r["task_kind"], r["task_id"]): (r["value"], r["hlc"])
        for r in _server_rows(
            world,
            "SELECT task_kind, task_id, value, hlc FROM field_values WHERE field = 'officer_notes'",
        )
    }
    differ = {k: (held.get(k), stored.get(k)) for k in held.keys() | stored.keys()}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert not differ, f"notes on the server (left) are not what the rules give: {differ}"


def _push_statuses(world: World) -> list[int]:
    return [a.status for a in world.arrivals]


def check_personal_data_gone(world: World) -> None:
    """A phone's file holds the residents of the tasks it holds, and no others."""
    for phone in world.phones:
        client = phone.alive
        held = {t.id for t in client.tasks() if t.kind == "warning"}
        raw = b"".join(
            path.read_bytes()
            for path in phone.db_path.parent.glob(phone.db_path.name + "*")
            if path.is_file()
        )
        leaked = [
            wid
            for wid, resident_phone in world.warnings.items()
            if wid not in held and resident_phone.encode() in raw
        ]
        assert not leaked, f"{phone.spec.device_id}: residents of {leaked} still in its file"


def check_no_rejections_and_no_server_errors(world: World) -> None:
    rejected = world.store.list_rejected_mutations("city_id", "411600", limit=1000)
    unexpected = [
        (r.code, r.detail)
        for r in rejected
        if (r.code != "unknown_task" or msgspec.json.decode(r.body)["task_id"] < PHANTOM)
        and (r.code, r.device_pk) != (AFTER_REVOCATION, world.lost_device_pk)
    ]
    assert not unexpected, f"the server rejected {unexpected}"
    for phone in world.phones:
        for r in phone.alive.rejected():
            assert r.task_id >= PHANTOM, f"{phone.spec.device_id}: refused {r}"
    errors = [a for a in world.arrivals if a.status >= 500]
    assert not errors, f"{len(errors)} requests failed on the server"


def check_lost_phone(world: World) -> None:
    lost = world.lost
    if lost is None:
        return
    assert world.lost_revoked, "the lost phone was never revoked"
    assert lost.wiped, "the lost phone was not told to wipe"
    counts = lost.alive.local.counts()
    assert counts == dict.fromkeys(counts, 0), f"the lost phone still holds {counts}"
    assert lost.alive.local.access_token() is None


def simulate(root: Path, config: SimConfig) -> tuple[World, float]:
    """Run one simulation and check it; (world, seconds). The caller closes the world."""
    started = time.perf_counter()
    world = World(root, config)
    try:
        world.run()
        check(world)
    except BaseException:
        world.close()
        raise
    return world, time.perf_counter() - started


def check_hand_in(world: World) -> None:
    """The lost phone, revoked with visits in its outbox, handed them in before it wiped:
    nothing it recorded before the revocation is lost, nothing it recorded after (beyond
    the clock tolerance) is applied, and each of its visits is in exactly one place: the
    visit logs (flagged, if handed in) or the rejected mutations."""
    if world.lost is None:
        return
    cut = world.lost_revoked_ms
    logs = {v.entry_id: v for v in _all_visits(world) if v.entry_id in world.lost_entries}
    kept = {
        msgspec.json.decode(r.body)["entry"]["entry_id"]
        for r in world.store.list_rejected_mutations("city_id", "411600", limit=1000)
        if r.code == AFTER_REVOCATION
    }
    assert any(at <= cut for at in world.lost_entries.values()), "nothing recorded before"
    assert any(at > cut + CLOCK_TOLERANCE_MS for at in world.lost_entries.values()), (
        "nothing recorded after the revocation"
    )
    for entry_id, at in world.lost_entries.items():
        where = (entry_id in logs, entry_id in kept)
        assert where in ((True, False), (False, True)), f"lost phone's {entry_id}: {where}"
        if at <= cut:
            assert entry_id in logs, f"{entry_id}, recorded before the revocation, is lost"
        if at > cut + CLOCK_TOLERANCE_MS:
            assert entry_id in kept, f"{entry_id}, recorded after the revocation, was applied"
        received = logs[entry_id].received_at if entry_id in logs else None
        if received and received.timestamp() * 1000 >= cut:
            assert merge.HANDED_IN_FLAG in logs[entry_id].flags, (
                f"{entry_id} was handed in unflagged"
            )
    assert world.counts["handed_in"] > 0
