"""Photos from the phone to the server: tus 1.0.0 uploads that resume, never restart.

A photo taken at the door is copied into the app's own folder and queued under its
sha256 (clients/device/local.py, table `photos`); the visit entry names it by that hash.
Uploading creates a tus upload with the sha256 in its metadata (a photo the server has
already completes at once), then PATCHes it in chunks, each with its own sha256
checksum. When the network drops, it asks where the upload stands (HEAD) and goes on
from there; the upload URL is kept in the local database, so a killed app resumes too.
A photo is marked `done` only when the server answers that it holds all of it.

The chunk size follows the network, the way TCP's congestion window does (ChunkWindow):
it starts small on a network the app does not know yet, doubles after every chunk the
server acknowledges, up to a cap, and halves when a chunk is cut off or arrives damaged.
A phone in town sends a 20 MB photo in a handful of requests; a phone in a village, where
the connection drops every few hundred kilobytes, settles on chunks that get through, so
that each drop costs one small chunk, sent again from where the server stands.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from clients.device.auth import problem_of
from clients.device.backoff import RETRY_STATUSES, RetryPolicy
from clients.device.errors import ServerUnreachable
from clients.device.local import LocalStore
from sync.photos import sniff

UPLOADS_PATH = "/api/v1/uploads/"
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
# The first chunk on a network the app knows nothing of yet; the smallest and the largest
# the window goes to. A chunk is held in memory whole (it is hashed before it is sent).
CHUNK_BYTES = 256 * 1024
MIN_CHUNK_BYTES = 64 * 1024
# Above the server's default photo limit (20 MB): on a good network a photo goes whole.
MAX_CHUNK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class UploadSummary:
    uploaded: int = 0  # sent, and the server confirmed it holds every byte
    already_there: int = 0  # the server had it: no byte travelled
    rejected: int = 0  # refused for good (see LocalStore.photo(sha256)["code"])
    resumed: int = 0  # times an upload went on from where the server stood


class ChunkWindow:
    """How many bytes the next PATCH carries.

    Like TCP's congestion window: doubles after each acknowledged chunk, up to `cap`, and
    halves after a chunk that failed (cut off, timed out, damaged), down to `floor`. Below
    the size that last failed it grows by a quarter at a time rather than doubling, so a
    village network that drops every 300 KB is not sent a 512 KB chunk every other time;
    once a chunk that large gets through, the failure is forgotten and it doubles again.
    """

    def __init__(self, start: int, *, floor: int, cap: int) -> None:
        if not 0 < floor <= start <= cap:
            raise ValueError("chunk sizes must satisfy 0 < floor <= start <= cap")
        self.size = start
        self.floor = floor
        self.cap = cap
        self._failed_at: int | None = None

    def acknowledged(self) -> None:
        self.size, self._failed_at = self.if_acknowledged(), self._standing_failure()

    def if_acknowledged(self) -> int:
        """The size once the chunk in flight is acknowledged."""
        failed_at = self._standing_failure()
        gentle = failed_at is not None and self.size * 2 >= failed_at
        return min(self.cap, self.size + self.size // 4 if gentle else self.size * 2)

    def _standing_failure(self) -> int | None:
        # A chunk as large as the one that failed got through: that failure is forgotten.
        if self._failed_at is not None and self.size >= self._failed_at:
            return None
        return self._failed_at

    def failed(self) -> None:
        self._failed_at = self.size
        self.size = max(self.floor, self.size // 2)


def _read_chunk(path: Path, offset: int, size: int, whole: str | None = None) -> tuple[bytes, str]:
    """The bytes [offset, offset + size) of the photo and their Upload-Checksum. `whole`:
    the photo's own sha256 (hex), which is the checksum of a chunk that is the whole
    photo; if the file changed since, the server refuses the photo's hash anyway."""
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read(size)
    digest = bytes.fromhex(whole) if whole else hashlib.sha256(chunk).digest()
    return chunk, f"sha256 {base64.b64encode(digest).decode()}"


class _Chunks:
    """The chunks of one photo, each read and hashed while the one before is on its way:
    hashing (0.6 ms a MB on a desktop CPU's SHA-256 unit, more on most phones) overlaps
    the network and the server's work instead of adding to them. A guess that proves
    wrong (the chunk failed and the window shrank) is dropped and the chunk read again."""

    def __init__(self, path: Path, size: int, sha256: str, pool: ThreadPoolExecutor) -> None:
        self.path = path
        self.size = size
        self.sha256 = sha256
        self._pool = pool
        self._ahead: tuple[int, int, Future[tuple[bytes, str]]] | None = None

    def get(self, offset: int, size: int) -> tuple[bytes, str]:
        size = min(size, self.size - offset)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[:2] == (offset, size):
            return ahead[2].result()
        return _read_chunk(self.path, offset, size, self._whole(offset, size))

    def _whole(self, offset: int, size: int) -> str | None:
        return self.sha256 if offset == 0 and size == self.size else None

    def prepare(self, offset: int, size: int) -> None:
        size = min(size, self.size - offset)
        if size > 0:
            whole = self._whole(offset, size)
            self._ahead = (
                offset,
                size,
                self._pool.submit(_read_chunk, self.path, offset, size, whole),
            )


class _Retry(Exception):
    """This attempt failed in a way that another attempt may not."""

    def __init__(self, message: str, *, network: bool = False) -> None:
        super().__init__(message)
        # The network lost or damaged the bytes (not the server refusing for now).
        self.network = network


class _Restart(Exception):
    """The server forgot the upload (expired, discarded): create a new one."""


class PhotoUploader:
    def __init__(
        self,
        http: httpx.Client,
        local: LocalStore,
        folder: Path,
        *,
        retry: RetryPolicy,
        delay: Callable[[int], None],
        checked: Callable[[httpx.Response], httpx.Response],
        chunk_bytes: int = CHUNK_BYTES,
        min_chunk_bytes: int = MIN_CHUNK_BYTES,
        max_chunk_bytes: int = MAX_CHUNK_BYTES,
    ) -> None:
        self.http = http
        self.local = local
        self.folder = folder
        self.retry = retry
        self.delay = delay
        self.checked = checked
        # One window for every photo of this app run: the network does not change with the
        # photo. A new run starts small again: the phone may be somewhere else by then.
        self.window = ChunkWindow(
            chunk_bytes,
            floor=min(min_chunk_bytes, chunk_bytes),
            cap=max(max_chunk_bytes, chunk_bytes),
        )

    # -- taking a photo ------------------------------------------------------------------

    def add(self, source: str | Path | bytes, filename: str | None, now_ms: int) -> str:
        """Copy the photo into the app's folder (synced, then renamed into place) and queue
        it; returns its sha256, which the visit entry names."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        filetype = sniff(data[:12])
        if filetype is None:
            raise ValueError("not a JPEG, PNG, HEIC/HEIF or WebP photo")
        digest = hashlib.sha256(data).hexdigest()
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / digest
        if not target.exists():
            temp = self.folder / f".{digest}.{secrets.token_hex(4)}"
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        if filename is None:
            filename = Path(source).name if not isinstance(source, bytes) else f"{digest[:12]}"
        self.local.add_photo(digest, str(target), len(data), filename, filetype, now_ms)
        return digest

    # -- sending -------------------------------------------------------------------------

    def upload_all(self) -> UploadSummary:
        uploaded = already = rejected = resumed = 0
        with ThreadPoolExecutor(1, thread_name_prefix="photo-chunks") as pool:
            for photo in self.local.photos_to_upload():
                outcome, resumes = self._upload(photo, pool)
                resumed += resumes
                uploaded += outcome == "uploaded"
                already += outcome == "already_there"
                rejected += outcome == "rejected"
        return UploadSummary(
            uploaded=uploaded, already_there=already, rejected=rejected, resumed=resumed
        )

    def _upload(self, photo: dict[str, Any], pool: ThreadPoolExecutor) -> tuple[str, int]:
        """Send one photo to the end, resuming after every failure, up to the retry
        policy's attempts in a row without progress; then ServerUnreachable (the upload
        URL is kept: the next call resumes)."""
        sha256, size = photo["sha256"], int(photo["size"])
        chunks = _Chunks(Path(photo["path"]), size, sha256, pool)
        url: str | None = photo["upload_url"]
        failures = resumes = 0
        sent_any = False
        offset: int | None = None
        while True:
            try:
                if url is None:
                    chunks.prepare(0, self.window.size)  # while the upload is created
                    url, offset = self._create(photo)
                    self.local.save_upload_url(sha256, url)
                    if offset == size and not sent_any:
                        return self._done(photo, "already_there"), resumes
                if offset is None:
                    offset = self._offset(url)
                    resumes += 1
                while offset < size:
                    before = offset
                    offset = self._patch(url, chunks, offset)
                    sent_any = True
                    if offset > before:
                        failures = 0
                return self._done(photo, "uploaded"), resumes
            except _Restart:
                url, offset = None, None
                self.local.save_upload_url(sha256, None)
            except _Retry as exc:
                if exc.network:
                    self.window.failed()
                offset = None  # ask the server where it stands before going on
                failures += 1
                if failures >= self.retry.attempts:
                    raise ServerUnreachable(f"photo {sha256[:12]}: {exc}") from None
                self.delay(failures - 1)
            except _Refused as refused:
                self.local.settle_photo(sha256, "rejected", refused.code)
                return "rejected", resumes

    def _done(self, photo: dict[str, Any], outcome: str) -> str:
        self.local.settle_photo(photo["sha256"], "done")
        # The server holds the evidence now; the phone's copy is only taking space.
        Path(photo["path"]).unlink(missing_ok=True)
        return outcome

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}", network=True) from None
        status = response.status_code
        # 409: the offset moved (a cut-off PATCH kept some bytes); 423: the server still
        # writes the cut-off one; 460: a chunk damaged on the way. All: ask, then go on.
        if status in RETRY_STATUSES or status in (409, 423, 460):
            raise _Retry(f"HTTP {status}", network=status == 460)
        if status in (404, 410):
            raise _Restart
        if status in (413, 415, 422):
            problem = problem_of(response)
            raise _Refused(str(problem.get("code") or f"http_{status}"))
        return self.checked(response)  # a wipe, a lost session, a bug: the app's to handle

    def _create(self, photo: dict[str, Any]) -> tuple[str, int]:
        metadata = ",".join(
            f"{key} {base64.b64encode(str(value).encode()).decode()}"
            for key, value in (
                ("sha256", photo["sha256"]),
                ("filename", photo["filename"]),
                ("filetype", photo["filetype"]),
            )
        )
        response = self._request(
            "POST",
            UPLOADS_PATH,
            headers={**TUS, "Upload-Length": str(photo["size"]), "Upload-Metadata": metadata},
        )
        location = response.headers.get("location")
        if response.status_code != 201 or not location:
            raise _Retry(f"creation answered {response.status_code}")
        return location, int(response.headers.get("upload-offset") or 0)

    def _offset(self, url: str) -> int:
        response = self._request("HEAD", url, headers=TUS)
        return int(response.headers["upload-offset"])

    def _patch(self, url: str, chunks: _Chunks, offset: int) -> int:
        chunk, checksum = chunks.get(offset, self.window.size)
        chunks.prepare(offset + len(chunk), self.window.if_acknowledged())
        response = self._request(
            "PATCH",
            url,
            headers={
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": OFFSET_TYPE,
                "Upload-Checksum": checksum,
            },
            content=chunk,
        )
        now_at = int(response.headers["upload-offset"])
        if now_at == offset + len(chunk):
            self.window.acknowledged()
        return now_at


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)
