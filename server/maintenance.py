"""Periodic upkeep: drop expired tasks from phones, compact the sync change log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import anyio

from server.leases import JobLease
from server.logs import get_logger
from server.settings import Settings
from server.store.interface import Store

log = get_logger("beatsync.maintenance")


def run_once(
    store: Store, settings: Settings, sweep_photos: Callable[[], object] | None = None
) -> tuple[int, int]:
    """One pass: (tasks dropped from scopes, change-log rows forgotten). `sweep_photos`
    removes expired uploads and unclaimed photos (server/uploads), when given."""
    if sweep_photos is not None:
        sweep_photos()
    swept = store.sweep_retention(timedelta(hours=settings.scope_retention_hours))
    compacted = store.compact_changes(store.clock.now() - timedelta(days=settings.change_log_days))
    if swept or compacted:
        log.info("maintenance", swept=swept, compacted=compacted)
    return swept, compacted


async def run_forever(
    store: Store,
    settings: Settings,
    sweep_photos: Callable[[], object] | None,
    lease: JobLease,
) -> None:
    """A pass every interval, while this process holds the job's lease."""
    one_pass = partial(run_once, store, settings, sweep_photos)
    while True:
        try:
            await anyio.to_thread.run_sync(lease.run_pass, one_pass)
        except Exception:
            log.exception("maintenance_failed")
        await asyncio.sleep(settings.maintenance_interval_seconds)
