"""Logging in, refreshing, logging out; checking every request's token against the store."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import msgspec

from server.auth import handin
from server.auth.passwords import Passwords
from server.auth.principal import SUPERVISOR_ROLES, Principal
from server.auth.schemas import (
    ClientTokenIn,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    SessionIn,
    TokenOut,
)
from server.auth.tokens import (
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    successor_refresh_token,
)
from server.errors import AuthError, ErrorCode, InputError, PermissionDenied, RateLimited
from server.logs import get_logger
from server.settings import Settings
from server.store.interface import Store
from server.store.records import Actor, AuthState, RefreshOutcome, Role, User

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
        user = _own_password(
            self._check_password(data.login, data.password, client_ip, platform=False)
        )
        return self._open(user, data.device_id, data.device_name or data.device_id)

    def browser_login(self, data: SessionIn, client_ip: str) -> TokenOut:
        """A supervisor's console session; officers work from the app, with bearer tokens."""
        user = _own_password(
            self._check_password(data.login, data.password, client_ip, platform=False)
        )
        if user.role not in SUPERVISOR_ROLES:
            raise PermissionDenied("browser sessions are for supervisors; officers use the app")
        return self._open(user, data.device_id, "web console")

    def change_password(self, data: PasswordChangeIn, client_ip: str) -> None:
        """Set a password of the user's own, throttled like a login: with an initial
        password (which then stops working), or with the current one. Sessions stay."""
        user = self._check_password(data.login, data.password, client_ip, platform=False)
        if data.new_password == data.password:
            raise InputError("choose a password other than the one given", field="new_password")
        self.store.update_user(
            user.id,
            {
                "password_hash": self.passwords.hash(data.new_password),
                "must_change_password": False,
                "demo_password": False,
            },
            Actor(user_id=user.id),
        )
        log.info("password_changed", user_id=user.id, was_initial=user.must_change_password)

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
        """Throttled per account, never per address alone (see _backoff).

        An account that has failed `login_max_failures` times lately waits, doubling per
        further failure, and is refused with 429 before its password is even checked; a
        success clears its failures. An address gets four times the allowance; beyond it,
        the address is only marked as guessing: each account it then fails on goes into
        backoff at once (as if it had failed `login_max_failures` times), which slows
        guessing from it, while a correct password for an account not itself in backoff
        still logs in from there, so one person behind a station's shared address cannot
        lock out every phone of the station.
        """
        name = login.lower()
        account, hot, address = f"login:{name}", f"hot:{name}", f"ip:{client_ip}"
        now = self.store.clock.now()
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        allowance = self.settings.login_max_failures
        wait = max(
            self._backoff(self.store.login_failures_since(account, now - window), allowance),
            self._backoff(self.store.login_failures_since(hot, now - window), 1),
        )
        if wait > 0:
            log.info("login_throttled", wait_seconds=wait)
            raise RateLimited(
                f"too many failed logins for this account; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        user = self.store.get_user_by_login(login)
        good = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not good or (user.role == Role.PLATFORM) != platform:
            guessing = len(self.store.login_failures_since(address, now - window)) >= 4 * allowance
            for key in (account, address, *((hot,) if guessing else ())):
                self.store.record_login_failure(key)
            log.info(
                "login_failed",
                user_id=user.id if user else None,
                login_known=user is not None,
                address_over_limit=guessing,
            )
            raise AuthError("login or password is wrong", code=ErrorCode.INVALID_CREDENTIALS)
        if not user.active:
            raise AuthError("this account is disabled", code=ErrorCode.USER_DISABLED)
        self.store.clear_login_failures(account)
        self.store.clear_login_failures(hot)
        return user

    def _backoff(self, failures: list[datetime], allowance: int) -> int:
        """Whole seconds still to wait: after `allowance` failures in the window, each
        further attempt waits 30 s after the last failure, doubling per failure beyond,
        capped at the window; 0 when an attempt may be checked now."""
        excess = len(failures) - allowance
        if excess < 0:
            return 0
        now = self.store.clock.now()
        window = self.settings.login_failure_window_seconds
        retry_at = failures[-1] + timedelta(seconds=min(window, 30 * 2 ** min(excess, 16)))
        if now >= retry_at:
            return 0
        return max(1, math.ceil((retry_at - now).total_seconds()))

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
        """Rotate a refresh token (RFC 9700, 4.14.2). Its successor is derived from it
        (server/auth/tokens.py), so a retry within the window, or any of several
        concurrent refreshes of one token, is answered with the same successor and an
        access token of the same session; any other reuse revokes the session."""
        now = self.store.clock.now()
        new = successor_refresh_token(self.settings.jwt_secret, refresh_token)
        result = self.store.rotate_refresh(
            hash_refresh_token(refresh_token),
            hash_refresh_token(new),
            now + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            timedelta(seconds=self.settings.refresh_retry_window_seconds),
        )
        outcome, session_id = result.outcome, result.session_id
        if outcome == RefreshOutcome.REUSED:
            log.warning("refresh_token_reused", session_id=session_id, user_id=result.user_id)
            raise AuthError(
                "this refresh token was used before; the session is revoked",
                code=ErrorCode.REFRESH_TOKEN_REUSED,
            )
        issued = outcome in (RefreshOutcome.ROTATED, RefreshOutcome.RETRIED)
        state = self.store.auth_state(session_id) if session_id else None
        if state is not None and (issued or outcome == RefreshOutcome.REVOKED):
            # A revoked device or a disabled user says so (action: wipe).
            self._check_live(state)
        if not issued or state is None or result.expires_at is None:
            raise AuthError(
                "refresh token unknown, expired or ended; log in again",
                code=ErrorCode.REFRESH_TOKEN_INVALID,
            )
        if outcome == RefreshOutcome.RETRIED:
            log.info("refresh_retried", session_id=session_id, user_id=result.user_id)
        principal = Principal.of(
            state.user, state.device.id, state.device.device_id, state.session_id
        )
        return self._tokens(principal, now, new, result.expires_at)

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

    def authenticate_handin(self, token: str) -> Principal:
        """A hand-in token -> the Principal of a cut-off session, for its hand-in push
        alone (server/auth/handin.py); a closed window says wipe, with no new token."""
        now = self.store.clock.now()
        claims = handin.verify(self.settings.jwt_secret, token)
        state = self.store.auth_state(claims.sid)
        if state is None or str(state.user.id) != claims.sub or state.device.id != claims.dpk:
            raise AuthError("the hand-in token is not valid", code=ErrorCode.TOKEN_INVALID)
        revoked_at = handin.cut_off_at(state)
        if revoked_at is None:
            # Re-enabled meanwhile: the phone logs in again and pushes as ever.
            raise AuthError("this session has ended; log in again", code=ErrorCode.TOKEN_INVALID)
        if handin.expired(claims, now) or now >= handin.window_closes_at(state, now):
            # Wipe; with a fresh token only while the session's window is still open.
            raise handin.cut_off(state, self.settings.jwt_secret, now)
        principal = Principal.of(state.user, state.device.id, state.device.device_id, claims.sid)
        return msgspec.structs.replace(principal, handin_revoked_at=revoked_at)

    def _check_live(self, state: AuthState) -> None:
        if not state.user.active or state.device_revoked:
            # action: wipe, with a hand-in token while the session may still hand in.
            raise handin.cut_off(state, self.settings.jwt_secret, self.store.clock.now())


def _own_password(user: User) -> User:
    """An initial password opens nothing but the change to one of the user's own: the
    administrator who set it (or the sheet it came in) must not hold a working login."""
    if user.must_change_password:
        raise PermissionDenied(
            "this password was set by an administrator: choose your own first"
            " (POST /api/v1/auth/password)",
            code=ErrorCode.PASSWORD_CHANGE_REQUIRED,
        )
    return user
