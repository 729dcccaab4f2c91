"""Device and people oversight: each officer's phones, last sync, sync errors, backlog."""

from __future__ import annotations

from server.auth.principal import Principal
from server.oversight.schemas import OfficerDeviceOut, OfficerOversight, OversightPage
from server.settings import Settings
from server.store.interface import Store


class OversightService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.limits = settings.deadline_minutes()

    def officers(self, principal: Principal) -> OversightPage:
        officers = self.store.list_users(principal.jurisdiction, role="officer")
        ids = [u.id for u in officers]
        devices: dict[int, list[OfficerDeviceOut]] = {}
        for d in self.store.list_devices(ids):
            devices.setdefault(d.user_id, []).append(
                OfficerDeviceOut(
                    device_pk=d.id,
                    device_id=d.device_id,
                    name=d.name,
                    first_seen=d.first_seen,
                    last_seen=d.last_seen,
                    revoked_at=d.revoked_at,
                )
            )
        activity = self.store.officer_activity(ids, self.store.clock.now(), self.limits)
        items = []
        for u in officers:
            a = activity[u.id]
            mine = devices.get(u.id, [])
            items.append(
                OfficerOversight(
                    officer_id=u.id,
                    login=u.login,
                    name=u.name,
                    station_id=u.station_id,
                    active=u.active,
                    devices=mine,
                    last_seen_at=max((d.last_seen for d in mine), default=None),
                    last_push_at=a.last_push_at,
                    open_warnings=a.open_warnings,
                    overdue_warnings=a.overdue_warnings,
                    rejected=a.rejected,
                    last_rejected_code=a.last_rejected_code,
                    last_rejected_at=a.last_rejected_at,
                    pending_uploads=a.pending_uploads,
                )
            )
        return OversightPage(items=items)
