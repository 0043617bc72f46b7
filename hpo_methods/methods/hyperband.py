"""Synchronous Hyperband over random search.

Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar: "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization", JMLR 18(185), 2018. Semantics:
:mod:`hpo_methods.schedulers.hyperband`.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.hyperband import HyperbandScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    max_concurrent_brackets: int | None = None,
) -> Method:
    """Random search under synchronous Hyperband (brackets s = s_max..0, repeated, on the shared
    rung levels; idle workers open the next bracket unless ``max_concurrent_brackets`` says)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = HyperbandScheduler(
        max_epochs, seed, grace_period, reduction_factor, max_concurrent_brackets
    )
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "hyperband")
