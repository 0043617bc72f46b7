"""One rung geometry for every multi-fidelity method, pinned by hand at the default benchmark's
20 epochs (not a power of eta), and asynchronous Hyperband's full-training bracket."""

from collections import Counter
from fractions import Fraction

import pytest

from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision
from hpo_methods.registry import make_method
from hpo_methods.schedulers.async_hyperband import AsyncHyperbandScheduler, bracket_probabilities
from hpo_methods.schedulers.geometry import (
    Rung,
    hyperband_brackets,
    rung_levels,
    trials_in_bracket,
)
from hpo_methods.schedulers.sh import sh_bracket
from hpo_methods.space import SearchSpace
from tests.tables import SPACE_SPEC

LEVELS_20 = [1, 3, 9, 20]
# Bracket s (s = 3, 2, 1, 0) on the levels 1, 3, 9, 20 starts n_s = ceil(4 / (s + 1) * 3^s)
# trials: ceil(27) = 27, ceil(4/3 * 9) = 12, ceil(2 * 3) = 6, ceil(4) = 4; rung i holds
# max(1, floor(n_s / 3^i)): 27, 9, 3, 1 | 12, 4, 1 | 6, 2 | 4.
BRACKETS_20 = [
    [(1, 27), (3, 9), (9, 3), (20, 1)],
    [(3, 12), (9, 4), (20, 1)],
    [(9, 6), (20, 2)],
    [(20, 4)],
]
MULTI_FIDELITY = [
    "sh", "hyperband", "bohb", "dehb", "asha", "async_hyperband", "mobster", "hypertune"
]  # fmt: skip


def test_rung_levels_by_hand():
    assert rung_levels(1, 3, 20) == LEVELS_20  # round(3^k) < 20, then 20
    assert rung_levels(1, 3, 27) == [1, 3, 9, 27]
    assert rung_levels(2, 3, 20) == [2, 6, 18, 20]
    assert rung_levels(1, 2, 20) == [1, 2, 4, 8, 16, 20]
    assert rung_levels(20, 3, 20) == [20]  # the lowest rung is grace_period, the top max_epochs
    assert rung_levels(1, 2.5, 20) == [1, 2, 6, 16, 20]  # round(2.5) = 2, round(6.25) = 6, ...


def test_hyperband_bracket_sizes_at_twenty_epochs_by_hand():
    assert [trials_in_bracket(s, 3, 3) for s in (3, 2, 1, 0)] == [27, 12, 6, 4]
    table = hyperband_brackets(20, 1, 3)
    assert [b.s for b in table] == [3, 2, 1, 0]
    assert [[(r.epochs, r.size) for r in b.rungs] for b in table] == BRACKETS_20
    # Bracket s starts at the rung s_max - s of the shared levels; bracket 0 is full training.
    assert [b.r for b in table] == LEVELS_20
    # grace 2: levels 2, 6, 18, 20; the same sizes.
    assert [b.r for b in hyperband_brackets(20, 2, 3)] == [2, 6, 18, 20]
    # eta = 2, R = 20: levels 1, 2, 4, 8, 16, 20; s_max = 5, n_s = ceil(6 / (s + 1) * 2^s):
    # 6/6 * 32, 6/5 * 16 = 19.2, 6/4 * 8, 6/3 * 4, 6/2 * 2, 6/1 * 1.
    assert [b.n for b in hyperband_brackets(20, 1, 2)] == [32, 20, 12, 8, 6, 6]
    # SH's default bracket is Hyperband's most aggressive one.
    assert sh_bracket(20) == [Rung(e, n) for e, n in BRACKETS_20[0]]


def _rungs_of(name: str, problem: Problem) -> dict[str, list[int]]:
    """Every rung grid a method's parts use, read from the built objects."""
    m = make_method(name, problem, 0)
    sched, search = m.scheduler, m.searcher
    if name == "sh":
        return {"bracket": [r.epochs for r in sched.rungs]}
    if name in ("hyperband", "bohb"):
        grids = {"levels": sorted({r.epochs for b in sched.brackets for r in b.rungs})}
        grids["bracket bases"] = [b.r for b in sched.brackets]
        if name == "bohb":
            grids["searcher budgets"] = sorted(search.budgets)
        return grids
    if name == "dehb":
        return {"budgets": sched.budgets, "bracket bases": [b.r for b in sched.table]}
    if name in ("asha", "mobster"):
        grids = {"rungs": sched.rungs}
        if name == "mobster":
            grids["searcher levels"] = search.levels
        return grids
    if name == "async_hyperband":
        return {
            "most aggressive": sched.asha[max(sched.asha)].rungs,
            "bracket bases": [sched.asha[s].rungs[0] for s in sorted(sched.asha, reverse=True)],
        }
    assert name == "hypertune"
    return {
        "levels": sched.levels,
        "bracket bases": [sched.base[s] for s in sorted(sched.base, reverse=True)],
        "searcher levels": search.levels,
    }


def test_every_multi_fidelity_method_uses_the_same_rungs_at_twenty_epochs():
    problem = Problem(SearchSpace.from_spec(SPACE_SPEC), 20)
    grids = {name: _rungs_of(name, problem) for name in MULTI_FIDELITY}
    for name, by_part in grids.items():
        for part, rungs in by_part.items():
            assert rungs == LEVELS_20, (name, part)


@pytest.mark.parametrize("name", ["hyperband", "bohb", "dehb"])
def test_synchronous_brackets_are_the_shared_table(name):
    m = make_method(name, Problem(SearchSpace.from_spec(SPACE_SPEC), 20), 0)
    table = m.scheduler.table if name == "dehb" else m.scheduler.brackets
    assert [[(r.epochs, r.size) for r in b.rungs] for b in table] == BRACKETS_20


# -- asynchronous Hyperband: one bracket per level, the last one trains to R -------------------


def test_async_hyperband_has_a_full_training_bracket_at_twenty_epochs():
    scheduler = AsyncHyperbandScheduler(20, 0)
    rungs = {s: asha.rungs for s, asha in scheduler.asha.items()}
    assert rungs == {3: [1, 3, 9, 20], 2: [3, 9, 20], 1: [9, 20], 0: [20]}
    expected = {3: Fraction(27, 49), 2: Fraction(12, 49), 1: Fraction(6, 49), 0: Fraction(4, 49)}
    assert scheduler.probabilities == pytest.approx({s: float(p) for s, p in expected.items()})
    assert bracket_probabilities(20, brackets=4) == scheduler.probabilities
    with pytest.raises(ValueError, match="brackets must be between 1 and 4"):
        bracket_probabilities(20, brackets=5)
    # A trial of bracket 0 is never stopped, however bad it is and however good the others are.
    scheduler.bracket_of.update({0: 0, 1: 3, 2: 3})
    for epoch in range(1, 21):
        assert scheduler.on_report(1, epoch, 0.1) == Decision.CONTINUE
    assert [scheduler.on_report(0, e, 0.99) for e in range(1, 21)] == [Decision.CONTINUE] * 20
    assert scheduler.on_report(2, 1, 0.5) == Decision.STOP  # bracket 3 stops at level 1


def test_async_hyperband_draws_the_full_training_bracket():
    scheduler = AsyncHyperbandScheduler(20, seed=1)
    n = 20_000
    counts = Counter(scheduler.sample_bracket() for _ in range(n))
    # Standard error of a frequency is at most 0.0036 at n=20000; allow 4 of them.
    assert counts[0] / n == pytest.approx(4 / 49, abs=0.015)
    assert set(counts) == {0, 1, 2, 3}
