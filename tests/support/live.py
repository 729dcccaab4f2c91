"""The real server as a process on 127.0.0.1, and a network between it and a client that
drops connections the way village networks do.

For clients that bring their own HTTP stack (tuspy on requests, tus-js-client on node,
the device SDK on httpx): they need a socket, and a cut-off needs a real connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from litestar import Litestar

from server.auth.passwords import Passwords
from server.clock import SystemClock
from server.store.opening import open_store
from tests.support import postgres
from tests.support.backend import BACKEND
from tests.support.city import PASSWORD, build_tiny_city

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Litestar) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process, so a
    story can read a stream as it comes (or cut a connection) and still reach the app's
    store and clock; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        # As `beatsync serve` runs it: the client's address is beatsync's own rule.
        proxy_headers=False,
        lifespan="on",
        # Open event streams never end by themselves: do not wait for them at the end.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start serving")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


class LiveServer:
    """`beatsync serve` on a tiny city's database; stop and start it like an operator."""

    def __init__(
        self,
        directory: Path,
        *,
        beside: LiveServer | None = None,
        backend: str = BACKEND,
        **env: str,
    ) -> None:
        """beside: another server whose database (and photo folder) this one shares, as a
        second process or node of the same beatsync does. backend "postgres": a database
        of its own on the test PostgreSQL server (tests/support/postgres.py); by default, the
        backend this run's stories use."""
        self.db = beside.db if beside is not None else directory / "live.db"
        self.backend = beside.backend if beside is not None else backend
        if beside is not None:
            self.location = beside.location
        elif self.backend == "postgres":
            self.location = postgres.database_for(directory)
        else:
            self.location = str(self.db)
        if beside is None:
            store = open_store(self.location, SystemClock())
            build_tiny_city(store, Passwords(time_cost=1, memory_kib=1024))
            store.close()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "BEATSYNC_ENV": "test",
            "BEATSYNC_LOG_LEVEL": "warning",
            "BEATSYNC_ACCESS_TOKEN_TTL": "3600",
            "BEATSYNC_MAINTENANCE_INTERVAL": "0",
            "BEATSYNC_ESCALATION_INTERVAL": "0",
            # Shared by every process, as the photo folder of several nodes must be.
            "BEATSYNC_PHOTO_DIR": str(self.photo_dir),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / f"server-{self.port}.log"

    @property
    def photo_dir(self) -> Path:
        return self.db.with_name("live-photos")

    def start(self) -> LiveServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server.cli",
                    "serve",
                    "--db",
                    self.location,
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """kill -9: no shutdown, no last write; what was committed is what is left."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def token(self, login: str, device: str = "live-phone-1") -> str:
        response = httpx.post(
            f"{self.base}/api/v1/auth/login",
            json={"login": login, "password": PASSWORD, "device_id": device},
            timeout=30,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


class FlakyProxy:
    """A TCP proxy on 127.0.0.1 that cuts each connection after a random number of bytes
    sent towards the server (a few hundred KB by default), both ways at once, as a weak
    mobile network does. Seeded, so a failure reproduces."""

    def __init__(
        self, target_port: int, *, seed: int, low: int = 150_000, high: int = 600_000
    ) -> None:
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.low, self.high = low, high
        self.port = free_port()
        self.cuts = 0
        self.bytes_up = 0
        self.enabled = True
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except (OSError, asyncio.CancelledError):
            writer.close()
            return
        budget = self.rng.randint(self.low, self.high) if self.enabled else None

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            nonlocal budget
            try:
                while data := await src.read(65536):
                    if count:
                        self.bytes_up += len(data)
                    if count and budget is not None:
                        if len(data) >= budget:
                            dst.write(data[:budget])
                            await dst.drain()
                            self.cuts += 1
                            raise ConnectionResetError("cut")
                        budget -= len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            finally:
                for w in (writer, up_writer):
                    with contextlib.suppress(Exception):
                        w.transport.abort()  # a reset, not a polite close
                    w.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
