"""What a caller asks of the store, whatever the backend: typed queries beside the
records the store hands back (server/store/records.py)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.store.overdue import Limits
from sync.vocab import Outcome


class ResyncRequired(Exception):
    """A pull's cursor is older than the change log the store still keeps (or ahead of
    the store's own sequence, after a restore): the phone must pull from the start."""


# The outcomes every report counts, by name: the platform's vocabulary (sync/vocab.py).
OUTCOMES = tuple(o.value for o in Outcome)


class WarningQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of a warning list; all optional, all combined with AND."""

    states: tuple[str, ...] = ()
    station_id: str | None = None
    county_id: str | None = None
    officer_id: int | None = None
    queue: str | None = None
    risk_level: str | None = None
    fraud_type: str | None = None
    # At `at`: overdue (server/store/overdue.py, under `limits`), and open past the
    # platform's deadline_at. True keeps only those warnings, False only the others; in
    # SQL, so that a page is always full while more rows follow.
    at: datetime | None = None
    overdue: bool | None = None
    limits: Limits | None = None
    past_deadline: bool | None = None
    # Arrived in [start, end) (UTC), either end open: the list of a report's days.
    received: tuple[datetime | None, datetime | None] = (None, None)
    after: tuple[str, int] | None = None  # keyset: (deadline_at, id) of the last row seen
    limit: int = 100
