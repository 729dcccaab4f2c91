"""Photos as evidence: resumable uploads (tus) that keep exactly the bytes taken.

An upload is created with the photo's length and sha256; its bytes arrive in PATCH
steps, each written straight to the storage as it streams in (never held whole in
memory), hashed as it passes, and committed only when it is whole: a step with an
Upload-Checksum that does not match is dropped, a step cut off by the network is kept
up to its last byte (without a checksum) so that the phone resumes rather than
restarts. The format is judged on the first twelve bytes, before more is written. When
the last byte is in, the whole photo must hash to the declared sha256, or nothing of it
is kept. A stored photo is named by that sha256 and never changed.

State lives in the store and the storage, never only in memory: a restarted server, or
another process or node sharing the store and the photo folder, reads an upload's offset
from its record and the bytes held, and rebuilds the running hash from those bytes. Two
requests never write one upload at once, whichever processes they reach: each takes the
upload's lock in the store first (a lease, see LOCK_LEASE). The running hashes kept in
memory are a cache of one process, trusted only while no other request has written the
upload since (the record's `written_by`).

The event loop only receives: writing, hashing, the records and keeping a photo run on
two upload threads of the service's own, a batch behind the bytes arriving, and each
PATCH makes one hop to them at its end (write the rest, commit, move the record; after
the last byte also check the sha256, sync, read the EXIF headers and keep the photo).
The thumbnail is made when first asked for (server/uploads/photos.py), never on the
upload's path.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import itertools
import os
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import anyio
import msgspec

from server.auth.principal import Principal
from server.clock import Clock
from server.errors import BeatsyncError, ConflictError, ErrorCode, InputError, NotFound
from server.logs import get_logger
from server.metrics import Metrics
from server.settings import Settings
from server.store.interface import Store
from server.store.records import Actor
from server.store.upload_records import PhotoRecord, UploadRecord, UploadState
from server.uploads import images
from server.uploads.storage import PartWriter, PhotoStorage
from server.uploads.tus import Checksum, Metadata, base_headers
from sync.photos import SNIFF_BYTES, sniff

log = get_logger("beatsync.uploads")
T = TypeVar("T")
# Running hashes kept for open uploads; one that fell out is rebuilt from the part.
MAX_CACHED_HASHERS = 4096
UPLOAD_THREADS = 2
# What the event loop gathers of a body before a worker writes it: big enough that the
# hand-over costs little beside the writing and hashing, small enough that ten uploads
# at once hold a few MB (a step holds two batches at most).
BATCH_BYTES = 1024 * 1024
# An upload's lock lives in the store, so that requests reaching any process or node that
# shares it exclude each other, and it is a lease, so that the uploads of a process that
# dies mid-request (kill -9, a lost node) come free by themselves.
#
# How long: one step (a PATCH) carries up to photo_max_bytes (20 MiB by default: most tus
# clients send all that is left in one step; the officers' app sends 256 KiB), and no
# timeout bounds how long its body takes: on a weak signal a phone sends a few KB/s, so
# even one 256 KiB chunk may take a minute, and a 20 MiB step an hour. No lease fits both
# that and a prompt takeover after a crash. So the lease bounds the gap between two
# pieces of a body instead, and is renewed while they arrive, once a third of it is spent
# (one write every 20 s at most, while bytes come): a minute is far more than a live
# connection goes without a byte, and a dead holder's upload is free again within a
# minute, while the phone keeps retrying (the app's tus retries, then its next sync). The
# last phase of a step (write its rest and move the record; after the last byte also sync
# the photo, read its headers and keep it: a second or two for 20 MiB) begins with two
# thirds of a lease left at least. A request that hears nothing for a whole lease may
# find its lock taken by the phone's next try (its connection died without a word): it
# then gives its step up, leaving the part to the new holder, and answers 423.
LOCK_LEASE = timedelta(seconds=60)
LOCK_RENEW_AFTER = LOCK_LEASE / 3
# How long HEAD waits for a PATCH that holds the lock to let go (see _settled), and how
# often it looks: a cut-off step is kept in tens of milliseconds, hundreds under load.
HEAD_WAIT = 2.0
HEAD_POLL = 0.02


class ClientGone(Exception):
    """The request body ended because the client went away (the network dropped)."""


class UploadOutcome(msgspec.Struct, kw_only=True):
    """What the tus answer headers say about an upload after a request."""

    upload: UploadRecord
    # The stored photo, once complete.
    photo: PhotoRecord | None = None


def _problem(code: ErrorCode, detail: str, upload: UploadRecord | None = None) -> BeatsyncError:
    headers = base_headers()
    if upload is not None:
        headers["Upload-Offset"] = str(upload.received)
    return BeatsyncError(detail, code=code, headers=headers)


def _locked_problem(detail: str = "another request is writing to it") -> BeatsyncError:
    return _problem(ErrorCode.UPLOAD_LOCKED, detail)


class _Lock:
    """A request's hold on an upload's lock (LOCK_LEASE): renewed while the request works
    on the upload, freed when it ends."""

    def __init__(
        self,
        upload: UploadRecord,
        holder: str,
        clock: Clock,
        taken_at: datetime,
        renew: Callable[[], Awaitable[bool]],
    ) -> None:
        self.upload = upload  # as it stood when the lock was taken
        self.holder = holder
        self._clock = clock
        self._renew = renew
        self._renewed_at = taken_at
        self._lost = False

    def sure(self) -> bool:
        """Whether the lock is this request's for certain now: its lease runs still, as
        renewed last (it may be this request's after that too, but another may have it)."""
        return not self._lost and self._clock.now() < self._renewed_at + LOCK_LEASE

    async def keep(self) -> None:
        """Renew the lease once a third of it is spent; 423 when another request took the
        lock over meanwhile (this one went a whole lease without a byte)."""
        now = self._clock.now()
        if now < self._renewed_at + LOCK_RENEW_AFTER:
            return
        if not await self._renew():
            self._lost = True
            log.warning("upload_lock_lost", upload_id=self.upload.id, holder=self.holder)
            raise _locked_problem("another request took the upload over")
        self._renewed_at = now


class _Sniffer:
    """Judges the format as soon as the first SNIFF_BYTES have been seen."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def feed(self, data: bytes) -> str | None:
        self.head += data[: SNIFF_BYTES - len(self.head)]
        if len(self.head) < SNIFF_BYTES:
            return None
        media_type = sniff(self.head)
        if media_type is None:
            raise InputError(
                "the bytes are not a JPEG, PNG, HEIC/HEIF or WebP image",
                code=ErrorCode.UNSUPPORTED_IMAGE_TYPE,
                headers=base_headers(),
            )
        return media_type


class _Step:
    """One PATCH body on its way to the storage.

    The event loop judges each piece as it arrives (size, format) and gathers it into a
    batch; while it receives the next, one upload thread writes the batch and hashes it
    into the photo's running sha256, and the other hashes it into the step's own checksum
    (hashlib and os.write let go of the GIL: the two hashes of a checked step take the
    time of one). A batch waits for the one before it, so a step holds two at most and a
    slow disk slows the sender (TCP flow control) instead of filling memory. The last
    batch is written by the worker that commits the step (UploadService._settle)."""

    def __init__(
        self,
        *,
        running: Any,
        chunk_hash: Any,
        sniffer: _Sniffer | None,
        media_type: str | None,
        left: int,
        writer: PartWriter,
        start: Callable[[Callable[[], None]], asyncio.Future[None]],
        keep: Callable[[], Awaitable[None]],
    ) -> None:
        self.running = running
        self.chunk_hash = chunk_hash
        self.sniffer = sniffer
        self.media_type = media_type
        self.left = left
        self.writer = writer
        self.received = 0
        self.gone = False
        self._start = start
        self._keep = keep
        self._batch: list[bytes] = []
        self._batched = 0
        self._rest_hashed = False
        self._jobs: list[asyncio.Future[None]] = []

    async def take(self, body: AsyncIterator[bytes]) -> None:
        try:
            async for data in body:
                if data:
                    await self._keep()  # the upload's lock, renewed as the bytes arrive
                    self._judge(data)
                    self._batch.append(data)
                    self._batched += len(data)
                    if self._batched >= BATCH_BYTES:
                        await self.settle()
                        batch = self._held()
                        self._jobs.append(self._start(partial(self.write, batch)))
                        if self.chunk_hash is not None:
                            # The step's own checksum, on the other thread at the same time.
                            self._jobs.append(self._start(partial(self._check, batch)))
        except ClientGone:
            self.gone = True
        finally:
            # Even when the step fails: its writer may be aborted only once no batch is
            # being written to it.
            await self.settle()

    async def settle(self) -> None:
        """Wait for the batch being written and checked, if any: all of its jobs, even
        when one failed, and even when the request is cancelled."""
        jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        with anyio.CancelScope(shield=True):
            outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def checked(self) -> bytes:
        """The step's own digest, once the body has ended (its last batch is hashed here)."""
        self._check(self._batch)
        return bytes(self.chunk_hash.digest())

    def _check(self, batch: list[bytes]) -> None:
        for data in batch:
            self.chunk_hash.update(data)

    def _held(self) -> list[bytes]:
        batch, self._batch, self._batched = self._batch, [], 0
        return batch

    def _judge(self, data: bytes) -> None:
        if self.received + len(data) > self.left:
            raise _problem(
                ErrorCode.PHOTO_TOO_LARGE, f"more bytes than the {self.left} left of Upload-Length"
            )
        if self.sniffer is not None:
            judged = self.sniffer.feed(data)  # raises before a byte of a non-image is written
            if judged is not None:
                self.media_type, self.sniffer = judged, None
        self.received += len(data)

    def write(self, batch: list[bytes]) -> None:
        """Write a batch and hash it into the photo's sha256 (a worker thread's part)."""
        for data in batch:
            self.writer.write(data)
            self.running.update(data)

    def running_digest(self) -> bytes:
        """The photo's sha256 so far, what the loop still holds included (then not hashed
        again when it is written)."""
        for data in self._batch:
            self.running.update(data)
        self._rest_hashed = True
        return bytes(self.running.copy().digest())

    def write_rest(self) -> None:
        """Write what the loop still holds, after the body ended (a worker thread's part)."""
        batch = self._held()
        if self._rest_hashed:
            for data in batch:
                self.writer.write(data)
        else:
            self.write(batch)


class UploadService:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        storage: PhotoStorage,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.storage = storage
        self.metrics = metrics
        # This process's name on the locks it takes (host, pid, and a random part, so that
        # a restarted process with a reused pid is another holder); each request adds a
        # number of its own, so that two requests of one process exclude each other too.
        self._process = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._requests = itertools.count(1)
        self._receiving = 0
        # Running hashes of open uploads: (offset, hash, the holder whose step left it).
        self._hashers: OrderedDict[str, tuple[int, Any, str | None]] = OrderedDict()
        # Storing a photo (promote, record) and removing one (forget, unlink) never
        # interleave: a photo sent again while the sweep removes it must survive. Across
        # processes the store sees to most of it: a photo is stored under its upload's
        # lock, and never forgotten while an upload of it is locked.
        self._content = threading.Lock()
        # A few threads of their own do all the upload work: every thread that allocates
        # gets a malloc arena of its own, and ten uploads spread over anyio's forty workers
        # grew the server's resident memory by tens of MB that no byte of a photo needed.
        self._workers = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="uploads")

    @property
    def receiving(self) -> int:
        """Uploads whose bytes are arriving now through this process (a PATCH in progress
        each)."""
        return self._receiving

    @property
    def expiry(self) -> timedelta:
        return timedelta(hours=self.settings.upload_expiry_hours)

    def _now(self) -> datetime:
        return self.store.clock.now()

    def _start(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run fn on an upload thread, in this request's context (its log fields)."""
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self._workers, context.run, fn)

    async def _thread(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._start(partial(fn, *args))
        # Like anyio's to_thread: a cancelled request still waits for its thread's work.
        with anyio.CancelScope(shield=True):
            result = await future
        return result

    # -- the lock ------------------------------------------------------------------------

    def _holder(self) -> str:
        return f"{self._process}:{next(self._requests)}"

    async def _lock(self, upload_id: str) -> _Lock | None:
        """Take the upload's lock for this request: None when another request (of this
        process or another) holds it, or there is no unfinished upload by that id."""
        holder = self._holder()
        taken_at = self._now()
        upload = await self._thread(self.store.lock_upload, upload_id, holder, LOCK_LEASE)
        if upload is None:
            return None

        async def renew() -> bool:
            return await self._thread(self.store.renew_upload_lock, upload_id, holder, LOCK_LEASE)

        return _Lock(upload, holder, self.store.clock, taken_at, renew)

    async def _unlock(self, lock: _Lock) -> None:
        try:
            await self._thread(self.store.unlock_upload, lock.upload.id, lock.holder)
        except Exception:  # the lease ends it anyway; the request's own outcome stands
            log.exception("upload_unlock_failed", upload_id=lock.upload.id)

    # -- creation ------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        length: int,
        metadata_header: str,
        metadata: Metadata,
        body: AsyncIterator[bytes] | None,
        checksum: Checksum | None,
    ) -> UploadOutcome:
        """Create an upload (creation), taking the first bytes along if a body is sent
        (creation-with-upload). A photo stored already completes at once."""
        if length > self.settings.photo_max_bytes:
            raise _problem(
                ErrorCode.PHOTO_TOO_LARGE,
                f"Upload-Length {length} is past the limit of {self.settings.photo_max_bytes}",
            )
        if length < SNIFF_BYTES:
            raise InputError(
                "no image is that small", field="Upload-Length", headers=base_headers()
            )
        if metadata.filetype is not None and metadata.filetype not in images.ACCEPTED_TYPES:
            raise InputError(
                f"filetype {metadata.filetype[:64]!r} is not one of "
                + ", ".join(images.ACCEPTED_TYPES),
                code=ErrorCode.UNSUPPORTED_IMAGE_TYPE,
                field="Upload-Metadata.filetype",
                headers=base_headers(),
            )
        known = self.store.get_photo(metadata.sha256)  # by primary key: on the loop, as _own
        if known is not None and known.size != length:
            raise _problem(
                ErrorCode.PHOTO_HASH_MISMATCH,
                f"the photo with this sha256 is {known.size} bytes, not {length}",
            )
        now = self._now()
        upload = UploadRecord(
            id=secrets.token_urlsafe(24),
            user_id=principal.user_id,
            device_id=principal.device_id,
            length=length,
            received=0,
            sha256=metadata.sha256,
            metadata=metadata_header,
            filename=metadata.filename,
            filetype=metadata.filetype,
            media_type=None,
            state=UploadState.OPEN,
            created_at=now,
            updated_at=now,
            expires_at=now + self.expiry,
            city_id=principal.city_id,
            county_id=principal.county_id,
            station_id=principal.station_id,
        )
        created = await self._thread(
            lambda: self.store.create_upload(upload, max_open=self.settings.upload_quota)
        )
        if created is None:
            raise _problem(
                ErrorCode.UPLOAD_QUOTA_EXCEEDED,
                f"{self.settings.upload_quota} unfinished uploads are held already",
            )
        log.info(
            "upload_created",
            upload_id=created.id,
            length=length,
            deduplicated=created.state == UploadState.COMPLETE,
        )
        if created.state == UploadState.COMPLETE:
            if body is not None:
                async for _ in body:  # the bytes are here already; read and drop them
                    pass
            return UploadOutcome(upload=created, photo=known)
        if body is None:
            return UploadOutcome(upload=created)
        try:
            return await self.patch(principal, created.id, 0, checksum, body, None)
        except BeatsyncError as exc:
            if exc.code == ErrorCode.CHECKSUM_MISMATCH:
                # The upload exists; the phone learns where from the answer and resends.
                return UploadOutcome(upload=created)
            raise

    # -- reading the state ---------------------------------------------------------------

    async def _own(self, principal: Principal, upload_id: str) -> UploadRecord:
        # One read by primary key, on the event loop: cheaper than a hop to a thread, and
        # a WAL reader never waits for the writer.
        upload = self.store.get_upload(upload_id)
        if upload is None or upload.user_id != principal.user_id:
            raise NotFound("no such upload", headers=base_headers())
        return self._live(upload)

    def _live(self, upload: UploadRecord) -> UploadRecord:
        if upload.state == UploadState.FAILED or (
            upload.state == UploadState.OPEN and upload.expires_at <= self._now()
        ):
            raise _problem(ErrorCode.UPLOAD_GONE, "create a new upload for this photo")
        return upload

    async def head(self, principal: Principal, upload_id: str) -> UploadOutcome:
        """Where an upload stands. One whose last byte arrived before a crash cut its
        completion short is completed now."""
        upload = await self._settled(principal, await self._own(principal, upload_id))
        if upload.state == UploadState.COMPLETE or (
            upload.received < upload.length
            and self.storage.part_size(upload.id) >= upload.received  # one open: usually so
        ):
            return UploadOutcome(upload=upload)  # nothing to mend: no lock needed
        lock = await self._lock(upload_id)
        if lock is None:  # another request is at it
            return UploadOutcome(upload=upload)
        self._receiving += 1
        try:
            upload = await self._reconciled(self._live(lock.upload))
            if upload.received == upload.length:
                hasher = await self._hasher_at(upload, upload.received)
                try:
                    outcome = await self._thread(self._complete, principal, upload, hasher)
                finally:
                    self._hashers.pop(upload.id, None)
                self._stored(outcome)
                return outcome
            return UploadOutcome(upload=upload)
        finally:
            self._receiving -= 1
            await self._unlock(lock)

    async def _settled(self, principal: Principal, upload: UploadRecord) -> UploadRecord:
        """The upload once the request writing it has let go, HEAD_WAIT at most. A phone
        whose connection dropped mid-PATCH asks at once where to resume, while the server's
        side of that PATCH is still keeping what arrived: answered with the offset from
        before it, the phone would send those bytes again (its mobile data, and a PATCH
        that can only meet a 423). A live PATCH holding the lock longer gets the offset as
        it stands when the wait ends."""
        deadline = asyncio.get_running_loop().time() + HEAD_WAIT
        while (
            upload.state == UploadState.OPEN
            and upload.lock_until is not None
            and upload.lock_until > self._now()
            and asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(HEAD_POLL)
            upload = await self._own(principal, upload.id)
        return upload

    async def _reconciled(self, upload: UploadRecord) -> UploadRecord:
        """Believe the bytes held over the record when they are fewer (the tail of a step
        was lost in a crash after its record was written)."""
        if self.storage.part_size(upload.id) >= upload.received:  # one stat: the usual case
            return upload
        return await self._thread(self._reconcile, upload)

    def _reconcile(self, upload: UploadRecord) -> UploadRecord:
        held = self.storage.part_size(upload.id)
        if held < upload.received:
            log.warning("upload_rewound", upload_id=upload.id, recorded=upload.received, held=held)
            self.store.advance_upload(
                upload.id, upload.received, held, upload.expires_at, upload.media_type
            )
            self._hashers.pop(upload.id, None)
            upload.received = held
            upload.written_by = upload.lock_holder  # as advance_upload records it
        return upload

    # -- the bytes -----------------------------------------------------------------------

    async def patch(
        self,
        principal: Principal,
        upload_id: str,
        offset: int,
        checksum: Checksum | None,
        body: AsyncIterator[bytes],
        content_length: int | None,
    ) -> UploadOutcome:
        upload = await self._own(principal, upload_id)
        if upload.state == UploadState.COMPLETE:
            if offset == upload.length and not content_length:
                return UploadOutcome(upload=upload)
            raise _problem(ErrorCode.UPLOAD_OFFSET_MISMATCH, "the upload is complete", upload)
        lock = await self._lock(upload_id)
        if lock is None:
            raise _locked_problem()
        self._receiving += 1
        try:
            # As it stands now: another process may have moved it since it was read.
            upload = await self._reconciled(self._live(lock.upload))
            if offset != upload.received:
                raise _problem(
                    ErrorCode.UPLOAD_OFFSET_MISMATCH,
                    f"the upload stands at {upload.received}, not {offset}",
                    upload,
                )
            left = upload.length - offset
            if content_length is not None and content_length > left:
                raise _problem(
                    ErrorCode.PHOTO_TOO_LARGE, f"{content_length} bytes sent, {left} left"
                )
            return await self._receive(principal, upload, offset, checksum, body, lock)
        finally:
            self._receiving -= 1
            await self._unlock(lock)

    async def _receive(
        self,
        principal: Principal,
        upload: UploadRecord,
        offset: int,
        checksum: Checksum | None,
        body: AsyncIterator[bytes],
        lock: _Lock,
    ) -> UploadOutcome:
        hasher = await self._hasher_at(upload, offset)
        # A step from the first byte checked with sha256 has the photo's running sha256 as
        # its own checksum: one hash of the bytes instead of two.
        from_running = checksum is not None and checksum.algorithm == "sha256" and offset == 0
        head = b""
        if 0 < offset < SNIFF_BYTES:
            head = b"".join(self.storage.read_part(upload.id, 0, offset))
        step = _Step(
            running=hasher.copy(),
            chunk_hash=hashlib.new(checksum.algorithm) if checksum and not from_running else None,
            sniffer=_Sniffer(head) if offset < SNIFF_BYTES else None,
            media_type=upload.media_type,
            left=upload.length - offset,
            writer=self.storage.open_part(upload.id, offset),
            start=self._start,
            keep=lock.keep,
        )
        try:
            await step.take(body)
            await lock.keep()  # the last phase begins with most of a lease left
        except BeatsyncError as exc:
            self._count(step.received)
            self._give_up(step, lock)
            if exc.code == ErrorCode.UNSUPPORTED_IMAGE_TYPE:
                await self._discard(upload)
            raise
        except BaseException:
            self._count(step.received)
            self._give_up(step, lock)
            raise
        self._count(step.received)
        if checksum is not None:
            digest = step.running_digest() if from_running else step.checked()
            matches = digest == checksum.digest
            if step.gone or not matches:
                self._give_up(step, lock)
            if step.gone:  # a cut-off body cannot be checked: it is sent again whole
                return UploadOutcome(upload=upload)
            if not matches:
                raise _problem(
                    ErrorCode.CHECKSUM_MISMATCH,
                    f"the {step.received} bytes sent do not match their {checksum.algorithm}",
                    upload,
                )
        try:
            # The rest of the body, the record and, after the last byte, the stored photo:
            # one hop to a worker thread, whatever the step's size.
            outcome = await self._thread(self._settle, principal, upload, offset, step)
        except BaseException:
            self._hashers.pop(upload.id, None)
            raise
        if outcome.photo is None:
            self._keep_hasher(upload.id, upload.received, step.running, upload.written_by)
        else:
            self._stored(outcome)
        return outcome

    @staticmethod
    def _give_up(step: _Step, lock: _Lock) -> None:
        """Drop what the step wrote, while the upload is surely this request's; else leave
        the part alone: another request may be writing to it now."""
        if lock.sure():
            step.writer.abort()
        else:
            step.writer.close()

    def _count(self, received: int) -> None:
        if self.metrics is not None and received:
            self.metrics.upload_bytes.inc(received)

    def _settle(
        self, principal: Principal, upload: UploadRecord, offset: int, step: _Step
    ) -> UploadOutcome:
        """Write the rest of a step and commit it, move the record, and keep the photo if
        the step was its last (a worker thread's part)."""
        try:
            step.write_rest()
        except BaseException:
            step.writer.abort()
            raise
        step.writer.commit()
        if step.received == 0:
            return UploadOutcome(upload=upload)
        now = self._now()
        moved = self.store.advance_upload(
            upload.id, offset, offset + step.received, now + self.expiry, step.media_type
        )
        if not moved:  # pragma: no cover - the upload's lock keeps writers apart
            raise ConflictError("the upload moved meanwhile", headers=base_headers())
        upload.written_by = upload.lock_holder  # as advance_upload records it
        upload.received = offset + step.received
        upload.expires_at = now + self.expiry
        upload.media_type = step.media_type
        if upload.received == upload.length:
            return self._complete(principal, upload, step.running)
        return UploadOutcome(upload=upload)

    async def _hasher_at(self, upload: UploadRecord, offset: int) -> Any:
        # The cached hash is of the bytes this process saw; it stands for the part only if
        # no request wrote the upload since, here or in another process (which may have
        # rewound it after a lost tail, and written other bytes up to the same offset).
        cached = self._hashers.get(upload.id)
        if (
            cached is not None
            and cached[0] == offset
            and cached[2] is not None
            and cached[2] == upload.written_by
        ):
            return cached[1]
        if offset == 0:
            return hashlib.sha256()

        def rebuild() -> Any:
            hasher = hashlib.sha256()
            for block in self.storage.read_part(upload.id, 0, offset):
                hasher.update(block)
            return hasher

        hasher = await self._thread(rebuild)
        self._keep_hasher(upload.id, offset, hasher, upload.written_by)
        return hasher

    def _keep_hasher(
        self, upload_id: str, offset: int, hasher: Any, written_by: str | None
    ) -> None:
        self._hashers[upload_id] = (offset, hasher, written_by)
        self._hashers.move_to_end(upload_id)
        while len(self._hashers) > MAX_CACHED_HASHERS:
            self._hashers.popitem(last=False)

    async def _discard(self, upload: UploadRecord) -> None:
        self._hashers.pop(upload.id, None)
        await self._thread(self._drop, upload)

    def _drop(self, upload: UploadRecord) -> None:
        self.store.fail_upload(upload.id)
        self.storage.discard_part(upload.id)

    def _stored(self, outcome: UploadOutcome) -> None:
        self._hashers.pop(outcome.upload.id, None)
        if outcome.photo is not None:
            log.info(
                "photo_stored",
                upload_id=outcome.upload.id,
                size=outcome.photo.size,
                media_type=outcome.photo.media_type,
            )

    def _complete(self, principal: Principal, upload: UploadRecord, hasher: Any) -> UploadOutcome:
        """Every byte is in: check the whole against the declared sha256, then keep it
        (a worker thread's part). The thumbnail is not made here: it is made when first
        asked for, so the phone's last answer waits only for the bytes to be synced."""
        digest = hasher.hexdigest()
        if digest != upload.sha256:
            self._drop(upload)
            log.warning("upload_hash_mismatch", upload_id=upload.id)
            raise _problem(
                ErrorCode.PHOTO_HASH_MISMATCH,
                f"the bytes hash to {digest}, not to the sha256 declared; nothing was kept",
            )
        with self.storage.open_part_file(upload.id) as source:
            media_type = sniff(source.read(SNIFF_BYTES))
            if media_type is None:  # pragma: no cover - judged on the first bytes already
                self._drop(upload)
                raise _problem(ErrorCode.UNSUPPORTED_IMAGE_TYPE, "not an accepted image format")
            source.seek(0)
            facts = images.read_facts(source)  # the headers only, whatever the photo's size
        photo = PhotoRecord(
            sha256=upload.sha256,
            size=upload.length,
            media_type=media_type,
            width=facts.width,
            height=facts.height,
            taken_at=facts.taken_at,
            lat=facts.lat,
            lon=facts.lon,
            uploaded_by=upload.user_id,
            received_at=self._now(),
        )
        actor = Actor(user_id=principal.user_id, device_id=principal.device_id)
        with self._content:
            self.storage.promote(upload.id, upload.sha256)
            stored = self.store.complete_upload(upload.id, photo, actor)
        upload.state = UploadState.COMPLETE
        upload.media_type = stored.media_type
        return UploadOutcome(upload=upload, photo=stored)

    # -- termination ---------------------------------------------------------------------

    async def terminate(self, principal: Principal, upload_id: str) -> None:
        upload = await self._thread(self.store.get_upload, upload_id)
        if upload is None or upload.user_id != principal.user_id:
            raise NotFound("no such upload", headers=base_headers())
        if upload.state == UploadState.COMPLETE:
            raise ConflictError(
                "a complete upload is a stored photo, which is evidence and stays",
                headers=base_headers(),
            )
        lock = await self._lock(upload_id)
        if lock is None:
            raise _locked_problem()
        self._hashers.pop(upload_id, None)

        def terminate() -> None:
            self.store.delete_upload(upload_id)
            self.storage.discard_part(upload_id)

        try:
            await self._thread(terminate)
        finally:
            await self._unlock(lock)  # gone with the record, unless it stayed

    # -- upkeep --------------------------------------------------------------------------

    def sweep(self) -> tuple[int, int]:
        """Remove expired unfinished uploads, and photos no visit log claimed in time:
        (uploads removed, photos removed). Runs in a worker thread. An upload a request of
        any process holds locked stays: the sweep takes each one's lock before it drops
        its bytes, and the lock goes with the record."""
        now = self._now()
        holder = self._holder()
        uploads = 0
        while batch := self.store.expired_uploads(now):
            taken = [
                u for u in batch if self.store.lock_upload(u.id, holder, LOCK_LEASE) is not None
            ]
            for upload in taken:
                self._hashers.pop(upload.id, None)
                self.storage.discard_part(upload.id)
            uploads += self.store.delete_uploads([u.id for u in taken])
            if len(batch) < 500 or not taken:
                break
        photos = 0
        cutoff = now - self.expiry
        for sha256 in self.store.unclaimed_photos(cutoff):
            with self._content:
                if self.store.remove_unclaimed_photo(sha256, cutoff):
                    self.storage.remove_photo(sha256)
                    photos += 1
        if uploads or photos:
            log.info("uploads_swept", uploads=uploads, photos=photos)
        return uploads, photos
