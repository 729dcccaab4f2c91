"""Wire types of login, refresh, logout, platform tokens and 'who am I'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from server.store.records import Role

DeviceId = Annotated[
    str,
    Meta(
        min_length=4,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Stable id the app generates once per install",
    ),
]


class LoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    login: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    device_id: DeviceId
    device_name: Annotated[str, Meta(max_length=128)] = ""


class PasswordChangeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Choose a password of one's own: with an initial password an administrator set
    (the only thing it is good for), or to change one's own."""

    login: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    new_password: Annotated[str, Meta(min_length=8, max_length=128)]


class RefreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, Meta(min_length=1, max_length=256)]


class ClientTokenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    client_id: Annotated[str, Meta(min_length=1, max_length=64)]
    client_secret: Annotated[str, Meta(min_length=1, max_length=256)]


class MeOut(msgspec.Struct, kw_only=True):
    id: int
    login: str
    name: str
    role: Role
    unit_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    device_id: str


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None
    refresh_expires_at: datetime | None
    user: MeOut


class SessionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A supervisor's login from the console in a browser. device_id: the browser's own
    id if the console keeps one, so that each browser is a device that can be revoked."""

    login: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    device_id: DeviceId = "web-console"


class SessionOut(msgspec.Struct, kw_only=True):
    """The session's tokens are in cookies, out of scripts' reach; this says who is in,
    the CSRF token to echo in X-CSRF-Token (also in the beatsync_csrf cookie), and when
    the access cookie expires (refresh it before: POST /api/v1/auth/session/refresh)."""

    user: MeOut
    csrf_token: str
    expires_in: int
    refresh_expires_at: datetime | None
