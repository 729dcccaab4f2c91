"""What any backend raises when the database itself is the trouble, not the request.

The API answers these 503 with Retry-After (server/problems.py), the CLI with a plain
message; neither needs to know the backend. A backend registers how to recognise its own
driver's errors of that kind (a locked or unreachable database) with `register_unavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# Seconds a client is told to wait before retrying while the database is unavailable.
RETRY_AFTER_S = 5


class StoreUnavailable(Exception):
    """The database cannot be reached or written now; a retry later may succeed."""


class PendingMigrations(Exception):
    """The database's schema is older than this code's: it must be migrated first
    (`beatsync migrate`), deliberately, while no older release is serving from it."""

    def __init__(self, location: str, pending: Sequence[str]) -> None:
        self.location = location
        self.pending = list(pending)
        super().__init__(
            f"the database at {location} has {len(self.pending)} pending migration(s)"
            f" ({', '.join(self.pending)}): stop every node running the older release, then"
            f" run `beatsync migrate --db {location}`"
        )


_classifiers: list[Callable[[BaseException], bool]] = []


def register_unavailable(classifier: Callable[[BaseException], bool]) -> None:
    """A backend's test for its driver's errors that mean "the database, not the request"."""
    _classifiers.append(classifier)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, StoreUnavailable) or any(c(exc) for c in _classifiers)
