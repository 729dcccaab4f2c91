"""Logging in, refreshing, logging out; checking every request's token against the store."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.auth.passwords import Passwords
from server.auth.principal import SUPERVISOR_ROLES, Principal
from server.auth.schemas import ClientTokenIn, LoginIn, MeOut, SessionIn, TokenOut
from server.auth.tokens import (
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from server.errors import AuthError, ErrorCode, PermissionDenied, RateLimited
from server.logs import get_logger
from server.settings import Settings
from server.store.interface import Store
from server.store.records import AuthState, RefreshOutcome, Role, User

log = get_logger("beatsync.auth")
TOKEN_TYPE = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


def me_out(p: Principal) -> MeOut:
    return MeOut(
        id=p.user_id,
        login=p.login,
        name=p.name,
        role=p.role,
        unit_id=p.unit_id,
        city_id=p.city_id,
        county_id=p.county_id,
        station_id=p.station_id,
        device_id=p.device_id,
    )


class AuthService:
    def __init__(self, store: Store, settings: Settings, passwords: Passwords) -> None:
        self.store = store
        self.settings = settings
        self.passwords = passwords

    # -- login -------------------------------------------------------------------------

    def login(self, data: LoginIn, client_ip: str) -> TokenOut:
        user = self._check_password(data.login, data.password, client_ip, platform=False)
        return self._open(user, data.device_id, data.device_name or data.device_id)

    def browser_login(self, data: SessionIn, client_ip: str) -> TokenOut:
        """A supervisor's console session; officers work from the app, with bearer tokens."""
        user = self._check_password(data.login, data.password, client_ip, platform=False)
        if user.role not in SUPERVISOR_ROLES:
            raise PermissionDenied("browser sessions are for supervisors; officers use the app")
        return self._open(user, data.device_id, "web console")

    def client_token(self, data: ClientTokenIn, client_ip: str) -> TokenOut:
        """The warning platform's own credentials; its 'device' is its client id."""
        user = self._check_password(data.client_id, data.client_secret, client_ip, platform=True)
        token = self._open(user, f"platform-{user.login}", "warning platform")
        return TokenOut(
            access_token=token.access_token,
            token_type=TOKEN_TYPE,
            expires_in=token.expires_in,
            refresh_token=None,
            refresh_expires_at=None,
            user=token.user,
        )

    def _check_password(self, login: str, password: str, client_ip: str, *, platform: bool) -> User:
        keys = (f"login:{login.lower()}", f"ip:{client_ip}")
        self._throttle(keys)
        user = self.store.get_user_by_login(login)
        good = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not good or (user.role == Role.PLATFORM) != platform:
            for key in keys:
                self.store.record_login_failure(key)
            log.info("login_failed", login_known=user is not None)
            raise AuthError("login or password is wrong", code=ErrorCode.INVALID_CREDENTIALS)
        if not user.active:
            raise AuthError("this account is disabled", code=ErrorCode.USER_DISABLED)
        self.store.clear_login_failures(keys[0])
        return user

    def _throttle(self, keys: tuple[str, str]) -> None:
        """Refuse early while a login or an address has failed too often lately.

        After `login_max_failures` failures in the window, each further attempt must wait
        30 s, doubling per failure, capped at the window; an address gets 4x the allowance
        because a station's phones may share one.
        """
        now = self.store.clock.now()
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        for key, allowance in zip(keys, (1, 4), strict=True):
            failures = self.store.login_failures_since(key, now - window)
            excess = len(failures) - self.settings.login_max_failures * allowance
            if excess < 0:
                continue
            wait = min(window.total_seconds(), 30 * 2 ** min(excess, 16))
            retry_at = failures[-1] + timedelta(seconds=wait)
            if now < retry_at:
                seconds = max(1, int((retry_at - now).total_seconds()) + 1)
                raise RateLimited(
                    f"too many failed logins; retry in {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )

    def _open(self, user: User, device_id: str, device_name: str) -> TokenOut:
        device = self.store.get_device(user.id, device_id)
        if device is not None and device.revoked_at is not None:
            raise AuthError("this device has been revoked", code=ErrorCode.DEVICE_REVOKED)
        now = self.store.clock.now()
        refresh, refresh_hash = new_refresh_token()
        refresh_expires = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        session_id, device = self.store.open_session(
            user.id, device_id, device_name, refresh_hash, refresh_expires
        )
        log.info("login", user_id=user.id, device_id=device_id)
        return self._tokens(
            Principal.of(user, device.id, device_id, session_id), now, refresh, refresh_expires
        )

    def _tokens(
        self, p: Principal, now: datetime, refresh: str | None, refresh_expires: datetime | None
    ) -> TokenOut:
        access = issue_access_token(
            self.settings.jwt_secret,
            user_id=p.user_id,
            session_id=p.session_id,
            device_pk=p.device_pk,
            device_id=p.device_id,
            role=p.role.value,
            now=now,
            ttl_seconds=self.settings.access_token_ttl_seconds,
        )
        return TokenOut(
            access_token=access,
            token_type=TOKEN_TYPE,
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_token=refresh,
            refresh_expires_at=refresh_expires,
            user=me_out(p),
        )

    # -- refresh and logout --------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenOut:
        now = self.store.clock.now()
        new, new_hash = new_refresh_token()
        expires = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        outcome, session_id, user_id = self.store.rotate_refresh(
            hash_refresh_token(refresh_token), new_hash, expires
        )
        if outcome == RefreshOutcome.REUSED:
            log.warning("refresh_token_reused", session_id=session_id, user_id=user_id)
            raise AuthError(
                "this refresh token was used before; the session is revoked",
                code=ErrorCode.REFRESH_TOKEN_REUSED,
            )
        state = self.store.auth_state(session_id) if session_id else None
        if state is not None and outcome in (RefreshOutcome.ROTATED, RefreshOutcome.REVOKED):
            self._check_live(state)
        if outcome != RefreshOutcome.ROTATED or state is None:
            raise AuthError(
                "refresh token unknown, expired or ended; log in again",
                code=ErrorCode.REFRESH_TOKEN_INVALID,
            )
        principal = Principal.of(
            state.user, state.device.id, state.device.device_id, state.session_id
        )
        return self._tokens(principal, now, new, expires)

    def session_id_of(self, access_token: str) -> str:
        """The session an access token this service just issued belongs to."""
        return decode_access_token(
            self.settings.jwt_secret, access_token, self.store.clock.now()
        ).sid

    def logout(self, principal: Principal) -> None:
        self.store.revoke_session(principal.session_id, "logout")

    # -- every request -------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal:
        """Token -> Principal, refusing revoked devices and disabled users at once."""
        claims = decode_access_token(self.settings.jwt_secret, token, self.store.clock.now())
        state = self.store.auth_state(claims.sid)
        if state is None or str(state.user.id) != claims.sub or state.device.id != claims.dpk:
            raise AuthError("the access token is not valid", code=ErrorCode.TOKEN_INVALID)
        self._check_live(state)
        if state.session_revoked:
            raise AuthError("this session has ended; log in again", code=ErrorCode.TOKEN_INVALID)
        return Principal.of(state.user, state.device.id, state.device.device_id, claims.sid)

    @staticmethod
    def _check_live(state: AuthState) -> None:
        if not state.user.active:
            raise AuthError("this account is disabled", code=ErrorCode.USER_DISABLED)
        if state.device_revoked:
            raise AuthError("this device has been revoked", code=ErrorCode.DEVICE_REVOKED)
