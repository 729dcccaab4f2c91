"""Evidence is never refused for its clock, but no figure rests on a time that cannot be
true (issue 12): a visit dated before its warning arrived, or after the server received
it, is applied, flagged for review and counted at the server's receipt; a time no clock
could show is refused as malformed and kept."""

from __future__ import annotations

import httpx
import pytest

from server.clock import ManualClock
from tests.support.api import as_user
from tests.support.day import DAY, at, deliver
from tests.support.sync import pull_all, push, visit

pytestmark = pytest.mark.anyio


async def station_day(client: httpx.AsyncClient) -> dict:
    report = await client.get(
        "/api/v1/reports/completion",
        headers=await as_user(client, "sup1"),
        params={"unit_id": "411602-01", "date_from": str(DAY), "date_to": str(DAY)},
    )
    assert report.status_code == 200, report.text
    return dict(report.json()["total"]["warnings"])


async def reasons(client: httpx.AsyncClient) -> dict[str, list[str]]:
    queue = await client.get("/api/v1/review", headers=await as_user(client, "sup1"))
    return {i["entry_id"]: i["reasons"] for i in queue.json()["items"]}


@pytest.mark.parametrize(
    "year_zero_or_end", ["9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+00:00"]
)
async def test_a_time_no_clock_could_show_is_refused_and_kept(
    client: httpx.AsyncClient, clock: ManualClock, city, year_zero_or_end: str
) -> None:
    clock.set(at(8))
    warning = await deliver(client, "411602001001")
    o1 = await as_user(client, "o1", "phone-o1")
    body = visit(warning, arrived_at=year_zero_or_end, recorded_at=year_zero_or_end)
    [result] = (await push(client, o1, body, device_time=at(8, 5)))["results"]
    assert result["status"] == "rejected"
    assert result["problem"]["code"] == "malformed_mutation"
    assert result["problem"]["field"] == "entry.recorded_at"
    kept = await client.get("/api/v1/rejected-mutations", headers=await as_user(client, "sup1"))
    [row] = kept.json()["items"]
    assert row["mutation_id"] == body["mutation_id"]
    figures = await station_day(client)
    assert (figures["visited"], figures["contact_minutes_median"]) == (0, None)


async def test_a_visit_dated_before_its_warning_counts_at_the_servers_receipt(
    client: httpx.AsyncClient, clock: ManualClock, city
) -> None:
    clock.set(at(8))
    warning = await deliver(client, "411602001001")  # high risk: 30 minutes to contact
    clock.set(at(8, 40))  # received 40 minutes after the warning arrived
    o1 = await as_user(client, "o1", "phone-o1")
    long_ago = "2000-01-01T09:20:00+08:00"
    body = visit(warning, arrived_at=long_ago, recorded_at=long_ago)
    [result] = (await push(client, o1, body, device_time=at(8, 40)))["results"]
    assert result["status"] == "applied"  # the evidence stands

    figures = await station_day(client)
    assert figures["visited"] == 1
    assert figures["contact_minutes_median"] == pytest.approx(40)
    assert (figures["on_time"], figures["late"]) == (0, 1)
    assert "impossible_time" in (await reasons(client))[body["entry"]["entry_id"]]
    changes, _, _ = await pull_all(client, o1)
    [entry] = changes[0]["visits"]
    assert entry["flags"] == ["impossible_time"]


async def test_a_visit_dated_after_the_server_received_it_is_flagged_too(
    client: httpx.AsyncClient, clock: ManualClock, city
) -> None:
    clock.set(at(8))
    warning = await deliver(client, "411602001001")
    clock.set(at(8, 20))
    o1 = await as_user(client, "o1", "phone-o1")
    next_year = "2027-11-25T16:10:00+08:00"
    body = visit(warning, arrived_at=next_year, recorded_at=next_year)
    await push(client, o1, body, device_time=at(8, 20))
    figures = await station_day(client)
    assert figures["contact_minutes_median"] == pytest.approx(20)
    assert figures["on_time"] == 1
    assert "impossible_time" in (await reasons(client))[body["entry"]["entry_id"]]


async def test_a_phone_a_few_minutes_early_is_believed_and_never_counts_below_zero(
    client: httpx.AsyncClient, clock: ManualClock, city
) -> None:
    clock.set(at(8))
    warning = await deliver(client, "411602001001")
    clock.set(at(8, 6))
    o1 = await as_user(client, "o1", "phone-o1")
    early = "2026-11-25T15:57:00+08:00"  # 07:57Z: three minutes before the warning arrived
    body = visit(warning, arrived_at=early, recorded_at=early, photos=["ab" * 32])
    await push(client, o1, body, device_time=at(8, 6))
    figures = await station_day(client)
    assert figures["contact_minutes_median"] == pytest.approx(0)
    assert body["entry"]["entry_id"] not in await reasons(client)
