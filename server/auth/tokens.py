"""Access tokens (short-lived JWTs, PyJWT) and refresh tokens (opaque, stored hashed).

A session's first refresh token is random. Each successor is derived from the token it
replaces, HMAC-SHA256 under the server's secret (`successor_refresh_token`), rather than
drawn at random: a retry of a refresh whose answer was lost, or a second of several
concurrent refreshes, presents the same old token and so gets the very same successor
back, while the store still keeps only hashes (no refresh token is ever stored in plain
text, nor encrypted under a key beside it). Without the secret, a token's successor cannot
be computed from it; with the secret, access tokens could be forged anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, TypeVar

import jwt
import msgspec

from server.errors import AuthError, ErrorCode

ISSUER = "beatsync"
ALGORITHM = "HS256"
CLOCK_LEEWAY_SECONDS = 60
C = TypeVar("C", bound=msgspec.Struct)


class AccessClaims(msgspec.Struct, frozen=True):
    sub: str
    sid: str
    dpk: int
    did: str
    role: str
    iat: int
    exp: int
    iss: str = ISSUER


def issue_access_token(
    secret: str,
    *,
    user_id: int,
    session_id: str,
    device_pk: int,
    device_id: str,
    role: str,
    now: datetime,
    ttl_seconds: int,
) -> str:
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "dpk": device_pk,
        "did": device_id,
        "role": role,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_signed(secret: str, token: str, issuer: str, claims_type: type[C], what: str) -> C:
    """Signature, issuer and the claims' shape of a token this server signed; raises
    AuthError. Times are the caller's to judge, against the injected clock, not PyJWT's
    wall clock."""
    try:
        raw: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={
                "require": ["exp", "iat", "sub", "sid"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        return msgspec.convert(raw, claims_type)
    except (jwt.PyJWTError, msgspec.ValidationError) as exc:
        raise AuthError(f"the {what} is not valid", code=ErrorCode.TOKEN_INVALID) from exc


def decode_access_token(secret: str, token: str, now: datetime) -> AccessClaims:
    """Verify signature, issuer and expiry against the injected clock; raise AuthError."""
    claims = verify_signed(secret, token, ISSUER, AccessClaims, "access token")
    # Expiry is checked here, against the injected clock, so tests can move time.
    if claims.iat > now.timestamp() + CLOCK_LEEWAY_SECONDS:
        raise AuthError("the access token is from the future", code=ErrorCode.TOKEN_INVALID)
    if claims.exp <= now.timestamp():
        raise AuthError("the access token has expired", code=ErrorCode.TOKEN_EXPIRED)
    return claims


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash under which the store keeps it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    # A fast hash suffices: the token is 256 random bits, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()


def successor_refresh_token(secret: str, token: str) -> str:
    """The refresh token that replaces `token` when it is spent: the same every time."""
    mac = hmac.new(secret.encode(), b"refresh-successor:" + token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
