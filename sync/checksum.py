"""The scope checksum: what a device holds, in 16 hex digits, comparable with the server.

The checksum of a scope is the XOR of one 64-bit hash per task in it, the hash of
(kind, id, version). XOR lets the server keep it up to date change by change (a task
entering or leaving toggles its hash in or out) and lets a device compute it from its
local rows in any order. Equal checksums mean the same tasks at the same versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY = "0" * 16


def task_hash(kind: str, task_id: int, version: int) -> int:
    digest = hashlib.blake2b(f"{kind}:{task_id}:{version}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def toggle(checksum: str, kind: str, task_id: int, version: int) -> str:
    """The checksum with this task version added (or removed: XOR is its own inverse)."""
    return f"{int(checksum, 16) ^ task_hash(kind, task_id, version):016x}"


def of(tasks: Iterable[tuple[str, int, int]]) -> str:
    value = 0
    for kind, task_id, version in tasks:
        value ^= task_hash(kind, task_id, version)
    return f"{value:016x}"
