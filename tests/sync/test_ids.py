"""Ids a phone makes for its mutations and entries: unique, and sorted by time so that the
server's indexes take them at their right edge."""

from __future__ import annotations

import uuid

from sync.ids import new_id


def test_a_new_id_is_a_uuid_version_7_that_the_protocol_accepts() -> None:
    made = new_id()
    assert len(made) == 32
    assert made == made.lower()
    parsed = uuid.UUID(made)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    earlier = [new_id(now_ms=1_764_057_600_000) for _ in range(1000)]
    later = new_id(now_ms=1_764_057_600_001)
    assert len(set(earlier)) == 1000
    assert all(e < later for e in earlier)
    assert int(later[:12], 16) == 1_764_057_600_001
