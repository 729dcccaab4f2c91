"""Login, refresh, logout, platform tokens, 'who am I', and cutting off lost phones."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from server.auth.principal import Principal
from server.auth.schemas import ClientTokenIn, LoginIn, MeOut, RefreshIn, TokenOut
from server.auth.service import AuthService, me_out
from server.deps import client_ip


def provide_auth_service(request: Request[Any, Any, Any]) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service, sync_to_thread=False)}

    @post("/login", operation_id="login", status_code=200, sync_to_thread=True)
    def login(
        self,
        data: JSONBody[LoginIn],
        auth: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> TokenOut:
        """An officer or supervisor logs in from a device; returns access and refresh tokens."""
        return auth.login(data, client_ip(request))

    @post("/refresh", operation_id="refreshToken", status_code=200, sync_to_thread=True)
    def refresh(self, data: JSONBody[RefreshIn], auth: NamedDependency[AuthService]) -> TokenOut:
        """Trade a refresh token for a new pair; each refresh token works once."""
        return auth.refresh(data.refresh_token)

    @post("/token", operation_id="platformToken", status_code=200, sync_to_thread=True)
    def platform_token(
        self,
        data: JSONBody[ClientTokenIn],
        auth: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> TokenOut:
        """The warning platform's client-credentials login."""
        return auth.client_token(data, client_ip(request))

    @post("/logout", operation_id="logout", status_code=204, sync_to_thread=True)
    def logout(
        self, principal: NamedDependency[Principal], auth: NamedDependency[AuthService]
    ) -> None:
        """End this device's session; its refresh token stops working."""
        auth.logout(principal)

    @get("/me", operation_id="whoAmI", sync_to_thread=False)
    def me(self, principal: NamedDependency[Principal]) -> MeOut:
        return me_out(principal)
