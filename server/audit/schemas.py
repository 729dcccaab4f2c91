from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class AuditEntryOut(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_device_id: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEntryOut]
    next_after_id: int | None
