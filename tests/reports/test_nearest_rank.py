"""Percentiles of a unit come from its groups' sorted minutes without merging them; the
value picked is the one a full sort would give, duplicates and empty groups included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.reports.service import _nearest_rank

minutes = st.floats(min_value=-30, max_value=600, allow_nan=False)
# Few distinct values as well as many, so that ties straddle the ranks asked for.
runs = st.lists(
    st.lists(st.one_of(minutes, st.sampled_from([0.0, 17.3, 17.3, 60.0]))).map(sorted),
    min_size=1,
    max_size=12,
)


@given(runs, st.sampled_from([1, 50, 90, 100]))
def test_the_rank_is_the_one_a_full_sort_gives(runs: list[list[float]], percent: int) -> None:
    merged = sorted(v for run in runs for v in run)
    if not merged:
        assert _nearest_rank(runs, percent) is None
        return
    rank = -(-len(merged) * percent // 100)  # ceil(n * percent / 100)
    assert _nearest_rank(runs, percent) == round(merged[rank - 1], 2)


def test_ranks_are_nearest_rank() -> None:
    assert _nearest_rank([[5.0, 10.0], [20.0, 50.0, 60.0]], 50) == 20.0  # rank 3 of 5
    assert _nearest_rank([[5.0, 10.0], [20.0, 50.0, 60.0]], 90) == 60.0  # rank ceil(4.5)
    assert _nearest_rank([[10.004, 10.006]], 100) == 10.01
    assert _nearest_rank([[], []], 50) is None
