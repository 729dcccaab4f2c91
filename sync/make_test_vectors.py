"""Write sync/test-vectors.json: the protocol's rules as cases any client checks itself against.

The Python suite (tests/sync/test_vectors.py) and the web app's (clients/web/src/sync)
read the same file, so the phone's TypeScript and this package cannot drift apart
silently. Every expected value is computed here by the code in sync/, never typed in.

    python -m sync.make_test_vectors          # rewrite the file
    python -m sync.make_test_vectors --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync import checksum
from sync.hlc import HLC, merge, tick
from sync.ids import new_id
from sync.photos import sniff
from sync.protocol import RecordVisit, SetField, VisitEntry, encoder
from sync.vocab import ContactMethod, EditableField, Outcome, TaskKind

PATH = Path(__file__).with_name("test-vectors.json")
# 2025-11-25T08:00:00Z: a round wall clock the cases build on.
T0 = 1_764_057_600_000
MAX_COUNTER = 99_999


def _hlc(wall: int, counter: int, node: str) -> str:
    return HLC(wall, counter, node).encode()


def _hlc_cases() -> dict[str, Any]:
    encode = [
        {"wall_ms": w, "counter": c, "node": n, "encoded": HLC(w, c, n).encode()}
        for w, c, n in [
            (0, 0, "server"),
            (T0, 3, "phone-42"),
            (T0, MAX_COUNTER, "web-0123456789abcdef0123456789ab"),
            (9_007_199_254_740_991, 12, "a.b:c_d-e"),
        ]
    ]
    # Nodes may hold dashes: only the first two split the text.
    decode_valid = [
        {"encoded": text, "wall_ms": h.wall_ms, "counter": h.counter, "node": h.node}
        for text in ["000001764057600000-00003-phone-42", "000000000000000000-00000-x-y-z"]
        for h in [HLC.decode(text)]
    ]
    decode_invalid = [
        "",
        "phone",
        "1764057600000-00003-phone",
        "000001764057600000-3-phone",
        "000001764057600000-00003-",
        "00000176405760000x-00003-phone",
        "000001764057600000-0000y-phone",
        "000001764057600000-00003",
    ]
    for text in decode_invalid:
        try:
            HLC.decode(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} decodes, so it cannot be an invalid case")

    tick_inputs = [
        (_hlc(T0, 7, "p"), T0 + 5),  # the wall moved on: counter back to 0
        (_hlc(T0, 7, "p"), T0),  # same millisecond: counter + 1
        (_hlc(T0, 7, "p"), T0 - 60_000),  # the phone's clock went back: HLC never does
        (_hlc(0, 0, "p"), T0),  # a new install
    ]
    ticks = [
        {"last": last, "now_ms": now, "expected": tick(HLC.decode(last), now).encode()}
        for last, now in tick_inputs
    ]
    ticks.append({"last": _hlc(T0, MAX_COUNTER, "p"), "now_ms": T0, "expected": None})

    merge_inputs = [
        (_hlc(T0, 2, "p"), _hlc(T0 - 10, 9, "s"), T0 + 100),  # now is ahead of both
        (_hlc(T0, 2, "p"), _hlc(T0 - 10, 9, "s"), T0 - 500),  # own wall ahead
        (_hlc(T0, 2, "p"), _hlc(T0 + 10, 9, "s"), T0),  # remote wall ahead
        (_hlc(T0, 2, "p"), _hlc(T0, 9, "s"), T0 - 1),  # equal walls: max counter + 1
        (_hlc(T0, 9, "p"), _hlc(T0, 2, "s"), T0),  # equal walls and now
        (_hlc(T0, 4, "p"), _hlc(T0, 4, "s"), T0 - 1),  # equal walls, equal counters
    ]
    merges = [
        {
            "last": last,
            "remote": remote,
            "now_ms": now,
            "expected": merge(HLC.decode(last), HLC.decode(remote), now).encode(),
        }
        for last, remote, now in merge_inputs
    ]
    merges.append(
        {
            "last": _hlc(T0, MAX_COUNTER, "p"),
            "remote": _hlc(T0, 0, "s"),
            "now_ms": T0,
            "expected": None,
        }
    )

    ordered = sorted(
        [
            HLC(T0, 0, "a"),
            HLC(T0, 0, "b"),
            HLC(T0, 1, "a"),
            HLC(T0 + 1, 0, "a"),
            HLC(T0 - 1, 99, "z"),
            HLC(10, 5, "phone-1"),
            HLC(9, 50, "phone-1"),
            HLC(T0, 10, "a"),
            HLC(T0, 0, "a-b"),
        ]
    )
    shuffled = [h.encode() for h in ordered]
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a fixed order for the file, not a secret
    return {
        "encode": encode,
        "decode_valid": decode_valid,
        "decode_invalid": decode_invalid,
        "tick": ticks,
        "merge": merges,
        "sort": {"input": shuffled, "sorted": [h.encode() for h in ordered]},
    }


def _checksum_cases() -> dict[str, Any]:
    tasks = [
        ("warning", 1, 1),
        ("warning", 1, 2),
        ("publicity", 1, 1),
        ("warning", 42, 7),
        ("warning", 9_007_199_254_740_991, 123),
        ("publicity", 300, 5),
    ]
    task_hash = [
        {"kind": k, "id": i, "version": v, "hash": f"{checksum.task_hash(k, i, v):016x}"}
        for k, i, v in tasks
    ]
    sets = [
        {"tasks": [list(t) for t in chosen], "checksum": checksum.of(chosen)}
        for chosen in [[], tasks[:1], tasks[:3], tasks, list(reversed(tasks))]
    ]
    toggles = []
    current = checksum.EMPTY
    for kind, task_id, version in [*tasks[:3], tasks[1]]:
        after = checksum.toggle(current, kind, task_id, version)
        toggles.append(
            {"checksum": current, "kind": kind, "id": task_id, "version": version, "after": after}
        )
        current = after
    return {"empty": checksum.EMPTY, "task_hash": task_hash, "of": sets, "toggle": toggles}


def _id_cases() -> dict[str, Any]:
    pattern = r"^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$"
    prefixes = []
    for now_ms in [0, T0, 2**48 - 1]:
        made = new_id(now_ms)
        prefixes.append({"now_ms": now_ms, "prefix": made[:12]})
    return {"pattern": pattern, "length": 32, "time_prefix": prefixes}


def _sniff_cases() -> list[dict[str, Any]]:
    heads = [
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
        b"\xff\xd8\xff\xe1",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"RIFF\x24\x00\x00\x00WEBPVP8 ",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\x00\x00\x00\x18ftypheic\x00\x00",
        b"\x00\x00\x00\x18ftypheix",
        b"\x00\x00\x00\x18ftyphevc",
        b"\x00\x00\x00\x18ftypmif1",
        b"\x00\x00\x00\x18ftypmsf1",
        b"\x00\x00\x00\x18ftypavif",
        b"\x00\x00\x00\x18ftypmp42",
        b"GIF89a\x01\x00\x01\x00",
        b"%PDF-1.7\n",
        b"\xff\xd8",
        b"",
    ]
    return [{"hex": head.hex(), "type": sniff(head[:12])} for head in heads]


def _mutation_cases() -> dict[str, Any]:
    node = "web-00000000000000000000000000aa"
    before = _hlc(T0, 4, node)
    now_ms = T0 + 1_000
    entry = VisitEntry(
        entry_id="0196b2f0a0c07abc8def0123456789ab",
        recorded_at=_utc(now_ms),
        arrived_at=_utc(now_ms - 600_000),
        contact=ContactMethod.FACE_TO_FACE,
        outcome=Outcome.DISSUADED,
        amount_prevented=50_000,
        notes="已劝阻，居民承诺不再转账",
        photos=["a" * 64],
    )
    visit = RecordVisit(
        mutation_id="0196b2f0a0c07abc8def0123456789ac",
        hlc=tick(HLC.decode(before), now_ms).encode(),
        task_kind=TaskKind.WARNING,
        task_id=42,
        entry=entry,
    )
    field_hlc = _hlc(T0 - 3_600_000, 0, "server")
    after_visit = HLC.decode(visit.hlc)
    edit = SetField(
        mutation_id="0196b2f0a0c07abc8def0123456789ad",
        hlc=tick(after_visit, now_ms).encode(),
        task_kind=TaskKind.WARNING,
        task_id=42,
        field=EditableField.OFFICER_NOTES,
        value="居民白天不在家，晚上再访",
        base_hlc=field_hlc,
    )
    return {
        "node": node,
        "hlc_before": before,
        "now_ms": now_ms,
        "device_time": _utc(now_ms).isoformat(),
        "task": {"kind": "warning", "id": 42, "field_hlc": field_hlc},
        "record_visit": json.loads(encoder.encode(visit)),
        "set_field": json.loads(encoder.encode(edit)),
        "hlc_after": edit.hlc,
    }


def _utc(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, UTC)


def build() -> dict[str, Any]:
    return {
        "about": "Generated by sync/make_test_vectors.py; do not edit by hand.",
        "hlc": _hlc_cases(),
        "checksum": _checksum_cases(),
        "ids": _id_cases(),
        "sniff": _sniff_cases(),
        "mutations": _mutation_cases(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(build())
    if "--check" in argv:
        return 0 if PATH.read_text(encoding="utf-8") == text else 1
    PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
