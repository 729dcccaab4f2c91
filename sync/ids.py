"""Ids made on the phone: UUIDv7 (RFC 9562), time-ordered.

Any unique id is accepted; time-ordered ones are recommended because the server keeps
mutation and entry ids in B-tree indexes, where ids that sort by time are appended at
the right edge instead of landing on a random page each (a random id costs a page write
per index per visit). A phone with a wrong clock still makes unique ids, just less tidy
ones.
"""

from __future__ import annotations

import os
import time
import uuid


def new_id(now_ms: int | None = None) -> str:
    """A UUIDv7 as 32 lowercase hex digits: 48 bits of Unix milliseconds, then 74 random."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    # Version 7 in bits 48-51 (from the left), variant 0b10 in bits 64-65.
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value).hex
