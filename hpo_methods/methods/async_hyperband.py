"""Asynchronous Hyperband over random search.

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar: "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020. Semantics (the bracket distribution included):
:mod:`hpo_methods.schedulers.async_hyperband`.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.async_hyperband import AsyncHyperbandScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int | None = None,
) -> Method:
    """Random search; each trial runs under ASHA (stopping) in a bracket sampled for it."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = AsyncHyperbandScheduler(max_epochs, seed, grace_period, reduction_factor, brackets)
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "async_hyperband")
