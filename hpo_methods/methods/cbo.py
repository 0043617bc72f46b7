"""Constrained BO: expected improvement times the probability of feasibility, full fidelity.

Gardner, Kusner, Xu, Weinberger, Cunningham: "Bayesian Optimization with Inequality
Constraints", ICML 2014. One GP for the objective and one per constraint of the benchmark
(``benchmark.constraints``); see
:class:`~hpo_methods.searchers.constrained_bo.ConstrainedBOSearcher`. Every trial trains to the
maximum number of epochs (FIFO). On a benchmark without constraints it is ``bo``.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.constrained_bo import ConstrainedBOSearcher


def make(
    problem: Problem,
    seed: int,
    n_initial: int | None = None,
    refit_every: int = 5,
    max_history: int = 200,
    target_transform: str = "none",
    n_candidates: int = 1000,
) -> Method:
    """Constrained GP-EI with FIFO scheduling (settings: see ``conf/method/cbo.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = ConstrainedBOSearcher(
        space, seed, max_epochs, problem.constraints, n_initial=n_initial,
        refit_every=refit_every, max_history=max_history, target_transform=target_transform,
        n_candidates=n_candidates,
    )  # fmt: skip
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "cbo")
