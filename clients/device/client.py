"""DeviceClient: an officer's phone, as far as sync goes (sync/PROTOCOL.md, client side).

It knows the server by HTTP alone. Every step is safe to repeat and safe to interrupt:
the local store commits each step whole (clients/device/local.py), a mutation leaves the
outbox only once its verdict is stored, and a push replayed after a lost answer gets the
verdict the server recorded the first time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import msgspec

from clients.device.auth import RefreshingBearer, problem_of
from clients.device.backoff import RETRY_STATUSES, RetryPolicy, Sleep, retry_after_seconds
from clients.device.errors import (
    ChecksumMismatch,
    DeviceWiped,
    NotLoggedIn,
    ProblemError,
    ProtocolViolation,
    ServerUnreachable,
)
from clients.device.events import EventStreamParser
from clients.device.local import ConflictNote, LocalStore, LocalTask, Rejected
from clients.device.photos import CHUNK_BYTES, MAX_CHUNK_BYTES, PhotoUploader, UploadSummary
from sync.ids import new_id
from sync.protocol import Change, PushResponse, VisitEntry, encoder, push_response_decoder
from sync.vocab import EditableField

PUSH_BATCH = 100
PULL_PAGE = 200
# Resyncs from zero one pull may do before it gives up: one is always enough unless the
# server and the device disagree on what a scope holds, which is a bug to report.
MAX_RESYNCS = 2
# The server pings every 15 s; a stream silent for this long is dead.
STREAM_READ_TIMEOUT = 45.0
USER_AGENT = "beatsync-device/0.1"


@dataclass(frozen=True)
class PullSummary:
    pages: int = 0
    upserts: int = 0
    removes: int = 0
    # Changes of a type this version does not know; the checksum catches what they hide.
    ignored: int = 0
    # Pulls from zero this call made: after a 410 resync_required or a checksum mismatch.
    resyncs: int = 0
    # Of those, the ones a checksum mismatch caused: the local copy had diverged.
    mismatches: int = 0
    checksum: str | None = None


@dataclass(frozen=True)
class PushSummary:
    batches: int = 0
    sent: int = 0
    applied: int = 0
    conflicts: int = 0
    rejected: int = 0


class _Page(msgspec.Struct):
    # Changes stay raw so that one of a type this version does not know is skipped alone.
    changes: list[msgspec.Raw]
    cursor: str
    has_more: bool
    checksum: str | None = None
    server_hlc: str | None = None


class _Wait(msgspec.Struct):
    seq: int
    changed: bool


_page_decoder = msgspec.json.Decoder(_Page)
_change_decoder: msgspec.json.Decoder[Change] = msgspec.json.Decoder(Change)
_wait_decoder = msgspec.json.Decoder(_Wait)
_scope_event = msgspec.json.Decoder(dict[str, Any])


class DeviceClient:
    """One device of one officer: its local database and its HTTP session.

    `transport` is any httpx transport (the network by default; tests pass the app's
    in-process transport or a faulty wrapper). `now` is the phone's clock, which may be
    wrong; `sleep`, `rng` and `new_id` are injected so that a simulation is reproducible
    and never waits.
    """

    def __init__(
        self,
        base_url: str,
        db_path: str | Path,
        device_id: str,
        *,
        device_name: str = "",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        now: Callable[[], float] = time.time,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        new_id: Callable[[], str] = new_id,
        retry: RetryPolicy | None = None,
        batch_size: int = PUSH_BATCH,
        page_size: int = PULL_PAGE,
        photo_chunk_bytes: int = CHUNK_BYTES,
        photo_max_chunk_bytes: int = MAX_CHUNK_BYTES,
    ) -> None:
        if not timeout or timeout <= 0:
            raise ValueError("a device never waits without a limit: timeout must be > 0")
        self.device_id = device_id
        self.device_name = device_name or device_id
        self.timeout = timeout
        self.local = LocalStore(db_path, device_id)
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter, not a secret
        self._new_id = new_id
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.page_size = page_size
        self.http = httpx.Client(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"user-agent": USER_AGENT},
        )
        self.http.auth = RefreshingBearer(
            self.local, self.http.base_url.join("api/v1/auth/refresh")
        )
        db_file = Path(db_path)
        self.photos = PhotoUploader(
            self.http,
            self.local,
            db_file.with_name(f"{db_file.stem}-photos"),
            retry=self.retry,
            delay=lambda n: self._sleep(self.retry.delay(n, self._rng)),
            checked=self._checked,
            chunk_bytes=photo_chunk_bytes,
            max_chunk_bytes=photo_max_chunk_bytes,
        )

    def close(self) -> None:
        self.http.close()
        self.local.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- session -------------------------------------------------------------------------

    def login(self, login: str, password: str) -> dict[str, Any]:
        """Sign in on this device; returns the user. Refused for a revoked device (which
        wipes it) and when another officer's records are still waiting to be sent."""
        body = {
            "login": login,
            "password": password,
            "device_id": self.device_id,
            "device_name": self.device_name,
        }
        response = self._send(
            "POST", "/api/v1/auth/login", body=lambda: encoder.encode(body), authenticated=False
        )
        out: dict[str, Any] = response.json()
        self.local.start_session(out["user"], out["access_token"], out.get("refresh_token"))
        return dict(out["user"])

    def logout(self) -> None:
        """End the session on the server and forget the tokens; the records stay."""
        try:
            self._send("POST", "/api/v1/auth/logout")
        finally:
            self.local.end_session()

    @property
    def user(self) -> dict[str, Any] | None:
        return self.local.user()

    # -- recording, offline --------------------------------------------------------------

    def record_visit(self, kind: str, task_id: int, **entry: Any) -> str:
        """Record a visit (or a publicity report) on a task held here; returns its entry
        id. Works offline: it only writes the local database. Fields as in VisitEntry."""
        entry_id = self._new_id()
        visit = msgspec.convert(
            {"entry_id": entry_id, "recorded_at": self._device_time(), **entry},
            VisitEntry,
        )
        self.local.record_visit(kind, task_id, visit, self._new_id(), self._now_ms())
        return entry_id

    def add_photo(self, source: str | Path | bytes, filename: str | None = None) -> str:
        """Keep a photo just taken (a file or its bytes) and queue it for upload; returns
        its sha256, to name in a visit's `photos`. Works offline."""
        return self.photos.add(source, filename, self._now_ms())

    def upload_photos(self) -> UploadSummary:
        """Upload every queued photo, resuming each where the server stands (tus). A photo
        is `done` only once the server confirms it holds every byte."""
        return self.photos.upload_all()

    def photo_state(self, sha256: str) -> str | None:
        """`pending`, `done` (the server holds it) or `rejected`; None if not taken here."""
        row = self.local.photo(sha256)
        return None if row is None else str(row["state"])

    def set_notes(self, kind: str, task_id: int, value: str | None) -> str:
        """Edit the officer's notes on a task; returns the mutation id. Offline too."""
        mutation = self.local.set_field(
            kind,
            task_id,
            EditableField.OFFICER_NOTES.value,
            value,
            self._new_id(),
            self._now_ms(),
        )
        return mutation.mutation_id

    # -- push ----------------------------------------------------------------------------

    def push(self) -> PushSummary:
        """Send the outbox, oldest first, `batch_size` at a time, until it is empty."""
        batches = sent = applied = conflicts = rejected = 0
        while batch := self.local.outbox_batch(self.batch_size):
            ids = [mutation_id for mutation_id, _ in batch]
            response = self._send("POST", "/api/v1/sync/push", body=self._push_body(batch))
            answer = self._verdicts(response, ids)
            self.local.store_verdicts(answer.results, answer.server_hlc, self._now_ms())
            batches += 1
            sent += len(ids)
            for result in answer.results:
                applied += result.status == "applied"
                conflicts += result.status == "conflict"
                rejected += result.status == "rejected"
        return PushSummary(
            batches=batches, sent=sent, applied=applied, conflicts=conflicts, rejected=rejected
        )

    def _push_body(self, batch: Sequence[tuple[str, str]]) -> Callable[[], bytes]:
        mutations = ",".join(body for _, body in batch).encode()

        def body() -> bytes:
            # Built per attempt: the server measures the phone's clock offset from it.
            return (
                b'{"device_time":'
                + encoder.encode(self._device_time())
                + b',"mutations":['
                + mutations
                + b"]}"
            )

        return body

    @staticmethod
    def _verdicts(response: httpx.Response, ids: list[str]) -> PushResponse:
        try:
            answer = push_response_decoder.decode(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolViolation(f"push answer does not decode: {exc}") from exc
        if [r.mutation_id for r in answer.results] != ids:
            raise ProtocolViolation("push verdicts do not match the mutations sent")
        return answer

    def _hand_in(self, token: str) -> int:
        """Cut off (device revoked, user disabled): push the outbox under the hand-in token
        the server gave, before the wipe (PROTOCOL.md, Being cut off). Returns how many
        mutations the server gave a verdict on. Stops at any refusal (the window closed):
        the wipe follows regardless. Raises ServerUnreachable when the network fails,
        so that nothing is wiped before the outbox is handed in or refused."""
        handed = 0
        headers = {"authorization": f"Bearer {token}"}
        while batch := self.local.outbox_batch(self.batch_size):
            ids = [mutation_id for mutation_id, _ in batch]
            response = self._request(
                "POST",
                "/api/v1/sync/push",
                body=self._push_body(batch),
                authenticated=False,
                headers=headers,
            )
            if not response.is_success:
                break
            answer = self._verdicts(response, ids)
            self.local.store_verdicts(answer.results, answer.server_hlc, self._now_ms())
            handed += len(ids)
        return handed

    # -- pull ----------------------------------------------------------------------------

    def pull(self) -> PullSummary:
        """Page through the changes since the cursor until caught up, then check the
        checksum; on a mismatch or `410 resync_required`, pull everything from zero."""
        pages = upserts = removes = ignored = resyncs = mismatches = 0
        while True:
            cursor = self.local.cursor()
            if cursor is None:
                self.local.start_from_zero()
            params: dict[str, Any] = {"limit": self.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            try:
                response = self._send("GET", "/api/v1/sync/pull", params=params)
            except ProblemError as exc:
                if exc.code != "resync_required" or resyncs >= MAX_RESYNCS:
                    raise
                resyncs += 1
                self.local.start_from_zero()
                continue
            try:
                page = _page_decoder.decode(response.content)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ProtocolViolation(f"pull answer does not decode: {exc}") from exc
            changes, unknown = _decode_changes(page.changes)
            outcome = self.local.apply_page(
                changes, unknown, page.cursor, page.has_more, page.server_hlc, self._now_ms()
            )
            pages += 1
            upserts += outcome.upserts
            removes += outcome.removes
            ignored += outcome.ignored
            if page.has_more:
                continue
            if page.checksum is None or page.checksum == outcome.checksum:
                return PullSummary(
                    pages=pages,
                    upserts=upserts,
                    removes=removes,
                    ignored=ignored,
                    resyncs=resyncs,
                    mismatches=mismatches,
                    checksum=outcome.checksum,
                )
            if resyncs >= MAX_RESYNCS:
                raise ChecksumMismatch(outcome.checksum or "", page.checksum)
            resyncs += 1
            mismatches += 1
            self.local.start_from_zero()

    def sync(self) -> tuple[PushSummary, PullSummary]:
        """Push, upload photos, then pull: what the officer recorded goes up before the view
        is refreshed, and a visit log reaches the server before its photos (a photo that
        no visit log names is removed after a while)."""
        pushed = self.push()
        self.upload_photos()
        return pushed, self.pull()

    # -- reading -------------------------------------------------------------------------

    def tasks(self) -> list[LocalTask]:
        return self.local.tasks()

    def task(self, kind: str, task_id: int) -> LocalTask | None:
        return self.local.task(kind, task_id)

    def rejected(self) -> list[Rejected]:
        return self.local.rejected()

    def conflicts(self) -> list[ConflictNote]:
        return self.local.conflicts()

    def outbox_size(self) -> int:
        return self.local.outbox_size()

    def checksum(self) -> str:
        return self.local.checksum()

    # -- being told ----------------------------------------------------------------------

    def follow_events(
        self,
        on_change: Callable[[int], None],
        stop: threading.Event,
        *,
        poll_timeout: int = 25,
        failures_before_polling: int = 3,
        polls_before_streaming_again: int = 20,
    ) -> None:
        """Call `on_change(seq)` whenever the scope changes, until `stop` is set.

        Keeps the event stream open, resuming with Last-Event-ID after a break and
        reconnecting with backoff; when the stream breaks `failures_before_polling` times
        in a row it long-polls instead, and tries the stream again later. `on_change`
        usually pulls; the seq is stored only after it returns, so a change is never
        marked seen before it was handled. Its exceptions end the follow.
        """
        failures = polls = backoff = 0
        while not stop.is_set():
            at_least = 0.0
            try:
                if failures < failures_before_polling:
                    healthy, retry_ms = self._stream_events(on_change, stop)
                    at_least = (retry_ms or 0) / 1000
                    failures = 0 if healthy else failures + 1
                    backoff = 0 if healthy else backoff
                else:
                    self._wait_once(on_change, poll_timeout)
                    backoff = 0
                    polls += 1
                    if polls >= polls_before_streaming_again:
                        failures = polls = 0
                    continue  # the server did the waiting
            except _StreamUnavailable:
                failures = failures_before_polling
                continue
            except (httpx.TransportError, ServerUnreachable):
                if failures < failures_before_polling:
                    failures += 1
            stop.wait(max(at_least, self.retry.delay(backoff, self._rng)))
            backoff = min(backoff + 1, 10)

    def _stream_events(
        self, on_change: Callable[[int], None], stop: threading.Event
    ) -> tuple[bool, int | None]:
        """One connection of the event stream: (whether it carried anything, retry ms)."""
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        last = self.local.event_seq()
        if last:
            headers["last-event-id"] = str(last)
        parser = EventStreamParser()
        healthy = False
        with self.http.stream(
            "GET",
            "/api/v1/sync/events",
            headers=headers,
            timeout=httpx.Timeout(self.timeout, read=STREAM_READ_TIMEOUT),
        ) as response:
            if response.status_code != 200:
                response.read()
                if response.status_code in (404, 405):
                    raise _StreamUnavailable
                if response.status_code in RETRY_STATUSES:
                    return False, parser.retry_ms
                self._checked(response)
            # Without an event id the server only tells of changes after it subscribed us,
            # which its first line proves; whatever changed before is fetched then.
            catch_up = not last
            for line in response.iter_lines():
                healthy = True
                if catch_up:
                    catch_up = False
                    on_change(0)
                event = parser.feed(line)
                if event is not None and event.event == "scope_changed":
                    self._changed(on_change, _event_seq(event.id, event.data))
                if stop.is_set():
                    break
        return healthy, parser.retry_ms

    def _wait_once(self, on_change: Callable[[int], None], poll_timeout: int) -> None:
        response = self.http.get(
            "/api/v1/sync/wait",
            params={"after": self.local.event_seq(), "timeout": poll_timeout},
            timeout=httpx.Timeout(self.timeout, read=poll_timeout + self.timeout),
        )
        if response.status_code in RETRY_STATUSES:
            raise ServerUnreachable(f"wait: HTTP {response.status_code}")
        self._checked(response)
        try:
            answer = _wait_decoder.decode(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolViolation(f"wait answer does not decode: {exc}") from exc
        if answer.changed:
            self._changed(on_change, answer.seq)

    def _changed(self, on_change: Callable[[int], None], seq: int | None) -> None:
        on_change(seq or 0)
        if seq:
            self.local.save_event_seq(seq)

    # -- HTTP ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Callable[[], bytes] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request, retried with backoff while the network or the server fails it;
        its answer checked (`_checked`)."""
        return self._checked(
            self._request(method, path, params=params, body=body, authenticated=authenticated)
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Callable[[], bytes] | None = None,
        authenticated: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request, retried with backoff while the network or the server fails it.

        Only transport errors, 408, 429 and 5xx are retried: they may mean the request
        never arrived. Any request retried here is safe to repeat (pushes by their
        mutation ids, pulls by their cursors).
        """
        sent_headers = dict(headers or {})
        if body is not None:
            sent_headers["content-type"] = "application/json"
        last = ""
        retry_after: float | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self._sleep(self.retry.delay(attempt - 1, self._rng, retry_after))
            retry_after = None
            try:
                response = self.http.request(
                    method,
                    path,
                    params=params,
                    content=body() if body is not None else None,
                    headers=sent_headers or None,
                    auth=httpx.USE_CLIENT_DEFAULT if authenticated else None,
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUSES:
                retry_after = retry_after_seconds(response)
                last = f"HTTP {response.status_code}"
                continue
            return response
        raise ServerUnreachable(f"{method} {path}: {last} ({self.retry.attempts} attempts)")

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        problem = problem_of(response)
        if problem.get("action") == "wipe":
            token = problem.get("handin_token")
            # What the officer recorded goes to the server before the wipe, if it may.
            handed = self._hand_in(token) if isinstance(token, str) and token else 0
            self.local.wipe()
            raise DeviceWiped(str(problem.get("code") or response.status_code), handed)
        if response.status_code == 401:
            raise NotLoggedIn(401, problem)
        raise ProblemError(response.status_code, problem)

    def _now_ms(self) -> int:
        return int(self._now() * 1000)

    def _device_time(self) -> datetime:
        return datetime.fromtimestamp(self._now(), UTC)


class _StreamUnavailable(Exception):
    """This server has no event stream (an older version): long-poll instead."""


def _decode_changes(raw: Sequence[msgspec.Raw]) -> tuple[list[Change], int]:
    changes: list[Change] = []
    unknown = 0
    for item in raw:
        try:
            changes.append(_change_decoder.decode(item))
        except (msgspec.DecodeError, msgspec.ValidationError):
            unknown += 1
    return changes, unknown


def _event_seq(event_id: str | None, data: str) -> int | None:
    if event_id and event_id.isdigit():
        return int(event_id)
    try:
        seq = _scope_event.decode(data).get("seq")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return seq if isinstance(seq, int) else None
