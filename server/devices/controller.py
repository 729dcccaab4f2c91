from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide

from server.auth.principal import Principal
from server.bounds import PathId, QueryId
from server.devices.schemas import DeviceOut
from server.devices.service import DeviceService
from server.guards import staff_only, supervisors_only
from server.store.interface import Store


def provide_device_service(store: NamedDependency[Store]) -> DeviceService:
    return DeviceService(store)


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["devices"]
    guards = [staff_only]
    dependencies = {"devices": Provide(provide_device_service, sync_to_thread=False)}

    @get("/mine", operation_id="listMyDevices", sync_to_thread=True)
    def mine(
        self, principal: NamedDependency[Principal], devices: NamedDependency[DeviceService]
    ) -> list[DeviceOut]:
        return devices.mine(principal)

    @get("/", operation_id="listDevices", guards=[supervisors_only], sync_to_thread=True)
    def list_devices(
        self,
        principal: NamedDependency[Principal],
        devices: NamedDependency[DeviceService],
        user_id: QueryId = None,
    ) -> list[DeviceOut]:
        """Devices of the people in the caller's jurisdiction."""
        return devices.in_jurisdiction(principal, user_id)

    @post(
        "/{device_pk:int}/revoke", operation_id="revokeDevice", status_code=200, sync_to_thread=True
    )
    def revoke(
        self,
        principal: NamedDependency[Principal],
        devices: NamedDependency[DeviceService],
        device_pk: PathId,
    ) -> DeviceOut:
        """Cut a lost phone off: its very next request is refused and told to wipe."""
        return devices.revoke(principal, device_pk)
