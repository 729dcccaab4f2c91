"""Backups an operator takes while the server runs, and puts back while it is stopped.

`take` copies the database with SQLite's online backup API, in one step: it reads one
consistent snapshot (a read transaction in WAL mode) while the server goes on writing,
and the copy is a single self-contained file. Then it copies the photos that the copy's
`photos` table names. Photos are content-addressed and never change once stored, so
copying them after the snapshot cannot catch one half-written, and every photo the copy
knows is there unless the sweep removed it meanwhile (only a photo no visit claimed; the
manifest lists it as missing). Unfinished uploads are not copied: a phone resumes them.

A backup folder holds:

    manifest.json                  what was copied, when, sizes, migrations, checksums
    <database file name>           the database
    photos/photos/<ab>/<cd>/<sha>  each photo, laid out as in BEATSYNC_PHOTO_DIR
    photos/thumbnails/<ab>/<sha>.jpg

`restore` puts both back into the places the settings name; it refuses a database or
photo folder that holds anything unless forced, and must only run while no server uses
them (a running server would go on with its own copy open and its log beside it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from server.store.sqlite import migrations

MANIFEST = "manifest.json"
FORMAT = 1
PHOTOS = "photos"
_BLOCK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore cannot be done as asked; nothing was changed."""


@dataclass(frozen=True)
class Manifest:
    data: dict[str, Any]

    @property
    def database_file(self) -> str:
        name: str = self.data["database"]["file"]
        return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _photo_parts(sha256: str) -> tuple[Path, Path]:
    """Where a photo and its thumbnail live under a photo folder (server/uploads/storage.py)."""
    return (
        Path("photos") / sha256[:2] / sha256[2:4] / sha256,
        Path("thumbnails") / sha256[:2] / f"{sha256}.jpg",
    )


def _copy_database(source: Path, target: Path) -> None:
    # Not mode=ro: a read-only connection to a WAL database cannot always open its index.
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        # pages=-1: one step, so one read transaction and one consistent snapshot. In
        # steps, every commit of the running server would restart the copy.
        src.backup(dst, pages=-1)
        # A file on its own: no write-ahead log to carry beside it.
        dst.execute("PRAGMA journal_mode = DELETE")
        verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":  # pragma: no cover - the source itself is damaged
            raise BackupError(f"the copy fails SQLite's quick_check: {verdict}")
    finally:
        dst.close()
        src.close()


def _facts(database: Path) -> tuple[list[str], int, list[str]]:
    """(migrations applied, the sequence's head, sha256 of every stored photo)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        applied = migrations.applied(Database(conn))
        row = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        photos = [r[0] for r in conn.execute("SELECT sha256 FROM photos ORDER BY sha256")]
    finally:
        conn.close()
    return applied, int(row[0]) if row else 0, photos


def take(database: str, photo_dir: str, dest: str, *, now: datetime | None = None) -> Manifest:
    """Copy the database and its photos into `dest` (a new or empty folder)."""
    source = Path(database)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not an empty folder; give a new one per backup")
    target.mkdir(parents=True, exist_ok=True)
    started = now or datetime.now(UTC)
    db_copy = target / source.name
    _copy_database(source, db_copy)
    applied, seq, shas = _facts(db_copy)
    photo_root = Path(photo_dir)
    copied = 0
    copied_bytes = 0
    missing: list[str] = []
    for sha in shas:
        photo, thumbnail = _photo_parts(sha)
        if not (photo_root / photo).is_file():
            missing.append(sha)
            continue
        for part in (photo, thumbnail):
            if (photo_root / part).is_file():
                (target / PHOTOS / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(photo_root / part, target / PHOTOS / part)
        copied += 1
        copied_bytes += (target / PHOTOS / photo).stat().st_size
    data = {
        "format": FORMAT,
        "taken_at": started.isoformat(),
        "finished_at": (now or datetime.now(UTC)).isoformat(),
        "source": {"database": str(source.resolve()), "photos": str(photo_root.resolve())},
        "database": {
            "file": db_copy.name,
            "bytes": db_copy.stat().st_size,
            "sha256": _sha256(db_copy),
            "seq": seq,
            "migrations": applied,
        },
        "photos": {"count": copied, "bytes": copied_bytes, "missing": missing},
    }
    (target / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")
    return Manifest(data)


def read_manifest(src: str) -> Manifest:
    path = Path(src) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: not a beatsync backup ({exc})") from exc
    if data.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {data.get('format')!r}, not {FORMAT}")
    return Manifest(data)


def _holds_something(path: Path) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    return path.exists() and path.stat().st_size > 0


def _in_use(path: Path) -> bool:
    """Whether a process has the database open: in WAL mode every open connection holds
    a shared lock on the file, so an exclusive one is refused at once."""
    if not path.is_file():
        return False
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:
        return False  # not a database at all: nothing runs on it
    finally:
        conn.close()
    return False


def restore(src: str, database: str, photo_dir: str, *, force: bool = False) -> Manifest:
    """Put a backup back at `database` and `photo_dir`. The server must be stopped."""
    manifest = read_manifest(src)
    backup_db = Path(src) / manifest.database_file
    if not backup_db.is_file():
        raise BackupError(f"{backup_db} is missing from the backup")
    if _sha256(backup_db) != manifest.data["database"]["sha256"]:
        raise BackupError(f"{backup_db} does not match its checksum in the manifest")
    target = Path(database)
    photos = Path(photo_dir)
    for place in (target, photos):
        if _holds_something(place) and not force:
            raise BackupError(f"{place} is not empty; pass --force to replace it")
    if _in_use(target):
        raise BackupError(f"{target} is open in another process: stop the server first")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(backup_db, staged)
    # A log or index left by the database this one replaces would be read as this one's.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    staged_photos = photos.with_name(photos.name + ".restoring")
    shutil.rmtree(staged_photos, ignore_errors=True)
    if (Path(src) / PHOTOS).is_dir():
        shutil.copytree(Path(src) / PHOTOS, staged_photos)
    else:
        staged_photos.mkdir(parents=True)
    if photos.exists():
        shutil.rmtree(photos)
    os.replace(staged_photos, photos)
    return manifest
