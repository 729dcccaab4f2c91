"""The least SQLite work a push of 100 visit logs can do on this machine: the floor.

No merge engine, no audit chain, no scope change per officer, no checksum, no claims, no
secondary index: per visit only the four rows that any design must write (the visit log,
the task it changes, a change-log row for the phones, the idempotency record), built as
plain tuples and written with one statement per table in one transaction, the way
`bench/sync.py`'s phones push them (8 officers' tasks, 100 distinct tasks a push).
`bench/sync.py` prints it beside the push target, so that the budget the target leaves
per push can be read against what SQLite alone takes.

    python -m bench.push_floor [--pushes 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from sync.ids import new_id

BATCH = 100
OFFICERS = 8
TASKS_PER_OFFICER = 200
SCHEMA = (
    "CREATE TABLE tasks (id INTEGER PRIMARY KEY, state TEXT, version INTEGER, seq INTEGER,"
    " updated_at TEXT, details TEXT)",
    "CREATE TABLE visits (seq INTEGER PRIMARY KEY, entry_id TEXT UNIQUE, task_id INTEGER,"
    " officer_id INTEGER, mutation_id TEXT, recorded_at TEXT, received_at TEXT,"
    " arrived_at TEXT, contact TEXT, outcome TEXT, amount_prevented INTEGER, notes TEXT,"
    " lat REAL, lon REAL, accuracy_m REAL, photos TEXT, hlc TEXT)",
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY, officer_id INTEGER, task_id INTEGER, op TEXT)",
    "CREATE TABLE mutations (user_id INTEGER, mutation_id TEXT, content_hash TEXT,"
    " result TEXT, PRIMARY KEY (user_id, mutation_id)) WITHOUT ROWID",
)


def floor(pushes: int = 200) -> list[float]:
    """Seconds per push of 100 visit logs, each push its own transaction."""
    return floor_run(pushes)[0]


def floor_run(pushes: int = 200) -> tuple[list[float], float]:
    """(seconds per push, seconds of the checkpoint that copies what the log still holds
    at the end into the database).

    The mean push with that last checkpoint's share is the floor's whole cost of a push,
    its checkpoints included: SQLite runs one inside the commit that fills the log past
    its 1,000 pages, which the median push leaves out. An engine's CPU per push that
    counts its own checkpoints (bench/push_engine.py) is compared with that cost."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        try:
            times = _run(conn, pushes)
            started = time.perf_counter()
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return times, time.perf_counter() - started
        finally:
            conn.close()


def whole_cost(times: list[float], last_checkpoint: float) -> float:
    """Seconds a push, checkpoints included (see floor_run)."""
    return (sum(times) + last_checkpoint) / len(times)


def _run(conn: sqlite3.Connection, pushes: int) -> list[float]:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in SCHEMA:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO tasks VALUES (?, 'dispatched', 1, 0, '', ?)",
        [(i, "x" * 400) for i in range(1, OFFICERS * TASKS_PER_OFFICER + 1)],
    )
    seq, times = 0, []
    for push in range(pushes):
        officer = push % OFFICERS
        first = (push // OFFICERS) * BATCH
        tasks = [
            officer * TASKS_PER_OFFICER + 1 + (first + i) % TASKS_PER_OFFICER for i in range(BATCH)
        ]
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    seq + i,
                    new_id(),
                    task,
                    officer,
                    new_id(),
                    "2026-11-25T01:30:00.000000+00:00",
                    "2026-11-25T01:31:00.000000+00:00",
                    "2026-11-25T01:20:00.000000+00:00",
                    "face_to_face",
                    "dissuaded",
                    5000,
                    "劝阻成功，已卸载诈骗APP",
                    33.62,
                    114.65,
                    12.0,
                    f'["{"a" * 64}"]',
                    f"{1_764_057_600_000 + i:018d}-00000-phone-{officer:04d}",
                )
                for i, task in enumerate(tasks)
            ],
        )
        conn.executemany(
            "UPDATE tasks SET state = 'completed', version = version + 1, seq = ?,"
            " updated_at = ? WHERE id = ?",
            [(seq + i, "2026-11-25T01:31:00.000000+00:00", task) for i, task in enumerate(tasks)],
        )
        conn.executemany(
            "INSERT INTO changes VALUES (?, ?, ?, 'upsert')",
            [(seq + BATCH + i, officer, task) for i, task in enumerate(tasks)],
        )
        conn.executemany(
            "INSERT INTO mutations VALUES (?, ?, ?, ?)",
            [(officer, new_id(), "0" * 64, '{"status":"applied"}') for _ in tasks],
        )
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
        seq += 2 * BATCH
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes", type=int, default=200)
    args = parser.parse_args()
    times, last = floor_run(args.pushes)
    print(f"push floor, the bare SQLite writes of {args.pushes} pushes of {BATCH} visit logs:")
    print(
        f"  median {statistics.median(times) * 1000:.2f} ms a push"
        f"   ({BATCH / statistics.median(times):.0f} visit logs/s on one core)"
        f"   mean with its checkpoints {whole_cost(times, last) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
