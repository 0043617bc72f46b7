"""REA: regularised (aging) evolution, full fidelity.

Real, Aggarwal, Huang, Le: "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019. Every trial trains to the maximum number of epochs (FIFO); the searcher is
:class:`~hpo_methods.searchers.rea.REASearcher` (tournament of ``sample_size`` from a population
of the last ``population_size`` finished trials, one-hyperparameter mutations, oldest removed).
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.rea import REASearcher


def make(
    problem: Problem,
    seed: int,
    population_size: int = 10,
    sample_size: int = 5,
    mutation_sd: float = 0.2,
) -> Method:
    """Regularised evolution with FIFO scheduling (settings: see ``conf/method/rea.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = REASearcher(
        space,
        seed,
        max_epochs,
        population_size=population_size,
        sample_size=sample_size,
        mutation_sd=mutation_sd,
    )
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "rea")
