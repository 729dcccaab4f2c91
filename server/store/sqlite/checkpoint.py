"""Moving the write-ahead log back into the database file, off the writer's path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so one
unlucky push waits for megabytes to be copied and synced. Here the writer only pokes a
background task after each commit; it runs PASSIVE checkpoints on a connection of its
own, which never block the writer or a reader. The writer keeps a much higher automatic
threshold as a backstop, so the log stays bounded even if the task falls behind.
"""

from __future__ import annotations

import sqlite3

from server.store.background import BackgroundTask

# Commits arriving within this pause share one checkpoint: a page that several of them
# wrote (a task row, the tail of an index, a counter) is copied once. The checkpoint's
# own CPU per push of 100 (bench.push_engine's pushes, medians of 3): 0.93 ms at 0.05 s,
# 0.54 ms at 0.25 s; the log holds a quarter of a second of writes at most.
PAUSE_S = 0.25
# Pages in the log before the writer checkpoints by itself (4 KiB pages: 64 MiB).
BACKSTOP_PAGES = 16_384


def wal_checkpointer(path: str) -> BackgroundTask:
    # One connection for the store's life, opened at the first checkpoint: the thread that
    # uses it may end when idle and another take over, never two at once.
    held: list[sqlite3.Connection] = []

    def checkpoint() -> None:
        if not held:
            held.append(
                sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
            )
        held[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close() -> None:
        while held:
            held.pop().close()

    return BackgroundTask("wal-checkpoint", checkpoint, PAUSE_S, on_close=close)
