"""Listing devices and revoking them, within the caller's jurisdiction."""

from __future__ import annotations

from server.auth.principal import Principal
from server.devices.schemas import DeviceOut
from server.errors import NotFound
from server.logs import get_logger
from server.store.interface import Store
from server.store.records import Actor, Device

log = get_logger("beatsync.devices")


def device_out(d: Device) -> DeviceOut:
    return DeviceOut(
        id=d.id,
        user_id=d.user_id,
        device_id=d.device_id,
        name=d.name,
        first_seen=d.first_seen,
        last_seen=d.last_seen,
        revoked_at=d.revoked_at,
        revoked_by=d.revoked_by,
    )


class DeviceService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def mine(self, principal: Principal) -> list[DeviceOut]:
        return [device_out(d) for d in self.store.list_devices([principal.user_id])]

    def in_jurisdiction(self, principal: Principal, user_id: int | None) -> list[DeviceOut]:
        users = [
            u
            for u in self.store.list_users(principal.jurisdiction)
            if user_id is None or u.id == user_id
        ]
        return [device_out(d) for d in self.store.list_devices(u.id for u in users)]

    def revoke(self, principal: Principal, device_pk: int) -> DeviceOut:
        """A person may revoke their own device; a supervisor any in their jurisdiction."""
        device = self.store.get_device_by_pk(device_pk)
        owner = self.store.get_user(device.user_id) if device else None
        if (
            device is None
            or owner is None
            or not (owner.id == principal.user_id or principal.covers_unit(owner))
        ):
            raise NotFound(f"device {device_pk} not found")
        revoked = self.store.revoke_device(
            device_pk, Actor(user_id=principal.user_id, device_id=principal.device_id)
        )
        log.warning("device_revoked", device_pk=device_pk, owner_id=owner.id)
        return device_out(revoked)
