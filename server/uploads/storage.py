"""Where photo bytes live: the PhotoStorage interface and its local-filesystem version.

The routes and the service know only PhotoStorage. An S3-compatible store is a second
implementation of it, without a change elsewhere:

- a part (the bytes of an unfinished upload) is appended to in steps; each step is
  written, then committed or aborted as a whole (an object per committed step, or a
  multipart upload, on S3);
- `promote` turns a part whose sha256 was verified into the photo stored under that
  sha256, atomically, and never replaces a photo already stored;
- photos are read whole or by byte range; they are never changed, only removed, and
  only by the sweep of photos that no visit log claims.

The filesystem version keeps, under its root:

    parts/<upload id>              the bytes of an unfinished upload
    photos/<ab>/<cd>/<sha256>      a stored photo, read-only, named by its content
    thumbnails/<ab>/<sha256>.jpg   its thumbnail, metadata stripped
    tmp/                           files being written, renamed into place once synced
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

READ_BLOCK = 256 * 1024
# A part's bytes are handed to the disk in steps of this size as they are written (see
# _start_writeback), so that the sync when the photo is kept finds little left to do.
WRITEBACK_BYTES = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class PartWriter(Protocol):
    """One step of appending to a part: write, then commit or abort."""

    def write(self, data: bytes) -> None: ...
    def commit(self) -> None:
        """Make what was written part of the upload."""
        ...

    def abort(self) -> None:
        """Drop everything written since the step began."""
        ...

    def close(self) -> None:
        """Stop, neither keeping nor dropping what was written: the step lost its upload's
        lock, and the part is another request's now (the next step drops what a step
        never committed, see open_part)."""
        ...


class PhotoStorage(Protocol):
    def open_part(self, upload_id: str, offset: int) -> PartWriter:
        """Begin a step of appending at `offset`: bytes held past it are dropped first.
        Raises ValueError if fewer than `offset` bytes are held."""
        ...

    def part_size(self, upload_id: str) -> int:
        """Bytes held for the unfinished upload (0 when none)."""
        ...

    def read_part(
        self, upload_id: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]: ...

    def open_part_file(self, upload_id: str) -> BinaryIO:
        """The held bytes as a seekable file, for reading an image's metadata."""
        ...

    def discard_part(self, upload_id: str) -> None: ...
    def promote(self, upload_id: str, sha256: str) -> None:
        """Store the part as the photo `sha256`, durably and atomically. If that photo is
        stored already, the part is dropped and the photo left as it is."""
        ...

    def has_photo(self, sha256: str) -> bool: ...
    def photo_size(self, sha256: str) -> int: ...
    def read_photo(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the photo, in blocks."""
        ...

    def open_photo_file(self, sha256: str) -> BinaryIO:
        """The photo as a seekable file, for decoding a thumbnail."""
        ...

    def remove_photo(self, sha256: str) -> None: ...
    def put_thumbnail(self, sha256: str, data: bytes) -> None: ...
    def get_thumbnail(self, sha256: str) -> bytes | None: ...


def _check_sha(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError("not a sha256")
    return sha256


def _check_id(upload_id: str) -> str:
    if not _UPLOAD_ID.match(upload_id):
        raise ValueError("not an upload id")
    return upload_id


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a range of dirty pages to disk, without waiting for it.

    On Linux, POSIX_FADV_DONTNEED begins writeback of the dirty pages in the range (and
    drops only pages that are clean already, so the bytes just written stay cached).
    Whatever is on disk by the time the photo is kept is not waited for then: a 20 MB
    photo's fsync falls from about 10 ms to about 1. Elsewhere it is a harmless hint.
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


class _FilePartWriter:
    def __init__(self, path: Path, offset: int) -> None:
        self._offset = offset
        self._position = offset
        self._handed = offset  # bytes before this are on their way to the disk
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(self._fd).st_size
            if size < offset:
                raise ValueError(f"part holds {size} bytes, not {offset}")
            if size > offset:  # bytes written by a step that never committed
                os.ftruncate(self._fd, offset)
            os.lseek(self._fd, offset, os.SEEK_SET)
        except BaseException:
            os.close(self._fd)
            raise

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._position += len(data)
        if self._position - self._handed >= WRITEBACK_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._position > self._handed:
            _start_writeback(self._fd, self._handed, self._position - self._handed)
            self._handed = self._position

    def commit(self) -> None:
        # No fsync per step: the upload's record follows the file (a crash that loses the
        # tail shortens the part, and the offset is read back from its size), and the
        # photo's sha256 is checked over every byte before it is kept, synced.
        try:
            self._hand_over()
        finally:
            os.close(self._fd)

    def abort(self) -> None:
        try:
            os.ftruncate(self._fd, self._offset)
        finally:
            os.close(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class FileSystemStorage:
    """PhotoStorage on a local directory (by default beside the database)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._parts = self.root / "parts"
        self._photos = self.root / "photos"
        self._thumbs = self.root / "thumbnails"
        self._tmp = self.root / "tmp"
        for folder in (self._parts, self._photos, self._thumbs, self._tmp):
            folder.mkdir(parents=True, exist_ok=True)

    # -- parts ---------------------------------------------------------------------------

    def _part(self, upload_id: str) -> Path:
        return self._parts / _check_id(upload_id)

    def open_part(self, upload_id: str, offset: int) -> PartWriter:
        return _FilePartWriter(self._part(upload_id), offset)

    def part_size(self, upload_id: str) -> int:
        # Opened, not only stat'ed: on a network file system (NFS) opening a file checks
        # with the server what another node wrote and closed (close-to-open consistency),
        # where a bare stat may answer from an attribute cache seconds old, and a step
        # another node committed would look lost (the phone would resend it).
        try:
            fd = os.open(self._part(upload_id), os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def read_part(self, upload_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return _read(self._part(upload_id), start, end)

    def open_part_file(self, upload_id: str) -> BinaryIO:
        return self._part(upload_id).open("rb")

    def discard_part(self, upload_id: str) -> None:
        self._part(upload_id).unlink(missing_ok=True)

    def promote(self, upload_id: str, sha256: str) -> None:
        part = self._part(upload_id)
        target = self._photo(sha256)
        if not part.exists():
            if target.exists():
                return  # promoted before a crash kept its record from being written
            raise FileNotFoundError(f"no bytes held for upload {upload_id}")
        with part.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(part, 0o444)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # link, not rename: it never replaces a photo stored meanwhile.
            os.link(part, target)
        except FileExistsError:
            pass
        else:
            _fsync_dir(target.parent)
        part.unlink()

    # -- photos --------------------------------------------------------------------------

    def _photo(self, sha256: str) -> Path:
        _check_sha(sha256)
        return self._photos / sha256[:2] / sha256[2:4] / sha256

    def has_photo(self, sha256: str) -> bool:
        return self._photo(sha256).exists()

    def photo_size(self, sha256: str) -> int:
        return self._photo(sha256).stat().st_size

    def read_photo(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return _read(self._photo(sha256), start, end)

    def open_photo_file(self, sha256: str) -> BinaryIO:
        return self._photo(sha256).open("rb")

    def remove_photo(self, sha256: str) -> None:
        self._photo(sha256).unlink(missing_ok=True)
        self._thumb(sha256).unlink(missing_ok=True)

    def _thumb(self, sha256: str) -> Path:
        _check_sha(sha256)
        return self._thumbs / sha256[:2] / f"{sha256}.jpg"

    def put_thumbnail(self, sha256: str, data: bytes) -> None:
        target = self._thumb(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self._tmp / f"{sha256}.{secrets.token_hex(4)}.jpg"
        try:
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        _fsync_dir(target.parent)

    def get_thumbnail(self, sha256: str) -> bytes | None:
        try:
            return self._thumb(sha256).read_bytes()
        except FileNotFoundError:
            return None


def _read(path: Path, start: int, end: int | None) -> Iterator[bytes]:
    if end is not None and end <= start:
        return
    with path.open("rb") as handle:
        handle.seek(start)
        left = None if end is None else max(0, end - start)
        while left is None or left > 0:
            block = handle.read(READ_BLOCK if left is None else min(READ_BLOCK, left))
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block
