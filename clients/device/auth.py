"""Bearer tokens as an httpx auth flow: attach the access token; on `401 token_expired`
trade the refresh token for a new pair and retry the request once.

Refresh tokens are single-use (the server revokes the session when one is presented
twice, except a retry within a short window, which gets the same new pair back), so two
threads of one app must never refresh with the same token: a lock serialises refreshes,
and a thread that waited on it reuses the pair the other fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any, Protocol

import httpx
import msgspec

_json = msgspec.json.Decoder(dict[str, Any])


class TokenKeeper(Protocol):
    def access_token(self) -> str | None: ...
    def refresh_token(self) -> str | None: ...
    def save_tokens(self, access: str, refresh: str | None) -> None: ...


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error response ({} when the body is not one)."""
    try:
        return _json.decode(response.content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}


class RefreshingBearer(httpx.Auth):
    """For a synchronous httpx.Client only: it reads a 401 body itself rather than set
    `requires_response_body`, which would make httpx read every body, an endless event
    stream included, before handing the response back."""

    def __init__(self, tokens: TokenKeeper, refresh_url: httpx.URL) -> None:
        self.tokens = tokens
        self.refresh_url = refresh_url
        self._refreshing = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self.tokens.access_token()
        if used:
            request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401 or used is None:
            return
        response.read()
        if problem_of(response).get("code") != "token_expired":
            return
        with self._refreshing:
            current = self.tokens.access_token()
            if current and current != used:
                # Another request refreshed while this one waited: use its tokens.
                request.headers["Authorization"] = f"Bearer {current}"
                yield request
                return
            refresh = self.tokens.refresh_token()
            if refresh is None:
                return
            refreshed = yield httpx.Request(
                "POST",
                self.refresh_url,
                json={"refresh_token": refresh},
                # The same time limits as the request it serves: never an unbounded wait.
                extensions={"timeout": request.extensions.get("timeout")},
            )
            refreshed.read()
            if refreshed.status_code != 200:
                # The caller gets the refresh's own answer: log in again, or wipe.
                return
            body = _json.decode(refreshed.content)
            # Stored before the retry: a kill from here on must not leave the phone holding
            # a refresh token the server has already spent.
            self.tokens.save_tokens(body["access_token"], body.get("refresh_token"))
        request.headers["Authorization"] = f"Bearer {body['access_token']}"
        yield request
