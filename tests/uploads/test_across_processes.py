"""Uploads across processes: two apps, each with its own store opened on the one database
(the SQLite file, or PostgreSQL) and its own photo storage on the one shared folder, as
two processes of `beatsync serve` (or two nodes) have. An upload begun through one is
resumed through the other, and a request through either waits for the other's lock
(server/uploads/service.py)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from server.uploads.service import LOCK_LEASE, UploadService
from tests.support.api import as_user, assert_problem
from tests.support.photos import TUS, jpeg, sha256
from tests.uploads.test_tus_protocol import append, created, offset_of

pytestmark = pytest.mark.anyio
# Another process's request, as the lock names it: host, pid, random part, request.
ELSEWHERE = "node-b:4242:5eed0000:1"


@pytest.fixture
def other_store(database: str, clock: ManualClock) -> Iterator[Store]:
    the_store = open_store(database, clock)
    yield the_store
    the_store.close()


@pytest.fixture
def other_app(
    settings: Settings, other_store: Store, clock: ManualClock, passwords: Passwords, city: Any
) -> Litestar:
    return create_app(settings, store=other_store, clock=clock, passwords=passwords)


@pytest.fixture
async def other_client(other_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=other_app, client=("10.0.0.8", 50000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://beatsync.test", timeout=10
    ) as c:
        yield c


@pytest.fixture
async def o1(client: httpx.AsyncClient, city: Any) -> dict[str, str]:
    return await as_user(client, "o1")


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def uploads_of(app: Litestar) -> UploadService:
    service: UploadService = app.state.uploads
    return service


def stored_photo(settings: Settings, digest: str) -> bytes:
    [path] = (Path(settings.photo_path) / "photos").rglob(digest)
    return path.read_bytes()


def part(settings: Settings, url: str) -> Path:
    return Path(settings.photo_path) / "parts" / upload_id(url)


async def slowly(pieces: list[bytes], between: Callable[[], None]) -> AsyncIterator[bytes]:
    """A body that arrives piece by piece, with time passing (`between`) after each."""
    for piece in pieces:
        yield piece
        between()


async def test_an_upload_begun_through_one_process_is_finished_through_another(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    o1: dict[str, str],
    app: Litestar,
    other_app: Litestar,
    settings: Settings,
    other_store: Store,
) -> None:
    assert uploads_of(app).storage.root == uploads_of(other_app).storage.root  # type: ignore[attr-defined]
    data = jpeg()
    digest = sha256(data)
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:70_000])).status_code == 204
    # The phone's connection moves to the other process (a restart, a balancer).
    assert await offset_of(other_client, o1, url) == 70_000
    response = await append(other_client, o1, url, 70_000, data[70_000:150_000])
    assert response.status_code == 204, response.text
    # And back again: the first process's running hash stopped at 70,000; it rebuilds it.
    assert await offset_of(client, o1, url) == 150_000
    response = await append(client, o1, url, 150_000, data[150_000:])
    assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    stored = stored_photo(settings, digest)
    assert stored == data
    assert hashlib.sha256(stored).hexdigest() == digest
    photo = other_store.get_photo(digest)
    assert photo is not None
    assert (photo.size, photo.media_type) == (len(data), "image/jpeg")
    assert await offset_of(other_client, o1, url) == len(data)
    assert not part(settings, url).exists()


async def test_a_cached_running_hash_is_not_trusted_once_another_process_wrote_the_upload(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    o1: dict[str, str],
    settings: Settings,
    store: Store,
) -> None:
    """The first process keeps the running hash of the bytes it took; the tail of those
    bytes is lost (a crash of the shared disk), the other process finds it so, and takes
    other bytes up to the same offset. The first, resuming there, must hash what the part
    holds now: the photo is refused, never stored under a sha256 its bytes do not have."""
    data = jpeg()
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:100_000])).status_code == 204
    with part(settings, url).open("r+b") as handle:
        handle.truncate(60_000)
    assert await offset_of(other_client, o1, url) == 60_000
    other = bytearray(data[60_000:100_000])
    other[0] ^= 0xFF
    assert (await append(other_client, o1, url, 60_000, bytes(other))).status_code == 204
    response = await append(client, o1, url, 100_000, data[100_000:])
    assert_problem(response, 422, "photo_hash_mismatch")
    assert store.get_photo(sha256(data)) is None
    assert list((Path(settings.photo_path) / "photos").rglob("*.*")) == []


async def test_a_request_waits_for_the_lock_another_process_holds_until_its_lease_passes(
    client: httpx.AsyncClient,
    o1: dict[str, str],
    app: Litestar,
    settings: Settings,
    other_store: Store,
    clock: ManualClock,
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:1000])).status_code == 204
    # A request of another process is writing to it: taken through the store, as that
    # request took it.
    assert other_store.lock_upload(upload_id(url), ELSEWHERE, LOCK_LEASE) is not None
    response = await append(client, o1, url, 1000, data[1000:])
    assert_problem(response, 423, "upload_locked")
    assert response.headers["tus-resumable"] == "1.0.0"
    # Reading where it stands needs no lock: it waits a while (HEAD_WAIT) for the holder
    # to let go, then answers with the offset as it stands.
    assert await offset_of(client, o1, url) == 1000
    assert_problem(await client.delete(url, headers={**o1, **TUS}), 423, "upload_locked")
    # That process died mid-request (kill -9): nobody frees the lock; its lease passes.
    clock.advance(seconds=LOCK_LEASE.total_seconds() - 1)
    assert_problem(await append(client, o1, url, 1000, data[1000:]), 423, "upload_locked")
    clock.advance(seconds=1)
    response = await append(client, o1, url, 1000, data[1000:])
    assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    assert stored_photo(settings, sha256(data)) == data
    assert uploads_of(app).receiving == 0


async def test_where_to_resume_is_told_after_the_cut_off_step_is_kept_not_before(
    client: httpx.AsyncClient,
    o1: dict[str, str],
    settings: Settings,
    other_store: Store,
) -> None:
    """A phone whose PATCH the network cut asks at once where to resume, while the
    server's side of that PATCH (here in another process) is still keeping what arrived,
    which under load takes a while. Told the offset from before it, the phone would send
    those bytes again over its mobile data; it is told the offset after it."""
    data = jpeg()
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:1000])).status_code == 204
    held = other_store.lock_upload(upload_id(url), ELSEWHERE, LOCK_LEASE)
    assert held is not None
    with part(settings, url).open("ab") as handle:
        handle.write(data[1000:50_000])

    async def keep_what_arrived_and_let_go() -> None:
        await anyio.sleep(0.3)
        other_store.advance_upload(upload_id(url), 1000, 50_000, held.expires_at, held.media_type)
        other_store.unlock_upload(upload_id(url), ELSEWHERE)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(keep_what_arrived_and_let_go)
        assert await offset_of(client, o1, url) == 50_000
    response = await append(client, o1, url, 50_000, data[50_000:])
    assert response.status_code == 204, response.text
    assert stored_photo(settings, sha256(data)) == data


async def test_the_sweep_leaves_an_expired_upload_that_another_process_holds(
    client: httpx.AsyncClient,
    o1: dict[str, str],
    app: Litestar,
    settings: Settings,
    other_store: Store,
    clock: ManualClock,
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:1000])).status_code == 204
    clock.advance(hours=settings.upload_expiry_hours, seconds=1)
    # A request that began just before the expiry is still at it, in another process.
    assert other_store.lock_upload(upload_id(url), ELSEWHERE, LOCK_LEASE) is not None
    assert uploads_of(app).sweep() == (0, 0)
    assert part(settings, url).stat().st_size == 1000
    other_store.unlock_upload(upload_id(url), ELSEWHERE)
    assert uploads_of(app).sweep() == (1, 0)
    assert not part(settings, url).exists()
    assert other_store.get_upload(upload_id(url)) is None


async def test_the_lock_is_renewed_while_a_slow_body_arrives(
    client: httpx.AsyncClient,
    o1: dict[str, str],
    settings: Settings,
    other_store: Store,
    clock: ManualClock,
) -> None:
    data = jpeg()
    url = await created(client, o1, data)
    pieces = [data[i : i + 40_000] for i in range(0, len(data), 40_000)]
    assert len(pieces) >= 4
    refused: list[bool] = []

    def a_while_later() -> None:
        clock.advance(seconds=25)  # over the whole body, minutes: many leases
        refused.append(other_store.lock_upload(upload_id(url), ELSEWHERE, LOCK_LEASE) is None)

    response = await append(client, o1, url, 0, slowly(pieces, a_while_later))
    assert response.status_code == 204, response.text
    assert response.headers["upload-offset"] == str(len(data))
    assert refused == [True] * len(pieces)
    assert stored_photo(settings, sha256(data)) == data


async def test_a_request_silent_for_a_whole_lease_gives_its_step_up_to_the_next(
    client: httpx.AsyncClient,
    o1: dict[str, str],
    settings: Settings,
    other_store: Store,
    clock: ManualClock,
) -> None:
    """Its phone's connection died without a word and the phone came back through another
    process, which took the lock once the lease had passed and is writing: when the old
    request's bytes move again, it leaves the part alone and answers 423."""
    data = jpeg()
    url = await created(client, o1, data)
    assert (await append(client, o1, url, 0, data[:1000])).status_code == 204

    def the_phone_comes_back_elsewhere() -> None:
        clock.advance(seconds=LOCK_LEASE.total_seconds() + 1)
        if other_store.lock_upload(upload_id(url), ELSEWHERE, LOCK_LEASE) is not None:
            with part(settings, url).open("ab") as handle:  # its step, under way
                handle.write(data[1000:30_000])

    pieces = [data[1000:50_000], data[50_000:100_000], data[100_000:]]
    response = await append(client, o1, url, 1000, slowly(pieces, the_phone_comes_back_elsewhere))
    assert_problem(response, 423, "upload_locked")
    assert part(settings, url).read_bytes() == data[:30_000]  # the new holder's, untouched
    # The other process's step ends.
    expires = clock.now() + timedelta(hours=settings.upload_expiry_hours)
    assert other_store.advance_upload(upload_id(url), 1000, 30_000, expires, "image/jpeg")
    other_store.unlock_upload(upload_id(url), ELSEWHERE)
    o1 = await as_user(client, "o1")
    assert await offset_of(client, o1, url) == 30_000
    response = await append(client, o1, url, 30_000, data[30_000:])
    assert response.status_code == 204, response.text
    assert stored_photo(settings, sha256(data)) == data
