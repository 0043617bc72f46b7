"""Model-based methods beat random search on Branin and Hartmann-6 (simple regret, one worker).

The reduced-size CI version of ``scripts/bench_methods_quality.py`` (which runs 20 seeds of 50
evaluations of every method). Each case compares the median regret of a few fixed seeds of the
method with the median regret of random search over 16 seeds at the same number of evaluations.
The bounds leave room for other seeds: ``measured`` is the worst ratio over disjoint windows of
seeds 0..23 (windows as large as the case's; random search's median over windows of 8 seeds),
measured when the bound was set.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from scripts.bench_methods_quality import regret

RANDOM_SEEDS = range(16)

# problem, method, evaluations, seeds, bound on median(method) / median(random), measured
CASES = [
    ("branin", "bo", 30, 4, 0.05, 0.021),
    ("hartmann6", "bo", 50, 4, 0.5, 0.31),
    ("branin", "tpe", 50, 8, 0.75, 0.47),
    ("hartmann6", "tpe", 50, 8, 0.75, 0.43),
    ("branin", "rea", 100, 8, 0.6, 0.38),
    ("hartmann6", "rea", 100, 8, 0.4, 0.17),
]


@cache
def random_median(problem: str, evals: int) -> float:
    return float(np.median([regret(problem, "random", s, evals) for s in RANDOM_SEEDS]))


@pytest.mark.parametrize(
    ("problem", "method", "evals", "seeds", "bound", "measured"),
    CASES,
    ids=[f"{c[1]}-{c[0]}" for c in CASES],
)
def test_method_beats_random_search(problem, method, evals, seeds, bound, measured):
    values = [regret(problem, method, s, evals) for s in range(seeds)]
    ratio = float(np.median(values)) / random_median(problem, evals)
    assert ratio < bound, f"{method} on {problem}: median regret {ratio:.3g} x random search's"
