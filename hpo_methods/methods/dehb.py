"""DEHB: differential evolution over Hyperband's brackets.

Awad, Mallik, Hutter: "DEHB: Evolutionary Hyperband for Scalable, Robust and Efficient
Hyperparameter Optimization", IJCAI 2021. Semantics: :mod:`hpo_methods.schedulers.dehb`. On a
finite space (a tabular benchmark) a new trial takes the candidate nearest to DE's vector among
those not yet trained at its budget, so no configuration is trained twice at one budget while
another is unused.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.dehb import DEHBScheduler, DEPopulations


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    mutation_factor: float = 0.5,
    crossover_prob: float = 0.5,
    max_concurrent_brackets: int | None = None,
) -> Method:
    """DE populations per budget, with Hyperband's synchronous brackets deciding the budgets."""
    space, max_epochs = problem.space, problem.max_epochs
    sizes = DEHBScheduler.population_sizes(max_epochs, grace_period, reduction_factor)
    populations = DEPopulations(space, seed, max_epochs, sizes, mutation_factor, crossover_prob)
    scheduler = DEHBScheduler(
        max_epochs, seed, populations, grace_period, reduction_factor, max_concurrent_brackets
    )
    return Method(populations, scheduler, problem, "dehb")
