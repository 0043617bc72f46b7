"""The median stopping rule over random search.

Golovin, Solnik, Moitra, Kochanski, Karro, Sculley: "Google Vizier: A Service for Black-Box
Optimization", KDD 2017. Semantics: :mod:`hpo_methods.schedulers.median_stopping`.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.median_stopping import MedianStoppingScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    min_samples: int = 3,
    completed_only: bool = False,
) -> Method:
    """Random search; a trial stops when its best value is worse than the others' median."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = MedianStoppingScheduler(max_epochs, seed, grace_period, min_samples, completed_only)
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "median_stopping")
