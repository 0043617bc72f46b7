"""scripts/compare_methods.py: the half-seed agreement of method rankings, counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("compare_methods")


def incumbents(values: dict[str, list[float]]) -> pd.Series:
    """Incumbents indexed (method, seed), seeds 0.. in list order."""
    index = pd.MultiIndex.from_tuples(
        [(m, s) for m, v in values.items() for s in range(len(v))], names=["method", "seed"]
    )
    return pd.Series([x for v in values.values() for x in v], index=index)


def test_half_seed_taus_compare_even_and_odd_seeds_within_and_across(script):
    # a: even seeds rank x < y < z, odd seeds x < z < y (one swapped pair: tau 1/3)
    a = incumbents({"x": [1, 1], "y": [2, 4], "z": [3, 3]})
    # b: even seeds x < y < z, odd seeds the same
    b = incumbents({"x": [1, 1], "y": [2, 2], "z": [3, 3]})
    within, across = script.half_seed_taus(a, b)
    assert within == pytest.approx((1 / 3, 1.0))
    # a-even vs b-odd: identical orders (1); a-odd vs b-even: one swapped pair (1/3)
    assert across == pytest.approx((1 + 1 / 3) / 2)
