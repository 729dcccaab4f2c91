"""sync/test-vectors.json holds the protocol's rules as cases; the web app's suite checks
its TypeScript against the same file. Here: the Python rules agree with every case, and
the file is what the generator writes today, so it cannot go stale."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import msgspec
import pytest

from sync import checksum, make_test_vectors
from sync.hlc import HLC, merge, tick
from sync.ids import new_id
from sync.photos import sniff
from sync.protocol import RecordVisit, SetField, encoder, push_request_decoder

VECTORS: dict[str, Any] = json.loads(make_test_vectors.PATH.read_text(encoding="utf-8"))


def test_the_file_is_what_the_generator_writes_now() -> None:
    written = make_test_vectors.PATH.read_text(encoding="utf-8")
    assert written == make_test_vectors.render(make_test_vectors.build()), (
        "sync/test-vectors.json is stale: run `python -m sync.make_test_vectors`"
    )


@pytest.mark.parametrize("case", VECTORS["hlc"]["encode"])
def test_hlc_encodes(case: dict[str, Any]) -> None:
    assert HLC(case["wall_ms"], case["counter"], case["node"]).encode() == case["encoded"]


@pytest.mark.parametrize("case", VECTORS["hlc"]["decode_valid"])
def test_hlc_decodes(case: dict[str, Any]) -> None:
    assert HLC.decode(case["encoded"]) == HLC(case["wall_ms"], case["counter"], case["node"])


@pytest.mark.parametrize("text", VECTORS["hlc"]["decode_invalid"])
def test_hlc_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        HLC.decode(text)


@pytest.mark.parametrize("case", VECTORS["hlc"]["tick"])
def test_hlc_ticks(case: dict[str, Any]) -> None:
    last = HLC.decode(case["last"])
    if case["expected"] is None:
        with pytest.raises(OverflowError):
            tick(last, case["now_ms"])
    else:
        assert tick(last, case["now_ms"]).encode() == case["expected"]


@pytest.mark.parametrize("case", VECTORS["hlc"]["merge"])
def test_hlc_merges(case: dict[str, Any]) -> None:
    last, remote = HLC.decode(case["last"]), HLC.decode(case["remote"])
    if case["expected"] is None:
        with pytest.raises(OverflowError):
            merge(last, remote, case["now_ms"])
    else:
        assert merge(last, remote, case["now_ms"]).encode() == case["expected"]


def test_encoded_hlcs_sort_as_text_in_clock_order() -> None:
    order = VECTORS["hlc"]["sort"]
    assert sorted(order["input"]) == order["sorted"]
    assert sorted(order["input"], key=HLC.decode) == order["sorted"]


@pytest.mark.parametrize("case", VECTORS["checksum"]["task_hash"])
def test_task_hash(case: dict[str, Any]) -> None:
    assert f"{checksum.task_hash(case['kind'], case['id'], case['version']):016x}" == case["hash"]


@pytest.mark.parametrize("case", VECTORS["checksum"]["of"])
def test_checksum_of_a_scope(case: dict[str, Any]) -> None:
    assert checksum.of(tuple(t) for t in case["tasks"]) == case["checksum"]


@pytest.mark.parametrize("case", VECTORS["checksum"]["toggle"])
def test_checksum_toggle(case: dict[str, Any]) -> None:
    after = checksum.toggle(case["checksum"], case["kind"], case["id"], case["version"])
    assert after == case["after"]
    assert checksum.toggle(after, case["kind"], case["id"], case["version"]) == case["checksum"]


def test_ids_have_the_shape_of_the_vectors() -> None:
    rules = VECTORS["ids"]
    for _ in range(200):
        made = new_id()
        assert len(made) == rules["length"]
        assert re.fullmatch(rules["pattern"], made)
        assert uuid.UUID(made).version == 7
    for case in rules["time_prefix"]:
        assert new_id(case["now_ms"])[:12] == case["prefix"]


@pytest.mark.parametrize("case", VECTORS["sniff"])
def test_photo_sniff(case: dict[str, Any]) -> None:
    assert sniff(bytes.fromhex(case["hex"])) == case["type"]


def test_the_mutations_decode_on_the_server_as_they_are() -> None:
    cases = VECTORS["mutations"]
    body = {
        "device_time": cases["device_time"],
        "mutations": [cases["record_visit"], cases["set_field"]],
    }
    request = push_request_decoder.decode(json.dumps(body).encode())
    visit, edit = request.mutations
    assert isinstance(visit, RecordVisit)
    assert isinstance(edit, SetField)
    assert msgspec.json.decode(encoder.encode(visit)) == cases["record_visit"]
    assert msgspec.json.decode(encoder.encode(edit)) == cases["set_field"]
    # Recorded one after the other in one millisecond: the second tick counts on.
    before = HLC.decode(cases["hlc_before"])
    assert visit.hlc == tick(before, cases["now_ms"]).encode()
    assert edit.hlc == cases["hlc_after"] > visit.hlc
    assert edit.base_hlc == cases["task"]["field_hlc"]
