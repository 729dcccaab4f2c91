from __future__ import annotations

from datetime import datetime

import msgspec


class DeviceOut(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    device_id: str
    name: str
    first_seen: datetime
    last_seen: datetime
    revoked_at: datetime | None
    revoked_by: int | None
