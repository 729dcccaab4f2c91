"""Outcomes go back to the platform: a feed it polls, and signed webhooks that a receiver
that fails, or is down for a day, still gets each outcome of exactly once by delivery id."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

from server.loop.service import WebhookSender
from server.settings import Settings
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.day import run_day

pytestmark = pytest.mark.anyio
FEED = "/api/v1/platform/outcomes"
SECRET = "webhook-secret-0123456789"


class Receiver:
    """A platform's webhook endpoint on 127.0.0.1: answers `fail` times with 500 (or 503
    while `down`), then 204; keeps every request it saw."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.down = False
        self.seen: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append(
                    {
                        "delivery": self.headers["X-Beatsync-Delivery"],
                        "timestamp": self.headers["X-Beatsync-Timestamp"],
                        "signature": self.headers["X-Beatsync-Signature"],
                        "body": body,
                    }
                )
                if receiver.down:
                    status = 503
                elif receiver.fail > 0:
                    receiver.fail -= 1
                    status = 500
                else:
                    status = 204
                    receiver.accepted.setdefault(self.headers["X-Beatsync-Delivery"], body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.accepted: dict[str, bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def sender_for(store, url: str) -> WebhookSender:
    return WebhookSender(
        store, Settings(env="test", webhook_url=url, webhook_secret=SECRET, database_path="x")
    )


async def test_the_platform_polls_every_outcome_with_a_cursor(client, store, clock, city) -> None:
    day = await run_day(client, store, clock, city)
    platform = await as_platform(client)
    first = (await client.get(FEED, headers=platform, params={"limit": 4})).json()
    assert first["has_more"] is True
    rest = (await client.get(FEED, headers=platform, params={"cursor": first["cursor"]})).json()
    assert rest["has_more"] is False
    items = first["items"] + rest["items"]
    # W1, W2, W3, W5, W7 closed with an outcome; W6 cancelled.
    by_warning = {i["warning_id"]: i for i in items}
    w = day.warnings
    assert set(by_warning) == {w[k] for k in ("W1", "W2", "W3", "W5", "W6", "W7")}
    assert by_warning[w["W1"]]["outcome"] == "dissuaded"
    assert by_warning[w["W1"]]["contact"] == "face_to_face"
    assert by_warning[w["W1"]]["amount_prevented"] == 100_000
    assert by_warning[w["W1"]]["officer_id"] == city.id("o1")
    assert by_warning[w["W6"]]["state"] == "cancelled"
    assert len({i["delivery_id"] for i in items}) == len(items)
    assert "resident_phone" not in items[0]
    again = (await client.get(FEED, headers=platform, params={"cursor": rest["cursor"]})).json()
    assert again["items"] == []
    assert again["cursor"] == rest["cursor"]
    assert_problem(
        await client.get(FEED, headers=platform, params={"cursor": "abc"}),
        400,
        "validation_failed",
        "cursor",
    )
    assert_problem(await client.get(FEED, headers=await as_user(client, "admin")), 403, "forbidden")


async def test_a_webhook_that_fails_twice_still_gets_each_outcome_once_by_delivery_id(
    client, store, clock, city, receiver: Receiver
) -> None:
    await run_day(client, store, clock, city)
    sender = sender_for(store, receiver.url)
    assert sender.deliver_once() == 0  # 500: retry in 5 s
    assert sender.deliver_once() == 0  # not yet: nothing sent
    assert len(receiver.seen) == 1
    clock.advance(seconds=5)
    assert sender.deliver_once() == 0  # 500 again: retry in 10 s
    clock.advance(seconds=9)
    assert sender.deliver_once() == 0
    clock.advance(seconds=1)
    assert sender.deliver_once() == 6
    assert sender.deliver_once() == 0
    deliveries = [s["delivery"] for s in receiver.seen]
    assert deliveries[0] == deliveries[1] == deliveries[2]  # the same item, retried
    assert len(receiver.accepted) == 6
    feed = store.outcome_feed(None, 0, 100)
    assert list(receiver.accepted) == [r.delivery_id for r in feed]
    for seen in receiver.seen:
        expected = hmac.new(
            SECRET.encode(), seen["timestamp"].encode() + b"." + seen["body"], hashlib.sha256
        ).hexdigest()
        assert seen["signature"] == f"sha256={expected}"
    body = msgspec.json.decode(receiver.accepted[feed[0].delivery_id])
    assert body["delivery_id"] == feed[0].delivery_id
    status = sender.status()
    assert (status.delivered, status.attempts, status.last_error) == (6, 0, None)


async def test_nothing_is_lost_while_the_platform_is_down_for_a_day(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    gone = Receiver()
    url = gone.url
    gone.close()  # nobody listens: connections are refused
    sender = sender_for(store, url)
    passes = 0
    end = clock.now() + timedelta(days=1)
    while clock.now() < end:
        sender.deliver_once()
        passes += 1
        clock.advance(seconds=60)
    status = sender.status()
    assert status.delivered == 0
    assert status.last_error == "ConnectError"
    assert status.next_attempt_at is not None
    assert status.next_attempt_at - clock.now() <= timedelta(seconds=600)  # capped backoff
    back = Receiver()
    try:
        sender = sender_for(store, back.url)
        clock.advance(seconds=600)
        assert sender.deliver_once() == 6
        assert len(back.accepted) == 6
    finally:
        back.close()


async def test_a_corrected_amount_reaches_the_platform_as_a_new_outcome(client, city) -> None:
    from tests.support.sync import push, visit

    platform = await as_platform(client)
    out = await client.post(
        "/api/v1/platform/warnings",
        headers=platform,
        json={"warnings": [a_warning("411602001001")]},
    )
    warning = out.json()["results"][0]["warning_id"]
    o1 = await as_user(client, "o1")
    first = visit(warning, amount_prevented=20_000)
    await push(client, o1, first)
    # The officer finds the sum was wrong and records a correction with the same outcome.
    await push(
        client, o1, visit(warning, amount_prevented=30_000, supersedes=first["entry"]["entry_id"])
    )
    items = (await client.get(FEED, headers=platform)).json()["items"]
    assert [(i["outcome"], i["amount_prevented"]) for i in items] == [
        ("dissuaded", 20_000),
        ("dissuaded", 30_000),
    ]
    assert items[0]["delivery_id"] != items[1]["delivery_id"]
