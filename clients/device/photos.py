"""Photos from the phone to the server: tus 1.0.0 uploads that resume, never restart.

A photo taken at the door is copied into the app's own folder and queued under its
sha256 (clients/device/local.py, table `photos`); the visit entry names it by that hash.
Uploading creates a tus upload with the sha256 in its metadata (a photo the server has
already completes at once), then PATCHes it in chunks, each with its own sha256
checksum. When the network drops, it asks where the upload stands (HEAD) and goes on
from there; the upload URL is kept in the local database, so a killed app resumes too.
A photo is marked `done` only when the server answers that it holds all of it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
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
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class UploadSummary:
    uploaded: int = 0  # sent, and the server confirmed it holds every byte
    already_there: int = 0  # the server had it: no byte travelled
    rejected: int = 0  # refused for good (see LocalStore.photo(sha256)["code"])
    resumed: int = 0  # times an upload went on from where the server stood


class _Retry(Exception):
    """This attempt failed in a way that another attempt may not."""


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
    ) -> None:
        self.http = http
        self.local = local
        self.folder = folder
        self.retry = retry
        self.delay = delay
        self.checked = checked
        self.chunk_bytes = chunk_bytes

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
        for photo in self.local.photos_to_upload():
            outcome, resumes = self._upload(photo)
            resumed += resumes
            uploaded += outcome == "uploaded"
            already += outcome == "already_there"
            rejected += outcome == "rejected"
        return UploadSummary(
            uploaded=uploaded, already_there=already, rejected=rejected, resumed=resumed
        )

    def _upload(self, photo: dict[str, Any]) -> tuple[str, int]:
        """Send one photo to the end, resuming after every failure, up to the retry
        policy's attempts in a row without progress; then ServerUnreachable (the upload
        URL is kept: the next call resumes)."""
        sha256, size = photo["sha256"], int(photo["size"])
        url: str | None = photo["upload_url"]
        failures = resumes = 0
        sent_any = False
        offset: int | None = None
        while True:
            try:
                if url is None:
                    url, offset = self._create(photo)
                    self.local.save_upload_url(sha256, url)
                    if offset == size and not sent_any:
                        return self._done(photo, "already_there"), resumes
                if offset is None:
                    offset = self._offset(url)
                    resumes += 1
                while offset < size:
                    before = offset
                    offset = self._patch(url, photo, offset)
                    sent_any = True
                    if offset > before:
                        failures = 0
                return self._done(photo, "uploaded"), resumes
            except _Restart:
                url, offset = None, None
                self.local.save_upload_url(sha256, None)
            except _Retry as exc:
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
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        # 409: the offset moved (a cut-off PATCH kept some bytes); 423: the server still
        # writes the cut-off one; 460: a chunk damaged on the way. All: ask, then go on.
        if status in RETRY_STATUSES or status in (409, 423, 460):
            raise _Retry(f"HTTP {status}")
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

    def _patch(self, url: str, photo: dict[str, Any], offset: int) -> int:
        with Path(photo["path"]).open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(self.chunk_bytes)
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        response = self._request(
            "PATCH",
            url,
            headers={
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": OFFSET_TYPE,
                "Upload-Checksum": f"sha256 {digest}",
            },
            content=chunk,
        )
        return int(response.headers["upload-offset"])


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)
