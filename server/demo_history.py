"""Weeks of the demo city's past, made by the code that makes the present.

A fresh demo would show supervisors empty charts. So, on first start, the demo lives
through some weeks before "now" on a clock set back in time: the platform delivers
warnings through the ingest service (routed as ingest routes them), supervisors move
queued ones to an officer and cancel duplicates, officers' phones push their visits
through the sync service (face to face mostly, some by phone, some late, some offline for
hours, a few never), the escalation pass runs every few minutes, station supervisors go
through the review queue each evening (approve; return, and the officer redoes it), and
publicity talks are planned and held. Every row is what those services wrote; nothing is
inserted behind their back. One seeded generator draws every choice, so the same days
give the same city.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import msgspec
import structlog

from server.auth.passwords import Passwords
from server.auth.principal import Principal
from server.auth.tokens import new_refresh_token
from server.clock import ManualClock
from server.demo import grid_positions, random_warning, seed_demo_city
from server.escalation import service as escalation
from server.logs import get_logger
from server.publicity.schemas import PublicityTaskIn, PublicityTaskPatch
from server.publicity.service import CITY_TIMEZONE, PublicityService
from server.publicity.vocab import Audience, VenueKind
from server.review.service import ReviewService
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from server.store.records import Grid, PublicityStatus, Role, User
from server.sync.service import SyncService
from server.warnings.schemas import CancelIn, ReassignIn
from server.warnings.service import WarningService
from sync.hlc import HLC

log = get_logger("beatsync.demo")

DEFAULT_HISTORY_DAYS = 35
WARNINGS_PER_DAY = 300  # city-wide; the real city has ~19,000, a demo needs the shape
# How often the platform delivers, and the server's escalation pass runs, in the past. The
# live server runs its pass every minute; every ten keeps the seeding quick, and a step is
# then recorded up to ten minutes after it fell due, as a slower pass would record it.
DELIVERY_MINUTES = 10
ESCALATION_MINUTES = 10
# Warnings by local hour: scammers work office hours and evenings, victims pay by day.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 8, 8, 8, 7, 7, 7, 6, 5, 3, 2]
OUTCOMES = ["dissuaded", "already_lost", "refused", "not_reachable", "false_alarm"]
OUTCOME_WEIGHTS = [86, 3, 4, 4, 3]
RETURN_REASONS = ["请补拍见面照片", "定位与住址不符，请核实后重报", "请补充劝阻情况说明"]
APPROVE_NOTES = [None, None, None, "已电话回访核实", "已核实"]
VISIT_NOTES = [
    None,
    None,
    None,
    "居民已下载国家反诈中心APP",
    "已告知子女共同防范",
    "对方已转账前被拦下",
    "老人独居，已联系村干部",
    "居民起初不配合，经耐心劝说后打消汇款念头",
]
# What a talk at each kind of place is for, and roughly how many come.
VENUES: list[tuple[VenueKind, Audience, str, tuple[int, int]]] = [
    (VenueKind.VILLAGE, Audience.ELDERLY, "反诈宣传进村入户", (20, 80)),
    (VenueKind.SCHOOL, Audience.STUDENTS, "反诈知识进校园", (80, 400)),
    (VenueKind.MARKET, Audience.VILLAGERS, "集市反诈宣传", (50, 300)),
    (VenueKind.BANK_BRANCH, Audience.BANK_CUSTOMERS, "网点反诈提醒", (15, 60)),
    (VenueKind.COMPANY, Audience.COMPANY_STAFF, "反诈宣传进企业", (30, 150)),
    (VenueKind.SQUARE, Audience.GENERAL_PUBLIC, "广场反诈宣传", (40, 250)),
]


@dataclass
class HistoryFigures:
    """What was lived through: counts as the services answered them."""

    days: int = 0
    warnings: int = 0
    reassigned: int = 0
    cancelled: int = 0
    visits: int = 0
    pushes: int = 0
    escalation_steps: int = 0
    approved: int = 0
    returned: int = 0
    redone: int = 0
    publicity_tasks: int = 0
    publicity_reports: int = 0
    seconds: float = 0.0


@dataclass
class _Officer:
    user: User
    principal: Principal
    # How this officer works: chance of a late first contact, of a visit by phone, of a
    # door photo, of a phone offline for hours; stations differ, and so do their rankings.
    late: float
    by_phone: float
    photo: float
    offline: float
    skew: timedelta = timedelta(0)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    # Entries that claimed an outcome, by entry id: what a redo repeats if one is returned.
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextmanager
def _quiet() -> Iterator[None]:
    """Thousands of ingest and push lines would bury the banner: warnings only, meanwhile."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**saved)


class _History:
    def __init__(
        self,
        store: Store,
        clock: ManualClock,
        settings: Settings,
        seed: int,
        end: datetime,
        per_day: int,
    ) -> None:
        self.store, self.clock, self.settings, self.end = store, clock, settings, end
        self.per_day = per_day
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.limits = settings.deadline_minutes()
        self.warnings = WarningService(store, self.limits)
        self.sync = SyncService(store)
        self.review = ReviewService(store, settings)
        self.publicity = PublicityService(store)
        self.figures = HistoryFigures()
        self._events: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._ids = itertools.count(1)

    # -- people ------------------------------------------------------------------------

    def sign_in(self, user: User, device_id: str, device_name: str) -> Principal:
        """A session as a login opens it (device registered, refresh token kept); the
        password check is skipped: Argon2 for every demo account would cost seconds."""
        _, refresh_hash = new_refresh_token()
        expires = self.clock.now() + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        session_id, device = self.store.open_session(
            user.id, device_id, device_name, refresh_hash, expires
        )
        return Principal.of(user, device.id, device_id, session_id)

    def meet_people(self) -> None:
        users = self.store.list_users(active=True)
        grids = self.store.list_grids()
        self.grids: dict[str, Grid] = {g.code: g for g in grids}
        self.centre = {code: (lat, lon) for code, lat, lon in grid_positions(grids)}
        by_station: dict[str, list[str]] = {}
        for grid in grids:
            by_station.setdefault(grid.station_id, []).append(grid.code)
        self.station_grids = by_station
        # Each station has a way of working; its officers vary around it.
        station_late = {s: self.rng.uniform(0.02, 0.2) for s in sorted(by_station)}
        self.officers: dict[int, _Officer] = {}
        self.by_station: dict[str, list[_Officer]] = {}
        self.supervisor: dict[str, Principal] = {}
        for user in sorted(users, key=lambda u: u.login):
            if user.role == Role.OFFICER and user.station_id:
                officer = _Officer(
                    user=user,
                    principal=self.sign_in(user, f"phone-{user.login}", "Android phone"),
                    late=min(0.5, station_late[user.station_id] * self.rng.uniform(0.5, 1.6)),
                    by_phone=self.rng.uniform(0.03, 0.15),
                    photo=self.rng.uniform(0.82, 0.99),
                    offline=self.rng.uniform(0.03, 0.12),
                )
                self.officers[user.id] = officer
                self.by_station.setdefault(user.station_id, []).append(officer)
            elif user.role == Role.STATION_SUPERVISOR and user.station_id:
                self.supervisor[user.station_id] = self.sign_in(user, f"pc-{user.login}", "PC")
            elif user.role == Role.COUNTY_SUPERVISOR and user.county_id:
                self.supervisor[user.county_id] = self.sign_in(user, f"pc-{user.login}", "PC")
            elif user.role == Role.PLATFORM:
                # Its "device" is its client id, as a client-credentials token names it.
                self.platform = self.sign_in(user, f"platform-{user.login}", "warning platform")
        # Two phones whose clocks run half an hour off: review's clock_skew has examples.
        for officer in self.rng.sample(sorted(self.officers.values(), key=_login), 2):
            officer.skew = timedelta(minutes=self.rng.choice([-1, 1]) * self.rng.randint(20, 45))

    # -- the event loop ----------------------------------------------------------------

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        if when <= self.end:
            heapq.heappush(self._events, (when, next(self._order), action))

    def run(self, days: int) -> None:
        today = self.end.astimezone(CITY_TIMEZONE).date()
        first = self.first = today - timedelta(days=days)
        for n in range(days + 1):
            day = first + timedelta(days=n)
            self.at(_local(day, 0), partial(self.plan_day, day))
        self.at(_local(first, 0), self.escalation_pass)
        while self._events:
            when, _, action = heapq.heappop(self._events)
            self.clock.set(max(when, self.clock.now()))
            action()
        self.clock.set(self.end)
        self.figures.days = days

    def escalation_pass(self) -> None:
        self.figures.escalation_steps += escalation.run_once(self.store, self.settings, None)
        self.at(self.clock.now() + timedelta(minutes=ESCALATION_MINUTES), self.escalation_pass)

    # -- a day -------------------------------------------------------------------------

    def plan_day(self, day: date) -> None:
        rng = self.rng
        # A slow rise over the weeks (a campaign makes the platform send more), weekends
        # a little quieter, and the day-to-day noise of real traffic.
        weeks = (day - self.first).days / 7
        mean = self.per_day * (0.85 + 0.03 * weeks) * (0.85 if day.weekday() >= 5 else 1.0)
        count = max(1, round(mean * rng.uniform(0.85, 1.15)))
        slots: dict[datetime, int] = {}
        for _ in range(count):
            hour = rng.choices(range(24), weights=HOURLY)[0]
            minute = rng.randrange(60)
            slot = _local(day, hour, minute - minute % DELIVERY_MINUTES)
            slots[slot] = slots.get(slot, 0) + 1
        for slot, n in sorted(slots.items()):
            self.at(slot + timedelta(minutes=DELIVERY_MINUTES), partial(self.deliver, n))
        for station in sorted(self.station_grids):
            if rng.random() < 0.25:
                self.at(
                    _local(day, 8, rng.randrange(30, 120)),
                    partial(self.plan_publicity, station, day),
                )
            # The evening review; some evenings a station supervisor is out on a case.
            if rng.random() < 0.85:
                self.at(
                    _local(day, 17, rng.randrange(0, 120)),
                    partial(self.review_station, station),
                )

    def deliver(self, count: int) -> None:
        now = self.clock.now()
        codes = sorted(self.grids)
        batch = []
        for _ in range(count):
            n = next(self._ids)
            warning = random_warning(self.rng, codes, n, now)
            warning["platform_id"] = f"ZK-{now.astimezone(CITY_TIMEZONE):%Y%m%d}-{n:07d}"
            warning["issued_at"] = (now - timedelta(seconds=self.rng.randint(5, 300))).isoformat()
            batch.append(warning)
        body = msgspec.json.encode({"warnings": batch})
        out = self.warnings.ingest(self.platform, body)
        for warning, result in zip(batch, out.results, strict=True):
            if result.status != "created" or result.warning_id is None:
                continue
            self.figures.warnings += 1
            self.after_arrival(result.warning_id, warning, result.officer_id)

    def after_arrival(
        self, warning_id: int, warning: dict[str, Any], officer_id: int | None
    ) -> None:
        rng, now = self.rng, self.clock.now()
        if rng.random() < 0.01:
            # The platform sent the same resident twice: the supervisor cancels one.
            self.at(now + timedelta(minutes=rng.randint(10, 60)), lambda: self.cancel(warning_id))
            return
        if officer_id is None:
            self.at(
                now + timedelta(minutes=rng.randint(3, 40)),
                lambda: self.reassign(warning_id, warning["grid_code"]),
            )
            return
        self.plan_visit(warning_id, warning, self.officers[officer_id], now)

    def cancel(self, warning_id: int) -> None:
        record = self.store.get_warning(warning_id)
        if record is None or record.state.value not in ("new", "dispatched"):
            return
        who = self.supervisor[record.station_id or record.county_id or ""]
        self.warnings.cancel(who, warning_id, CancelIn(reason="与另一条预警重复"))
        self.figures.cancelled += 1

    def reassign(self, warning_id: int, grid_code: str) -> None:
        """A station's queue (a village with nobody responsible) or a county's (a village
        the city has not loaded): the supervisor gives it to an officer nearby."""
        record = self.store.get_warning(warning_id)
        if record is None:
            return
        station = record.station_id or self._station_of(grid_code, record.county_id)
        who = self.supervisor[record.station_id or record.county_id or ""]
        officer = self.rng.choice(self.by_station[station])
        reason = (
            "该村暂无责任民警，指派就近民警" if record.station_id else "村居未录入，指派属地民警"
        )
        self.warnings.reassign(
            who, warning_id, ReassignIn(officer_id=officer.user.id, reason=reason)
        )
        self.figures.reassigned += 1
        warning = {"grid_code": grid_code, "risk_level": record.risk_level}
        self.plan_visit(warning_id, warning, officer, record.created_at)

    def _station_of(self, grid_code: str, county_id: str | None) -> str:
        """An unknown village's township is its code's first nine digits."""
        for code, grid in self.grids.items():
            if code[:9] == grid_code[:9]:
                return grid.station_id
        return next(s for s in sorted(self.by_station) if s.startswith(county_id or ""))

    # -- the officer at the door ---------------------------------------------------------

    def plan_visit(
        self, warning_id: int, warning: dict[str, Any], officer: _Officer, since: datetime
    ) -> None:
        rng = self.rng
        if rng.random() < 0.015:
            return  # never visited: overdue, escalated up to the city
        limit = self.limits[warning["risk_level"]][0]
        if rng.random() < officer.late:
            minutes = limit * rng.uniform(1.05, 3.0)
        else:
            minutes = limit * rng.uniform(0.1, 0.8)
        # Counted from the warning's arrival, as reports count it; a queued one is on the
        # officer's way only once assigned.
        arrived = max(since + timedelta(minutes=minutes), self.clock.now() + timedelta(minutes=3))
        phone = rng.random() < officer.by_phone
        outcome = rng.choices(OUTCOMES, weights=OUTCOME_WEIGHTS)[0]
        if phone and rng.random() < 0.3:
            outcome = "not_reachable"
        entry: dict[str, Any] = {
            "arrived_at": arrived,
            "contact": "phone" if phone else "face_to_face",
            "outcome": outcome,
            "notes": rng.choice(VISIT_NOTES),
            "position": self._position(warning["grid_code"], phone),
            "photos": self._photos(officer, phone),
        }
        if outcome == "dissuaded" and rng.random() < 0.55:
            entry["amount_prevented"] = int(min(500_000, rng.lognormvariate(9.2, 1.1))) // 100 * 100
        if not phone and rng.random() < 0.06:
            # A long talk at the door: the phone records the arrival first, the outcome
            # an hour or two later (an outcome escalation may fall due meanwhile).
            talk = timedelta(minutes=rng.randint(60, 150))
            first = {**entry, "outcome": None, "amount_prevented": None, "notes": "正在劝阻"}
            self.record(officer, warning_id, first, arrived + timedelta(minutes=2))
            self.record(officer, warning_id, entry, arrived + talk)
        else:
            self.record(officer, warning_id, entry, arrived + timedelta(minutes=rng.randint(2, 10)))

    def _position(self, grid_code: str, phone: bool) -> dict[str, float] | None:
        rng = self.rng
        centre = self.centre.get(grid_code)
        if centre is None:
            # A village the city has not loaded has no centroid: the fix is the station's.
            centre = self.centre[self.station_grids[self._station_of(grid_code, None)][0]]
        if phone:
            return None if rng.random() < 0.5 else _near(centre, rng.uniform(1500, 2500), rng)
        metres = rng.uniform(4000, 8000) if rng.random() < 0.02 else rng.uniform(10, 400)
        return _near(centre, metres, rng)

    def _photos(self, officer: _Officer, phone: bool) -> list[str]:
        if phone or self.rng.random() > officer.photo:
            return []
        # A photo is named by its sha256; the bytes follow over tus when there is signal.
        return [f"{self.rng.getrandbits(256):064x}" for _ in range(self.rng.choice([1, 1, 2]))]

    def record(
        self, officer: _Officer, task_id: int, entry: dict[str, Any], recorded: datetime, **kw: Any
    ) -> None:
        """The officer saves the entry on the phone at `recorded`; it goes up when there is
        signal: at once mostly, hours later from a village without coverage."""
        rng = self.rng
        offline = rng.random() < officer.offline
        delay = timedelta(minutes=rng.randint(15, 120) if offline else rng.randint(0, 4))

        def save() -> None:
            officer.outbox.append(self._mutation(officer, task_id, entry, recorded, **kw))
            self.at(recorded + delay, lambda: self.push(officer))

        self.at(recorded, save)

    def _mutation(
        self,
        officer: _Officer,
        task_id: int,
        entry: dict[str, Any],
        recorded: datetime,
        kind: str = "warning",
        supersedes: str | None = None,
    ) -> dict[str, Any]:
        body = {k: v for k, v in entry.items() if v is not None and v != []}
        body["entry_id"] = f"{self.rng.getrandbits(128):032x}"
        body["recorded_at"] = recorded + officer.skew
        if supersedes:
            body["supersedes"] = supersedes
        device = officer.principal.device_id
        if kind == "warning" and body.get("outcome"):
            officer.claims[body["entry_id"]] = {**entry, "task_id": task_id}
        return {
            "type": "record_visit",
            "mutation_id": f"{self.rng.getrandbits(128):032x}",
            "hlc": HLC(int((recorded + officer.skew).timestamp() * 1000), 0, device).encode(),
            "task_kind": kind,
            "task_id": task_id,
            "entry": body,
        }

    def push(self, officer: _Officer) -> None:
        if not officer.outbox:
            return  # an earlier sync took it up already
        mutations, officer.outbox = officer.outbox, []
        body = msgspec.json.encode(
            {"device_time": self.clock.now() + officer.skew, "mutations": mutations}
        )
        out = self.sync.push_raw(officer.principal, body)
        self.figures.pushes += 1
        for mutation, result in zip(mutations, out.results, strict=True):
            if result.status != "rejected":
                self.figures.visits += mutation["task_kind"] == "warning"
                self.figures.publicity_reports += mutation["task_kind"] == "publicity"
                self.figures.redone += "supersedes" in mutation["entry"]

    # -- the supervisor's evening --------------------------------------------------------

    def review_station(self, station: str) -> None:
        rng = self.rng
        who = self.supervisor[station]
        page = self.review.queue(who, 0, 200)
        for item in page.items:
            reasons = {r.value for r in item.reasons}
            officer = self.officers.get(item.officer_id)
            original = officer.claims.get(item.entry_id) if officer else None
            doubtful = bool(reasons & {"no_photo", "far_from_address"})
            if original is not None and doubtful and rng.random() < 0.35:
                self.review.decide(who, item.entry_id, "returned", rng.choice(RETURN_REASONS))
                self.figures.returned += 1
                assert officer is not None  # noqa: S101 - original came from it
                self.redo(officer, item.entry_id, original)
            else:
                self.review.decide(who, item.entry_id, "approved", rng.choice(APPROVE_NOTES))
                self.figures.approved += 1

    def redo(self, officer: _Officer, entry_id: str, original: dict[str, Any]) -> None:
        """Next morning the officer goes back, takes the photo, and records the visit anew,
        superseding the returned entry (which stays on record)."""
        rng = self.rng
        entry = {k: v for k, v in original.items() if k != "task_id"}
        entry["photos"] = [f"{rng.getrandbits(256):064x}"]
        if entry.get("position"):
            record = self.store.get_warning(original["task_id"])
            entry["position"] = _near(self.centre.get(record.grid_code if record else ""), 60, rng)
        day = self.clock.now().astimezone(CITY_TIMEZONE).date() + timedelta(days=1)
        when = _local(day, 8, rng.randrange(0, 180))
        self.record(officer, original["task_id"], entry, when, supersedes=entry_id)

    # -- publicity -----------------------------------------------------------------------

    def plan_publicity(self, station: str, day: date) -> None:
        rng = self.rng
        venue, audience, title, crowd = rng.choice(VENUES)
        start = day + timedelta(days=rng.randint(0, 2))
        end = start + timedelta(days=rng.randint(0, 4))
        team = rng.sample(self.by_station[station], rng.choice([1, 1, 2]))
        grid = rng.choice(self.station_grids[station])
        task = self.publicity.create(
            self.supervisor[station],
            PublicityTaskIn(
                title=f"{self.grids[grid].name}{title}",
                grid_code=grid,
                venue_kind=venue,
                audience=audience,
                window_start=start,
                window_end=end,
                officer_ids=[o.user.id for o in team],
            ),
        )
        self.figures.publicity_tasks += 1
        fate = rng.random()
        if fate < 0.03:
            self.at(
                _local(start, 7, 30),
                lambda: self._cancel_publicity(station, task.id),
            )
            return
        if fate < 0.15:
            return  # never held: overdue once its window has passed
        held_day = start + timedelta(days=rng.randint(0, (end - start).days))
        held = _local(held_day, rng.randint(9, 15), rng.randrange(60))
        # Not before the task was set: a talk the officer arrived at before it existed
        # would be flagged impossible_time, and rightly.
        held = max(held, self.clock.now() + timedelta(hours=1))
        officer = team[0]
        report: dict[str, Any] = {
            "held_at": held,
            "arrived_at": held - timedelta(minutes=15),
            "position": _near(self.centre[grid], rng.uniform(20, 300), rng),
            "photos": [f"{rng.getrandbits(256):064x}" for _ in range(rng.randint(1, 3))],
            "attendance": rng.randint(*crowd),
            "materials": [
                {"kind": "leaflet", "count": rng.randint(5, 40) * 10},
                *([{"kind": "poster", "count": rng.randint(2, 12)}] if rng.random() < 0.6 else []),
                *(
                    [{"kind": "app_install", "count": rng.randint(5, 60)}]
                    if rng.random() < 0.5
                    else []
                ),
            ],
            "completed": True,
        }
        if fate < 0.25:
            # Held over two days: a report at the end of the first, done on the second.
            first = {**report, "completed": False, "attendance": report["attendance"] // 2}
            self.record(officer, task.id, first, held + timedelta(hours=2), kind="publicity")
            held += timedelta(days=1)
            report = {**report, "held_at": held, "arrived_at": held - timedelta(minutes=15)}
        self.record(officer, task.id, report, held + timedelta(hours=2), kind="publicity")

    def _cancel_publicity(self, station: str, task_id: int) -> None:
        self.publicity.update(
            self.supervisor[station],
            task_id,
            PublicityTaskPatch(status=PublicityStatus.CANCELLED, notes="场地临时占用，改期另排"),
        )


def _login(officer: _Officer) -> str:
    return officer.user.login


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return (
        datetime(day.year, day.month, day.day, tzinfo=CITY_TIMEZONE)
        + timedelta(hours=hour, minutes=minute)
    ).astimezone(UTC)


def _near(
    centre: tuple[float, float] | None, metres: float, rng: random.Random
) -> dict[str, float]:
    lat, lon = centre or (33.62, 114.65)
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.cos(bearing) / 111_195
    dlon = metres * math.sin(bearing) / (111_195 * math.cos(math.radians(lat)))
    return {
        "lat": round(lat + dlat, 6),
        "lon": round(lon + dlon, 6),
        "accuracy_m": float(rng.choice([5, 8, 10, 15, 30])),
    }


def seed_history(
    store: Store,
    clock: ManualClock,
    settings: Settings,
    *,
    days: int = DEFAULT_HISTORY_DAYS,
    end: datetime | None = None,
    seed: int = 411600,
    warnings_per_day: int = WARNINGS_PER_DAY,
) -> HistoryFigures:
    """Live `days` days (and today up to `end`) of the demo city on `clock`, which must
    be the store's clock; leave the clock at `end`. The city must be seeded already."""
    if store.clock is not clock:
        raise ValueError("the history must run on the store's own clock")
    end = end or datetime.now(UTC)
    started = time.perf_counter()
    history = _History(store, clock, settings, seed, end, warnings_per_day)
    today = end.astimezone(CITY_TIMEZONE).date()
    clock.set(_local(today - timedelta(days=days), 0))
    log.info("demo_history_seeding", days=days)
    with _quiet():
        history.meet_people()
        history.figures.days = days
        history.run(days)
    history.figures.seconds = round(time.perf_counter() - started, 1)
    log.info("demo_history_seeded", **dataclasses.asdict(history.figures))
    return history.figures


def seed_demo(
    settings: Settings,
    passwords: Passwords,
    *,
    history_days: int = DEFAULT_HISTORY_DAYS,
    end: datetime | None = None,
    warnings_per_day: int = WARNINGS_PER_DAY,
) -> bool:
    """Seed the demo city, then `history_days` of its past up to `end` (now), into the
    database of `settings`; False, touching nothing, when it holds a city already.

    The store is opened here on a clock of its own, set back, and closed again: the
    server then opens it on the system clock.
    """
    end = end or datetime.now(UTC)
    today = end.astimezone(CITY_TIMEZONE).date()
    # The city's units and people were loaded the day before its history begins.
    start = _local(today - timedelta(days=history_days + 1), 9) if history_days > 0 else end
    clock = ManualClock(start)
    store = open_store(settings.database_path, clock)
    try:
        if not seed_demo_city(store, passwords):
            return False
        if history_days > 0:
            seed_history(
                store,
                clock,
                settings,
                days=history_days,
                end=end,
                warnings_per_day=warnings_per_day,
            )
    finally:
        store.close()
    return True
