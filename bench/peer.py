"""beatsync beside pouchdb-server (issue 13, target 4): one workload, both servers, one run.

Installs `pouchdb-server` from npm into a throwaway folder (or uses `--pouchdb-prefix`,
an earlier install), starts it on 127.0.0.1 (LevelDB backend, files in that temporary
folder), starts `beatsync serve --demo` on a fresh database (the demo city without its
history), and runs the same workload on each, beatsync then pouchdb-server, phase by
phase, with C = 1 and C = 8 concurrent clients:

1. push `--records` records of about 500 bytes in batches of 100 (each client its share):
   beatsync: `POST /api/v1/sync/push` with `record_visit` mutations, as `bench.sync` builds
   them, for tasks the phone holds (each client an officer of its own);
   pouchdb-server: `POST /db/_bulk_docs` with the same mutations as documents (`_id` the
   mutation id), into a database of its own for each C;
2. full pull of `--records` records by each of the C clients at once, from nothing, in
   pages of the largest size each allows: beatsync: `GET /api/v1/sync/pull?limit=500`
   (the API's maximum), C devices of one officer whose scope holds `--records` warnings;
   pouchdb-server: `GET /db/_changes?include_docs=true&since=...` of the database pushed
   in step 1, without `limit` (CouchDB has no maximum; `--couch-page` sets one), and, as
   an extra line, in pages of 500 like beatsync's;
3. delta pull, `--delta-rounds` rounds: one new record (beatsync: the platform delivers a
   warning to that officer's grid; pouchdb-server: `PUT /db/{id}`), then the C clients at
   once pull from their cursor (beatsync `?cursor=`, pouchdb-server `?since=`); p99.

Rates are records over the wall time of all C clients together. The load generator
(asyncio and httpx, one client pool of at least C connections per server) and both
servers share this machine. Prints a table and the targets' verdicts: beatsync's push
and full pull at least 1.5 times pouchdb-server's, its delta p99 at most pouchdb-server's.

    python -m bench.peer [--records 20000] [--delta-rounds 200] [--pouchdb-prefix DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.common import (
    demo_server,
    free_port,
    login,
    officer_grids,
    percentile,
    platform_token,
)
from bench.sync import BATCH, ingest, visit_batch
from server.demo import random_warning

CONCURRENCY = (1, 8)
BEATSYNC_PAGE = 500  # MAX_PULL_LIMIT of GET /api/v1/sync/pull
PUSH_RATIO = 1.5
VISITS_PER_TASK = 10


def install_pouchdb(prefix: Path) -> Path:
    """`npm install pouchdb-server` into prefix (unless there already); its executable."""
    binary = prefix / "node_modules" / ".bin" / "pouchdb-server"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("pouchdb-server cannot be installed: npm is not on PATH")
    command = [npm, "install", "--prefix", str(prefix), "pouchdb-server", "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(
            f"pouchdb-server cannot be installed: {' '.join(command)} took over 600 s"
        ) from exc
    if done.returncode != 0 or not binary.exists():
        raise SystemExit(
            f"pouchdb-server cannot be installed: {' '.join(command)} exited {done.returncode}"
            f"\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return binary


@contextmanager
def pouchdb_server(binary: Path, folder: Path) -> Iterator[str]:
    """pouchdb-server on 127.0.0.1 on a free port, its databases and log in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.json"
    log = folder / "log.txt"
    config.write_text(json.dumps({"log": {"file": str(log), "level": "error"}}))
    port = free_port()
    output = folder / "stdout.txt"
    with output.open("wb") as out:
        server = subprocess.Popen(
            [
                str(binary),
                "-p",
                str(port),
                "-o",
                "127.0.0.1",
                "-d",
                str(folder),
                "-c",
                str(config),
                "-n",
            ],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit(
                    f"pouchdb-server did not start: it exited {server.returncode}\n"
                    + output.read_text(errors="replace")[-3000:]
                )
            try:
                if httpx.get(f"{base}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(
                "pouchdb-server did not start: no answer on "
                f"{base}/ in 30 s\n" + output.read_text(errors="replace")[-3000:]
            )
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


@dataclass
class Figures:
    push: dict[int, float] = field(default_factory=dict)  # records/s
    pull: dict[int, float] = field(default_factory=dict)
    pull_bytes: dict[int, float] = field(default_factory=dict)  # per record
    delta: dict[int, list[float]] = field(default_factory=dict)  # seconds
    pull_paged: dict[int, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def pool(c: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=c + 1, max_keepalive_connections=c + 1)
    return httpx.AsyncClient(timeout=300, limits=limits)


async def wall(jobs: list[Any]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    results = await asyncio.gather(*jobs)
    return time.perf_counter() - started, results


# beatsync


@dataclass
class Phone:
    headers: dict[str, str]
    cursor: str | None = None


async def beatsync_push(
    client: httpx.AsyncClient, base: str, phone: Phone, bodies: list[bytes]
) -> dict[str, int]:
    statuses: dict[str, int] = {}
    headers = {**phone.headers, "content-type": "application/json"}
    for body in bodies:
        response = await client.post(f"{base}/api/v1/sync/push", content=body, headers=headers)
        response.raise_for_status()
        for result in response.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return statuses


async def beatsync_pull(
    client: httpx.AsyncClient, base: str, phone: Phone
) -> tuple[int, int, list[float]]:
    """Pull from phone.cursor to the end: changes, bytes, each page's latency."""
    changes = size = 0
    latencies: list[float] = []
    while True:
        params: dict[str, Any] = {"limit": BEATSYNC_PAGE}
        if phone.cursor:
            params["cursor"] = phone.cursor
        started = time.perf_counter()
        response = await client.get(
            f"{base}/api/v1/sync/pull", params=params, headers=phone.headers
        )
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        page = msgspec.json.decode(response.content)
        changes += len(page["changes"])
        size += len(response.content)
        phone.cursor = page["cursor"]
        if not page["has_more"]:
            return changes, size, latencies


async def beatsync_deliver(
    client: httpx.AsyncClient, base: str, platform: dict[str, str], grid: str, tag: str
) -> None:
    item = random_warning(random.Random(tag), [grid], 0, datetime.now(UTC))
    item["platform_id"] = tag
    item["grid_code"] = grid
    response = await client.post(
        f"{base}/api/v1/platform/warnings", json={"warnings": [item]}, headers=platform
    )
    response.raise_for_status()


async def beatsync_phase(
    base: str, c: int, bodies: list[list[bytes]], pushers: list[Phone], pullers: list[Phone],
    platform: dict[str, str], grid: str, rounds: int, out: Figures,
) -> None:  # fmt: skip
    records = sum(len(b) for b in bodies) * BATCH
    async with pool(c) as client:
        took, statuses = await wall(
            [beatsync_push(client, base, p, b) for p, b in zip(pushers, bodies, strict=True)]
        )
        out.push[c] = records / took
        merged: dict[str, int] = {}
        for s in statuses:
            for k, v in s.items():
                merged[k] = merged.get(k, 0) + v
        if set(merged) - {"applied", "conflict"}:
            out.notes.append(f"beatsync push, C={c}: verdicts {merged}")
        took, pulled = await wall([beatsync_pull(client, base, p) for p in pullers])
        total = sum(n for n, _, _ in pulled)
        out.pull[c] = total / took
        out.pull_bytes[c] = sum(b for _, b, _ in pulled) / total
        latencies: list[float] = []
        for r in range(rounds):
            await beatsync_deliver(client, base, platform, grid, f"peer-delta-{c}-{r}")
            _, pulled = await wall([beatsync_pull(client, base, p) for p in pullers])
            for n, _, pages in pulled:
                if n < 1:
                    raise SystemExit("beatsync: a delta pull saw no change")
                latencies += pages
        out.delta[c] = latencies


# pouchdb-server


async def couch_push(client: httpx.AsyncClient, url: str, bodies: list[bytes]) -> int:
    failed = 0
    for body in bodies:
        response = await client.post(
            f"{url}/_bulk_docs", content=body, headers={"content-type": "application/json"}
        )
        response.raise_for_status()
        failed += sum(1 for r in response.json() if not r.get("ok"))
    return failed


@dataclass
class Reader:
    since: Any = 0


async def couch_pull(
    client: httpx.AsyncClient, url: str, reader: Reader, page: int
) -> tuple[int, int, list[float]]:
    changes = size = 0
    latencies: list[float] = []
    while True:
        params: dict[str, Any] = {"include_docs": "true", "since": reader.since}
        if page:
            params["limit"] = page
        started = time.perf_counter()
        response = await client.get(f"{url}/_changes", params=params)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        body = msgspec.json.decode(response.content)
        changes += len(body["results"])
        size += len(response.content)
        reader.since = body["last_seq"]
        if not page or len(body["results"]) < page:
            return changes, size, latencies


async def couch_phase(
    base: str, c: int, bodies: list[list[bytes]], page: int, rounds: int, out: Figures
) -> None:
    url = f"{base}/bench-c{c}"
    records = sum(len(b) for b in bodies) * BATCH
    async with pool(c) as client:
        (await client.put(url)).raise_for_status()
        took, failed = await wall([couch_push(client, url, b) for b in bodies])
        out.push[c] = records / took
        if sum(failed):
            out.notes.append(f"pouchdb-server push, C={c}: {sum(failed)} documents not ok")
        readers = [Reader() for _ in range(c)]
        took, pulled = await wall([couch_pull(client, url, r, page) for r in readers])
        total = sum(n for n, _, _ in pulled)
        out.pull[c] = total / took
        out.pull_bytes[c] = sum(b for _, b, _ in pulled) / total
        if c == 1:
            took, pulled = await wall([couch_pull(client, url, Reader(), BEATSYNC_PAGE)])
            out.pull_paged[c] = sum(n for n, _, _ in pulled) / took
        doc = msgspec.json.decode(bodies[0][0])["docs"][0]
        latencies: list[float] = []
        for r in range(rounds):
            doc["_id"] = f"peer-delta-{c}-{r}"
            response = await client.put(f"{url}/{doc['_id']}", json=doc)
            response.raise_for_status()
            _, pulled = await wall([couch_pull(client, url, reader, page) for reader in readers])
            for n, _, pages in pulled:
                if n < 1:
                    raise SystemExit("pouchdb-server: a delta pull saw no change")
                latencies += pages
        out.delta[c] = latencies


def couch_bodies(bodies: list[bytes]) -> list[bytes]:
    out = []
    for body in bodies:
        docs = msgspec.json.decode(body)["mutations"]
        for doc in docs:
            doc["_id"] = doc["mutation_id"]
        out.append(msgspec.json.encode({"docs": docs}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="a multiple of 800")
    parser.add_argument("--delta-rounds", type=int, default=200)
    parser.add_argument(
        "--couch-page", type=int, default=0, help="_changes limit (0: none, CouchDB's largest)"
    )
    parser.add_argument(
        "--pouchdb-prefix", type=Path, help="an npm prefix with pouchdb-server (else: a new one)"
    )
    args = parser.parse_args()
    records = args.records // (BATCH * max(CONCURRENCY)) * BATCH * max(CONCURRENCY)
    if records < BATCH * max(CONCURRENCY):
        raise SystemExit(f"--records: at least {BATCH * max(CONCURRENCY)}")
    started = time.perf_counter()
    beatsync, couch = Figures(), Figures()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = args.pouchdb_prefix or Path(tmp) / "npm"
        t = time.perf_counter()
        binary = install_pouchdb(prefix)
        install_s = time.perf_counter() - t
        version = json.loads(
            (prefix / "node_modules" / "pouchdb-server" / "package.json").read_text()
        )["version"]
        db = Path(tmp) / "bench.db"
        with (
            pouchdb_server(binary, Path(tmp) / "pouchdb") as couch_base,
            demo_server(db, history_days=0) as (
                base,
                _,
            ),
        ):
            grids = officer_grids(db)
            officers = sorted(grids)
            platform = platform_token(base)
            reader_officer = officers[-1]
            ingest(base, platform, grids[reader_officer], records, "peer-scope")
            used = 0
            for c in CONCURRENCY:
                pushers, bodies = [], []
                for i in range(c):
                    officer = officers[used]
                    used += 1
                    device = f"bench-peer-push-{c}-{i}"
                    share = records // c // BATCH
                    tasks = ingest(
                        base,
                        platform,
                        grids[officer],
                        max(BATCH, share * BATCH // VISITS_PER_TASK),
                        f"peer-push-{c}-{i}",
                    )
                    token = login(base, officer, device)
                    pushers.append(Phone({"Authorization": f"Bearer {token}"}))
                    bodies.append([visit_batch(device, tasks, n) for n in range(share)])
                pullers = [
                    Phone(
                        {
                            "Authorization": "Bearer "
                            + login(base, reader_officer, f"bench-peer-pull-{c}-{i}")
                        }
                    )
                    for i in range(c)
                ]
                # Fresh mutations for pouchdb-server: the same shape, ids of their own.
                docs = [
                    couch_bodies(
                        [visit_batch(f"bench-peer-couch-{c}-{i}", [1], n) for n in range(len(b))]
                    )
                    for i, b in enumerate(bodies)
                ]
                asyncio.run(
                    beatsync_phase(
                        base,
                        c,
                        bodies,
                        pushers,
                        pullers,
                        {"Authorization": f"Bearer {platform}"},
                        grids[reader_officer][0],
                        args.delta_rounds,
                        beatsync,
                    )
                )
                asyncio.run(
                    couch_phase(couch_base, c, docs, args.couch_page, args.delta_rounds, couch)
                )
    report(args, records, beatsync, couch, version, install_s, time.perf_counter() - started)


def report(
    args: argparse.Namespace,
    records: int,
    beatsync: Figures,
    couch: Figures,
    version: str,
    install_s: float,
    took: float,
) -> None:
    c1, c8 = CONCURRENCY
    couch_page = args.couch_page or "all (no limit)"
    print(
        f"beatsync beside pouchdb-server {version} (LevelDB) ({datetime.now(UTC):%Y-%m-%d});"
        " both servers and the load generator on this machine"
    )
    print(
        f"{records} records of about 500 bytes; push in batches of {BATCH}; full pull pages:"
        f" beatsync {BEATSYNC_PAGE}, pouchdb-server {couch_page}; delta: {args.delta_rounds}"
        " rounds of one new record, then C clients pull at once"
    )
    header = (
        f"{'':16s}{'push rec/s':>12s}{'':>10s}{'full pull rec/s':>16s}{'':>10s}"
        f"{'delta p99 ms':>13s}{'':>8s}{'bytes/rec':>10s}"
    )
    print(header)
    print(f"{'':16s}{'C=1':>12s}{'C=8':>10s}{'C=1':>16s}{'C=8':>10s}{'C=1':>13s}{'C=8':>8s}")
    for name, f in (("beatsync", beatsync), ("pouchdb-server", couch)):
        print(
            f"{name:16s}{f.push[c1]:12.0f}{f.push[c8]:10.0f}{f.pull[c1]:16.0f}{f.pull[c8]:10.0f}"
            f"{percentile(f.delta[c1], 99) * 1000:13.1f}{percentile(f.delta[c8], 99) * 1000:8.1f}"
            f"{statistics.mean(f.pull_bytes.values()):10.0f}"
        )
    print(
        f"  (pouchdb-server full pull in pages of {BEATSYNC_PAGE}, C=1:"
        f" {couch.pull_paged[c1]:.0f} rec/s; delta p50 ms, C=1 and C=8: beatsync "
        + ", ".join(f"{statistics.median(beatsync.delta[c]) * 1000:.1f}" for c in CONCURRENCY)
        + ", pouchdb-server "
        + ", ".join(f"{statistics.median(couch.delta[c]) * 1000:.1f}" for c in CONCURRENCY)
        + ")"
    )
    print("targets:")
    for c in CONCURRENCY:
        for what, ours, theirs in (
            ("push", beatsync.push[c], couch.push[c]),
            ("full pull", beatsync.pull[c], couch.pull[c]),
        ):
            ratio = ours / theirs
            verdict = "met" if ratio >= PUSH_RATIO else "NOT met"
            print(
                f"  {what}, C={c}: beatsync {ratio:.2f} x pouchdb-server's"
                f" (target >= {PUSH_RATIO:g}): {verdict}"
            )
        ours, theirs = percentile(beatsync.delta[c], 99), percentile(couch.delta[c], 99)
        verdict = "met" if ours <= theirs else "NOT met"
        print(
            f"  delta p99, C={c}: beatsync {ours * 1000:.1f} ms, pouchdb-server"
            f" {theirs * 1000:.1f} ms (target: beatsync <= pouchdb-server): {verdict}"
        )
    for note in beatsync.notes + couch.notes:
        print(f"note: {note}")
    print(f"took {took:.0f} s, of which installing pouchdb-server {install_s:.0f} s")


if __name__ == "__main__":
    main()
