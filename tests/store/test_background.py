"""Work handed off after a commit (the WAL checkpoint, photo claims) never holds up the
store's close: a server stopping, or a test ending, does not wait out the pause between
two runs."""

from __future__ import annotations

import threading

from server.store.background import BackgroundTask


def test_closing_during_the_pause_between_runs_ends_the_thread_at_once() -> None:
    ran = threading.Event()
    task = BackgroundTask("test-task", ran.set, pause_s=60.0)
    task.poke()
    assert ran.wait(5)
    closing = threading.Thread(target=task.close)
    closing.start()
    closing.join(5)  # far below the 60 s pause the thread is in
    assert not closing.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "test-task"]


def test_a_commit_during_a_run_is_served_by_another_run() -> None:
    runs: list[int] = []
    working, go_on, second = threading.Event(), threading.Event(), threading.Event()

    def work() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            working.set()
            go_on.wait(5)
        else:
            second.set()

    task = BackgroundTask("test-task", work, pause_s=0.01)
    task.poke()
    assert working.wait(5)
    task.poke()  # a commit lands while the first run works
    go_on.set()
    assert second.wait(5)
    task.close()
    assert runs[:2] == [0, 1]
