"""Login, refresh, logout, platform tokens, 'who am I', and cutting off lost phones."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from server.auth import cookies
from server.auth.principal import Principal
from server.auth.schemas import (
    ClientTokenIn,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    RefreshIn,
    SessionIn,
    SessionOut,
    TokenOut,
)
from server.auth.service import AuthService, me_out
from server.deps import client_ip
from server.errors import AuthError, ErrorCode
from server.settings import Settings


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
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> TokenOut:
        """An officer or supervisor logs in from a device; returns access and refresh tokens."""
        return auth.login(data, client_ip(request, settings))

    @post("/refresh", operation_id="refreshToken", status_code=200, sync_to_thread=True)
    def refresh(self, data: JSONBody[RefreshIn], auth: NamedDependency[AuthService]) -> TokenOut:
        """Trade a refresh token for a new pair. Each refresh token works once: the same
        one again within BEATSYNC_REFRESH_RETRY_WINDOW (a retry after a lost answer) gets
        the same new refresh token back; any other reuse revokes the session."""
        return auth.refresh(data.refresh_token)

    @post("/token", operation_id="platformToken", status_code=200, sync_to_thread=True)
    def platform_token(
        self,
        data: JSONBody[ClientTokenIn],
        auth: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> TokenOut:
        """The warning platform's client-credentials login."""
        return auth.client_token(data, client_ip(request, settings))

    @post("/password", operation_id="changePassword", status_code=204, sync_to_thread=True)
    def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        auth: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> None:
        """Choose a password of one's own. A password an administrator set is an initial
        one: logging in with it answers 403 password_change_required, and this is what
        it is good for; afterwards only the new one works. Throttled like a login."""
        auth.change_password(data, client_ip(request, settings))

    @post("/logout", operation_id="logout", status_code=204, sync_to_thread=True)
    def logout(
        self, principal: NamedDependency[Principal], auth: NamedDependency[AuthService]
    ) -> None:
        """End this device's session; its refresh token stops working."""
        auth.logout(principal)

    @get("/me", operation_id="whoAmI", sync_to_thread=False)
    def me(self, principal: NamedDependency[Principal]) -> MeOut:
        return me_out(principal)


class SessionController(Controller):
    """Browser sessions for the supervisors' console: cookies instead of bearer tokens
    (see server/auth/cookies.py and docs/operations.md)."""

    path = cookies.SESSION_PATH
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service, sync_to_thread=False)}

    @post(
        "/",
        operation_id="createSession",
        status_code=200,
        sync_to_thread=True,
        exclude_from_auth=True,
    )
    def create(
        self,
        data: JSONBody[SessionIn],
        auth: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> Response[SessionOut]:
        """A supervisor logs in from a browser: the access token, the refresh token and a
        CSRF token come back as cookies (HttpOnly but the CSRF one, SameSite=Strict).
        Officers are refused with 403: they use the app, with bearer tokens."""
        tokens = auth.browser_login(data, client_ip(request, settings))
        return _session(auth, tokens, settings, request)

    @post(
        "/refresh",
        operation_id="refreshSession",
        status_code=200,
        sync_to_thread=True,
        exclude_from_auth=True,
    )
    def refresh(
        self,
        auth: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> Response[SessionOut]:
        """Trade the refresh cookie for new cookies, as POST /api/v1/auth/refresh does for
        a refresh token: each works once (a retry within the retry window gets the same
        cookies again), and a reused one ends the session. Send the CSRF token in
        X-CSRF-Token."""
        token = request.cookies.get(cookies.REFRESH_COOKIE)
        if not token:
            raise AuthError(
                "no session to refresh; log in again", code=ErrorCode.REFRESH_TOKEN_INVALID
            )
        # Before the token is spent: a refused request changes nothing.
        cookies.check_double_submit(request)
        return _session(auth, auth.refresh(token), settings, request)

    @delete("/", operation_id="deleteSession", status_code=204, sync_to_thread=True)
    def end(
        self,
        principal: NamedDependency[Principal],
        auth: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> Response[None]:
        """Log out: the session ends (its refresh token stops working) and the cookies
        are cleared."""
        auth.logout(principal)
        return Response(
            None,
            status_code=204,
            cookies=cookies.cleared_cookies(https=cookies.secure(request, settings)),
        )


def _session(
    auth: AuthService, tokens: TokenOut, settings: Settings, request: Request[Any, Any, Any]
) -> Response[SessionOut]:
    csrf = cookies.csrf_token(settings.jwt_secret, auth.session_id_of(tokens.access_token))
    return Response(
        SessionOut(
            user=tokens.user,
            csrf_token=csrf,
            expires_in=tokens.expires_in,
            refresh_expires_at=tokens.refresh_expires_at,
        ),
        cookies=cookies.session_cookies(
            tokens, csrf, settings, https=cookies.secure(request, settings)
        ),
    )
