"""The simulation of tests/sim, bigger: more phones, more steps, several seeds.

Four officers on eight devices (two of them with clocks hours off, one reported lost half
way), three supervisors moving warnings between stations and cancelling them, the
platform sending warnings, publicity talks planned and re-staffed; every fault of
tests/sim/faults.py at the same rates. After each run everyone syncs and every invariant
of tests/sim/world.py is checked. Prints what happened and how long it took.

    python bench/sim.py [--seeds 1,2,3] [--steps 3000]

A failing seed replays exactly: the same seed and steps give the same run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from server.logs import configure_logging  # noqa: E402
from tests.sim.world import (  # noqa: E402
    COUNTY_1,
    COUNTY_2,
    STATION_1,
    DeviceSpec,
    SimConfig,
    simulate,
)

DEVICES = (
    DeviceSpec("o1", "o1-phone"),
    DeviceSpec("o1", "o1-tablet", clock_skew_s=3 * 3600),
    DeviceSpec("o2", "o2-phone", clock_skew_s=-2 * 3600),
    DeviceSpec("o2", "o2-spare"),
    DeviceSpec("o3", "o3-phone"),
    DeviceSpec("o3", "o3-tablet", clock_skew_s=20 * 60),
    DeviceSpec("o4", "o4-phone", clock_skew_s=-45 * 60),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    configure_logging(json=True, level="error")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    failed = []
    total = time.perf_counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        config = SimConfig(
            seed=seed,
            steps=args.steps,
            devices=DEVICES,
            lost_device=DeviceSpec("o4", "o4-lost"),
            jurisdictions=(STATION_1, COUNTY_1, COUNTY_2),
        )
        with tempfile.TemporaryDirectory(prefix=f"beatsync-sim-{seed}-") as tmp:
            try:
                world, seconds = simulate(Path(tmp), config)
            except AssertionError as exc:
                print(f"seed {seed}: FAILED: {exc}")
                failed.append(seed)
                continue
            stats = world.sim_stats()
            world.close()
        print(f"seed {seed}: {args.steps} steps, {len(DEVICES)} phones, ok in {seconds:.1f} s")
        for key, value in stats.items():
            print(f"    {key:28} {value}")
    print(f"{len(failed)} of {len(args.seeds.split(','))} seeds failed {failed or ''}".rstrip())
    print(f"total {time.perf_counter() - total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
