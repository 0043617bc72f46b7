"""TPE: the tree-structured Parzen estimator, full fidelity.

Bergstra, Bardenet, Bengio, Kegl: "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011.
Every trial trains to the maximum number of epochs (FIFO); the searcher is
:class:`~hpo_methods.searchers.tpe.TPESearcher` (Optuna's defaults: the good group is the best
``min(ceil(0.1 n), 25)`` finished trials, multivariate Parzen densities, candidates drawn from
the good density and ranked by l/g).
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.tpe import TPESearcher


def make(
    problem: Problem,
    seed: int,
    gamma: float = 0.1,
    gamma_rule: str = "linear",
    gamma_cap: int | None = 25,
    n_initial: int = 10,
    n_candidates: int = 24,
    prior_weight: float = 1.0,
    constant_liar: bool = True,
    multivariate: bool = True,
) -> Method:
    """TPE with FIFO scheduling (settings: see ``conf/method/tpe.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = TPESearcher(
        space,
        seed,
        max_epochs,
        gamma=gamma,
        gamma_rule=gamma_rule,
        gamma_cap=gamma_cap,
        n_initial=n_initial,
        n_candidates=n_candidates,
        prior_weight=prior_weight,
        constant_liar=constant_liar,
        multivariate=multivariate,
    )
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "tpe")
