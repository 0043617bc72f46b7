"""Synchronous successive halving over random search.

Karnin, Koren, Somekh: "Almost Optimal Exploration in Multi-Armed Bandits", ICML 2013;
Jamieson and Talwalkar: "Non-stochastic Best Arm Identification and Hyperparameter
Optimization", AISTATS 2016. Semantics: :mod:`hpo_methods.schedulers.sh`.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.sh import SuccessiveHalvingScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    bracket_size: int | None = None,
    max_concurrent_brackets: int | None = None,
) -> Method:
    """Random search under synchronous SH: the same bracket again and again; a free worker with no
    work in the open brackets opens the next one (``max_concurrent_brackets=1``: one at a time)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = SuccessiveHalvingScheduler(
        max_epochs, seed, grace_period, reduction_factor, bracket_size, max_concurrent_brackets
    )
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "sh")
