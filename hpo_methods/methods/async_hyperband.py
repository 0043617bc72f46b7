"""Asynchronous Hyperband over random search.

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar: "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020. Semantics (the bracket distribution included):
:mod:`hpo_methods.schedulers.async_hyperband`.
"""

from __future__ import annotations

from hpo_methods.protocol import Method
from hpo_methods.schedulers.async_hyperband import AsyncHyperbandScheduler
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace


def make(
    space: SearchSpace,
    max_epochs: int,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int | None = None,
) -> Method:
    """Random search; each trial runs under ASHA (stopping) in a bracket sampled for it."""
    scheduler = AsyncHyperbandScheduler(max_epochs, seed, grace_period, reduction_factor, brackets)
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, "async_hyperband")
