"""Hybrid logical clocks: an order of events that a wrong phone clock cannot break.

An HLC is (wall milliseconds, counter, node). Every device and the server keep one. A
local event ticks it; a received HLC is merged in. Two HLCs compare by wall, counter,
then node, so every pair of edits has one deterministic order, and an edit made after
seeing another always sorts after it, whatever the wall clocks say.

Encoded as text that sorts like the clock itself: `000001764057600000-00000-node`.
"""

from __future__ import annotations

from typing import NamedTuple

_WALL_DIGITS = 18
_COUNTER_DIGITS = 5
MAX_COUNTER = 10**_COUNTER_DIGITS - 1
_new = tuple.__new__


class HLC(NamedTuple):
    wall_ms: int
    counter: int
    node: str

    def encode(self) -> str:
        # The widths spelled out (_WALL_DIGITS, _COUNTER_DIGITS): a nested format spec is
        # built anew at each call, and a push encodes a clock per mutation.
        return f"{self.wall_ms:018d}-{self.counter:05d}-{self.node}"

    @classmethod
    def decode(cls, text: str) -> HLC:
        """Parse an encoded HLC; ValueError when it is not one."""
        wall, counter, node = text.split("-", 2)
        if len(wall) != _WALL_DIGITS or len(counter) != _COUNTER_DIGITS or not node:
            raise ValueError(f"not an HLC: {text!r}")
        # tuple.__new__ directly: the same instance, without the generated __new__'s call.
        return _new(cls, (int(wall), int(counter), node))

    @classmethod
    def zero(cls, node: str) -> HLC:
        return cls(0, 0, node)


def tick(last: HLC, now_ms: int) -> HLC:
    """The clock for a local event (a record made on this device)."""
    if now_ms > last.wall_ms:
        return HLC(now_ms, 0, last.node)
    return HLC(last.wall_ms, _next_counter(last.counter), last.node)


def merge(last: HLC, remote: HLC, now_ms: int) -> HLC:
    """The clock after receiving `remote` (a pull, a pushed mutation)."""
    wall = max(last.wall_ms, remote.wall_ms, now_ms)
    if wall == last.wall_ms == remote.wall_ms:
        counter = _next_counter(max(last.counter, remote.counter))
    elif wall == last.wall_ms:
        counter = _next_counter(last.counter)
    elif wall == remote.wall_ms:
        counter = _next_counter(remote.counter)
    else:
        counter = 0
    return HLC(wall, counter, last.node)


def _next_counter(counter: int) -> int:
    if counter >= MAX_COUNTER:
        # Only a burst of 100,000 events within one millisecond gets here.
        raise OverflowError("HLC counter overflow")
    return counter + 1
