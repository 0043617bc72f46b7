"""BO: Gaussian-process Bayesian optimisation with expected improvement, full fidelity.

Snoek, Larochelle, Adams: "Practical Bayesian Optimization of Machine Learning Algorithms",
NeurIPS 2012. Every trial trains to the maximum number of epochs (FIFO); the searcher is
:class:`~hpo_methods.searchers.gp_bo.GPBOSearcher` (scikit-learn GP, Matern 5/2 ARD + noise,
EI maximised by random candidates plus local search, pending trials as posterior-mean fantasies,
hyperparameters re-estimated every ``refit_every`` observations and fixed in between).
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.gp_bo import GPBOSearcher


def make(
    problem: Problem,
    seed: int,
    n_initial: int | None = None,
    refit_every: int = 5,
    max_history: int = 200,
    target_transform: str = "none",
    n_candidates: int = 1000,
) -> Method:
    """GP-EI search with FIFO scheduling (settings: see ``conf/method/bo.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = GPBOSearcher(
        space,
        seed,
        max_epochs,
        n_initial=n_initial,
        refit_every=refit_every,
        max_history=max_history,
        target_transform=target_transform,
        n_candidates=n_candidates,
    )
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "bo")
