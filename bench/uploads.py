"""Photo uploads: 20 MB photos sent over tus beside a plain loopback copy of the same
bytes, by the reference phone (clients/device) and by a bare tus client, and the server's
peak memory while photos go up in 256 KiB chunks, one and then ten at once.

    .venv/bin/python -m bench.uploads [--runs 3]

The server is the real `beatsync serve --demo` process on 127.0.0.1. The plain copy sends
the same bytes over a loopback TCP socket to a receiver that writes them to a file and
syncs it, as the server's storage does with a photo: the floor under any upload (target:
at least half its speed).

The phone rows are the reference client as it is on a good network: a fresh app run (so
its chunk window starts at 256 KiB, knowing nothing of the network, and doubles with every
chunk acknowledged, up to 32 MiB), each chunk with its sha256, the upload URL and the
outcome kept in its own database, the phone's copy removed once the server holds the
photo. Timed is `upload_photos()`, from creation to the last byte stored and synced on
the server; taking the photo (copying it into the app's folder) is not. The next row is
the same app's next photo, its window grown past the photo already, so it goes whole.

The bare tus rows time creation and PATCHes from a client that holds the photo in memory
and knows its sha256 (a phone hashed it when it was taken): 256 KiB chunks with their
sha256 (what phones sent before the window), 4 MiB chunks, and the whole photo in one
PATCH, without and with its checksum (the server checks the photo's sha256 either way).
Each upload is a different photo (the server would otherwise complete a known one at
once).

Memory is the server's VmHWM (peak resident set) grown by one 20 MB photo in 256 KiB
chunks (bound: a few MB) and by ten sent at once (bound: a few tens of MB), as
tests/uploads/test_memory.py asserts.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import demo_server, free_port, login
from clients.device import DeviceClient

PHOTO = 20 * 1024 * 1024
MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
OFFICER = "officer-411602-01-1"


def base_photo() -> bytes:
    """A real JPEG of noise (about the size a phone writes), padded to 20 MB less 64 bytes
    after its end marker."""
    rng = random.Random(20261125)
    side = 3700
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    data = out.getvalue()[: PHOTO - 64]
    return data + rng.randbytes(PHOTO - 64 - len(data))


def variant(photo: bytes, n: int) -> bytes:
    return photo + n.to_bytes(64, "big")


def loopback_copy(data: bytes, directory: Path) -> float:
    """Seconds to send `data` over a loopback socket into a synced file."""
    port = free_port()
    ready = threading.Event()
    done = threading.Event()

    def receive() -> None:
        with socket.create_server(("127.0.0.1", port)) as server:
            ready.set()
            conn, _ = server.accept()
            with conn, (directory / "copy.bin").open("wb") as out:
                left = len(data)
                buffer = bytearray(256 * 1024)
                view = memoryview(buffer)
                while left:
                    n = conn.recv_into(view, min(len(buffer), left))
                    if not n:
                        break
                    out.write(view[:n])
                    left -= n
                out.flush()
                os.fsync(out.fileno())
                conn.sendall(b"k")
        done.set()

    thread = threading.Thread(target=receive)
    thread.start()
    ready.wait()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as client:
        view = memoryview(data)
        for offset in range(0, len(data), 256 * 1024):
            client.sendall(view[offset : offset + 256 * 1024])
        client.recv(1)
    elapsed = time.perf_counter() - started
    thread.join()
    return elapsed


def upload(http: httpx.Client, data: bytes, chunk: int, checksum: bool) -> float:
    # Known before the upload starts, as on a phone: the photo was hashed when it was taken.
    digest = hashlib.sha256(data).hexdigest()
    started = time.perf_counter()
    created = http.post(
        "/api/v1/uploads/",
        headers={
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": "sha256 " + base64.b64encode(digest.encode()).decode(),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    view = memoryview(data)
    for offset in range(0, len(data), chunk):
        # The whole photo goes as it is; a part is copied out, as a client reading a file.
        body = data if chunk >= len(data) else bytes(view[offset : offset + chunk])
        headers = {
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        }
        if checksum:
            # A chunk that is the whole photo has the photo's own sha256 (see the phone).
            whole = bytes.fromhex(digest) if body is data else hashlib.sha256(body).digest()
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(whole).decode()
        response = http.patch(url, headers=headers, content=body)
        assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    return time.perf_counter() - started


def phone_uploads(base: str, directory: Path, photos: list[bytes]) -> list[float]:
    """Seconds the reference phone takes for each photo, in one app run."""
    with DeviceClient(base, directory / "phone.db", "bench-phone", timeout=60) as app:
        if app.local.access_token() is None:
            app.login(OFFICER, "demo")
        times = []
        for photo in photos:
            app.add_photo(photo, "door.jpg")  # taken at the door: not timed
            started = time.perf_counter()
            summary = app.upload_photos()
            times.append(time.perf_counter() - started)
            assert summary.uploaded == 1, summary
        return times


def peak_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def row(label: str, mb: float, took: float, copy: float) -> str:
    return (
        f"{label:44s} {mb / took:7.1f} MB/s  ({took * 1000:4.0f} ms,"
        f" {copy / took:4.0%} of the plain copy)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    photo = base_photo()
    mb = len(photo) / 1e6
    with tempfile.TemporaryDirectory(prefix="beatsync-bench-") as tmp:
        directory = Path(tmp)
        copies: list[float] = []
        with demo_server(directory / "bench.db") as (base, server):
            token = login(base, OFFICER, "bench-phone-1")
            n = 0
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as http:
                upload(http, variant(photo, n), 256 * 1024, True)  # warm-up
                phone_uploads(base, directory, [variant(photo, 1)])  # and the phone's
                first, next_ = [], []
                # The copy and the phone take turns, so both see the same machine.
                for run in range(args.runs):
                    copies.append(loopback_copy(photo, directory))
                    n = 10 + 2 * run
                    times = phone_uploads(
                        base, directory, [variant(photo, n), variant(photo, n + 1)]
                    )
                    first.append(times[0])
                    next_.append(times[1])
                copy = statistics.median(copies)
                print(f"photo: {len(photo):,} bytes (a JPEG), median of {args.runs} runs")
                print(
                    f"{'plain loopback copy to a synced file':44s} {mb / copy:7.1f} MB/s"
                    f"  ({copy * 1000:4.0f} ms)"
                )
                print(
                    row(
                        "phone (clients/device), first photo of a run",
                        mb,
                        statistics.median(first),
                        copy,
                    )
                )
                print(row("phone, next photo (window grown)", mb, statistics.median(next_), copy))
                n = 100
                for label, chunk, checksum in (
                    ("tus, 256 KiB chunks + sha256", 256 * 1024, True),
                    ("tus, 4 MiB chunks + sha256", 4 * MIB, True),
                    ("tus, one PATCH, no checksum", PHOTO, False),
                    ("tus, one PATCH + sha256", PHOTO, True),
                ):
                    times = []
                    for _ in range(args.runs):
                        n += 1
                        times.append(upload(http, variant(photo, n), chunk, checksum))
                    print(row(label, mb, statistics.median(times), copy))
                _, before = peak_kib(server.pid)
                upload(http, variant(photo, 200), 256 * 1024, True)
                _, one = peak_kib(server.pid)
            rss, _ = peak_kib(server.pid)

            def one_of_ten(k: int) -> float:
                with httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
                ) as client:
                    return upload(client, variant(photo, 1000 + k), 256 * 1024, True)

            started = time.perf_counter()
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(one_of_ten, range(10)))
            wall = time.perf_counter() - started
            _, ten = peak_kib(server.pid)
            print(
                f"server memory (256 KiB chunks): {rss / 1024:.0f} MiB resident, peak"
                f" {before / 1024:.0f} MiB; one photo +{(one - before) / 1024:.1f} MiB,"
                f" ten at once +{(ten - before) / 1024:.1f} MiB over the peak before"
                f" ({10 * mb / wall:.1f} MB/s in all)"
            )


if __name__ == "__main__":
    main()
