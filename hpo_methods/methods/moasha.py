"""MO-ASHA: random search under multi-objective asynchronous successive halving.

Schmucker, Donini, Zafar, Rodriguez, Archambeau: "Multi-objective Asynchronous Successive
Halving", arXiv:2106.12639, 2021. Each rung is ranked by non-dominated sorting; ties within a
front are broken by the greedy epsilon-net (``tie_break: epsnet``, the paper's choice) or by
NSGA-II's crowding distance (``nsga2``): see :mod:`hpo_methods.schedulers.moasha`.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.moasha import MOASHAScheduler
from hpo_methods.searchers.random_search import RandomSearcher

MULTI_OBJECTIVE = True


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    variant: str = "stopping",
    tie_break: str = "epsnet",
) -> Method:
    """Random search under MO-ASHA (variant ``stopping`` or ``promotion``)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = MOASHAScheduler(
        max_epochs, seed, grace_period, reduction_factor, variant, tie_break
    )
    method = Method(RandomSearcher(space, seed, max_epochs), scheduler, problem, "moasha")
    method.multi_objective = True
    return method
