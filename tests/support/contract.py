"""Helpers of the store contract suite (tests/store/test_contract*.py): what the services
hand a store, built from the interface's own types, so any implementation takes them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor, PublicityStatus
from sync.protocol import Mutation, MutationResult
from tests.support.city import TinyCity
from tests.support.sync import push_context

# How tests/store/conftest.py opens an implementation's store: the same folder and clock
# open the same store again.
Opener = Callable[[Path, ManualClock], Store]
ACTOR = Actor(user_id=None, device_id="test")
# Minutes to first contact and to an outcome, per risk level, as Settings hands them out.
LIMITS = {"high": (30, 120), "low": (480, 1440)}


def push(store: Store, officer: int, *bodies: dict[str, Any]) -> list[MutationResult]:
    """Apply a phone's mutations (tests/support/sync.py builds them), received now: move
    the clock past the visits' times first (08:05Z unless told), or they look impossible."""
    ctx = push_context(officer, store.clock.now())
    results, _ = store.apply_push(ctx, [msgspec.convert(b, Mutation) for b in bodies])
    return results


def sha(name: str) -> str:
    """A photo's sha256, named for the story."""
    return hashlib.sha256(name.encode()).hexdigest()


def publicity_fields(tiny: TinyCity, title: str, **changes: Any) -> dict[str, Any]:
    """A publicity task of grid 411602001001 (城区派出所), as PublicityService.create
    hands it to the store: planned, 25 to 30 November."""
    fields: dict[str, Any] = {
        "title": title,
        "grid_code": "411602001001",
        "city_id": "411600",
        "county_id": "411602",
        "station_id": "411602-01",
        "venue_kind": "square",
        "audience": "elderly",
        "window_start": date(2026, 11, 25),
        "window_end": date(2026, 11, 30),
        "status": PublicityStatus.PLANNED.value,
        "notes": None,
        "created_by": tiny.id("sup1"),
    }
    fields.update(changes)
    return fields
