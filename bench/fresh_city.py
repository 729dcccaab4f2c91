"""Seed the demo city into a new database before `bench.common.demo_server` starts on it.

`beatsync serve --demo` lives 35 days of the city's past on first start (about 20 s
here). A benchmark that wants the city without that history, or with fewer days, seeds it
first, as `beatsync serve --demo --history-days N` would: the server then finds a city
already there and starts in about a second.
"""

from __future__ import annotations

from pathlib import Path

import bench.common  # noqa: F401  (puts the repository root on sys.path)


def seed_city(db: Path, history_days: int = 0) -> None:
    from server.auth.passwords import Passwords
    from server.demo_history import seed_demo
    from server.logs import configure_logging
    from server.settings import load_settings

    configure_logging(json=False, level="warning")

    # The same cheap password hashing as bench.common.demo_server's server.
    passwords = Passwords(time_cost=1, memory_kib=1024)
    seed_demo(load_settings(database_path=str(db)), passwords, history_days=history_days)
