"""ASHA: random search under asynchronous successive halving.

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar: "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    variant: str = "stopping",
) -> Method:
    """Random search under ASHA (variant ``stopping`` or ``promotion``)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = ASHAScheduler(max_epochs, seed, grace_period, reduction_factor, variant)
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "asha")
