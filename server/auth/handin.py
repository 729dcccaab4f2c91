"""Handing in at revocation (sync/PROTOCOL.md, Being cut off).

A revoked device, or a disabled user's phone, is told to wipe at its next contact, and its
outbox would go with it: visits recorded before the officer was cut off, not yet pushed.
So the `401` that says so carries a hand-in token: good for `POST /api/v1/sync/push`
alone, for a short window from the session's first hand-in, and never again. Nothing can
be read with it. What a push under it carries is judged by its HLC against the moment the
session was cut off: made before, it is applied by the usual rules and flagged for review
(the phone's word is all there is that it came before); made after, it is refused and
kept for review.

Only a session that was live when it was cut off hands in: one that had ended otherwise
(logout, a reused refresh token) has nothing to claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
import msgspec

from server.auth.tokens import ALGORITHM, CLOCK_LEEWAY_SECONDS, verify_signed
from server.errors import AuthError, ErrorCode, Problem
from server.store.records import AuthState

HANDIN_ISSUER = "beatsync-handin"
HANDIN_PATH = "/api/v1/sync/push"
# How long a cut-off session may hand in, from its first hand-in push (an outbox of
# thousands goes up in a minute; a lost answer or a kill has time to retry).
HANDIN_WINDOW = timedelta(minutes=15)
# The session ends with these reasons when its device is revoked or its user disabled
# (server/store/sqlite/org.py); its revoked_at is then the moment it was cut off.
CUT_OFF_REASONS = frozenset({"device revoked", "user disabled"})


class HandInClaims(msgspec.Struct, frozen=True):
    sub: str
    sid: str
    dpk: int
    iat: int
    exp: int


class CutOff(AuthError):
    """`401 device_revoked` / `user_disabled` (action: wipe), with a hand-in token when
    the session may still hand in."""

    def __init__(self, detail: str, *, code: ErrorCode, handin_token: str | None) -> None:
        super().__init__(detail, code=code)
        self.handin_token = handin_token

    def to_problem(self, instance: str | None = None, request_id: str | None = None) -> Problem:
        problem = super().to_problem(instance, request_id)
        return msgspec.structs.replace(problem, handin_token=self.handin_token)


def cut_off_at(state: AuthState) -> datetime | None:
    """When this session was cut off by its device's revocation or its user's disabling;
    None when it was not (it is live, or ended for another reason)."""
    if state.user.active and not state.device_revoked:
        return None
    if state.session_revoke_reason not in CUT_OFF_REASONS:
        return None
    return state.session_revoked_at


def window_closes_at(state: AuthState, now: datetime) -> datetime:
    """The end of the session's hand-in: a window from its first hand-in push."""
    return (state.handin_at or now) + HANDIN_WINDOW


def cut_off(state: AuthState, secret: str, now: datetime) -> CutOff:
    """The error for a session whose user is disabled or whose device is revoked."""
    if not state.user.active:
        code, detail = ErrorCode.USER_DISABLED, "this account is disabled"
    else:
        code, detail = ErrorCode.DEVICE_REVOKED, "this device has been revoked"
    token = None
    if cut_off_at(state) is not None and now < (closes := window_closes_at(state, now)):
        token = _issue(secret, state, now, min(closes, now + HANDIN_WINDOW))
    return CutOff(detail, code=code, handin_token=token)


def _issue(secret: str, state: AuthState, now: datetime, expires: datetime) -> str:
    claims = {
        "iss": HANDIN_ISSUER,
        "sub": str(state.user.id),
        "sid": state.session_id,
        "dpk": state.device.id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def is_handin_token(token: str) -> bool:
    """Whether a bearer token claims to be a hand-in token (verified only by `verify`)."""
    try:
        raw: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return raw.get("iss") == HANDIN_ISSUER


def verify(secret: str, token: str) -> HandInClaims:
    """Signature and issuer; raises AuthError. Its time is the caller's to judge
    (`expired`): an expired one still names the session it was given to."""
    return verify_signed(secret, token, HANDIN_ISSUER, HandInClaims, "hand-in token")


def expired(claims: HandInClaims, now: datetime) -> bool:
    return claims.exp <= now.timestamp() or claims.iat > now.timestamp() + CLOCK_LEEWAY_SECONDS
