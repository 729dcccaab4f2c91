"""Shared by the benchmarks: start the real server on 127.0.0.1, log people in."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def demo_server(
    db: Path | str, *, history_days: int | None = None, workers: int = 1, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`beatsync serve --demo` on a fresh database, quiet, with cheap password hashing so
    that logging in hundreds of benchmark phones takes seconds, not minutes. history_days:
    the city's past lived on first start (None: the command's own default, 35 days).
    db: a SQLite file or a PostgreSQL URL; workers: `--workers`."""
    port = free_port()
    environment = {
        **os.environ,
        "BEATSYNC_LOG_LEVEL": "warning",
        "BEATSYNC_ARGON2_TIME_COST": "1",
        "BEATSYNC_ARGON2_MEMORY_KIB": "1024",
        "BEATSYNC_ACCESS_TOKEN_TTL": "3600",
        **env,
    }
    past = [] if history_days is None else ["--history-days", str(history_days)]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--demo",
            "--db",
            str(db),
            "--port",
            str(port),
            "--feed-interval",
            "86400",
            *past,
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    # Seeding the city's past comes before serving: a few seconds per week of it.
    deadline = time.monotonic() + 30 + 2 * (35 if history_days is None else history_days)
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"server exited {server.returncode} before serving")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def officer_grids(db: Path | str) -> dict[str, list[str]]:
    """Demo officer login -> the grid codes they answer for."""
    query = (
        "SELECT u.login, g.code FROM grids g JOIN users u"
        " ON u.id = g.officer_id ORDER BY u.login, g.code"
    )
    if str(db).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(db)) as pg:
            rows: list[tuple[str, str]] = pg.execute(query).fetchall()
    else:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(query).fetchall()
    out: dict[str, list[str]] = {}
    for login, code in rows:
        out.setdefault(login, []).append(code)
    return out


def login(base: str, who: str, device: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"login": who, "password": "demo", "device_id": device},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def platform_token(base: str) -> str:
    from server.demo import DEMO_PLATFORM_SECRET

    response = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"client_id": "platform", "client_secret": DEMO_PLATFORM_SECRET},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and every process below it: `beatsync serve --workers N`
    is a supervisor and N workers."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in family}
        grew = not below <= family
        family |= below
    total = 0.0
    for member in family:
        try:
            total += process_cpu(member)
        except OSError:
            continue
    return total


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (its backends, writer and
    WAL writer): the database's share of a request, where it runs beside the server."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                total += process_cpu(int(comm.parent.name))
        except OSError:
            continue
    return total


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
