"""The proof that nothing is lost: phones, supervisors and the platform at random, with
every fault a village network and a phone's life can produce; then everyone syncs and
the invariants hold (tests/sim/world.py says which). Seeded: a failure names its seed,
and `python bench/sim.py --seeds <seed>` replays it bigger, or this test replays it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sim.world import SimConfig, simulate

SEEDS = [1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_after_everyone_syncs_nothing_is_lost_and_everyone_agrees(
    seed: int, tmp_path: Path
) -> None:
    world, _ = simulate(tmp_path, SimConfig(seed=seed))
    try:
        stats = world.sim_stats()
        # The run exercised what it claims to: otherwise a green result proves little.
        for what in ("visits", "note_edits", "kills", "resyncs", "retention_sweeps"):
            assert stats.get(what, 0) > 0, (what, stats)
        for fault in ("lose", "duplicate", "replay_old", "kill_after", "offline"):
            assert stats.get(f"fault_{fault}", 0) > 0, (fault, stats)
    finally:
        world.close()
