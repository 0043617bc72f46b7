"""ParEGO: Bayesian optimisation of a random scalarisation of the objectives, full fidelity.

Knowles: "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for Expensive
Multiobjective Optimization Problems", IEEE TEVC 2006; Paria, Kandasamy, Poczos: "A Flexible
Framework for Multi-Objective Bayesian Optimization using Random Scalarizations", UAI 2019.
Every trial trains to the maximum number of epochs (FIFO); the searcher is
:class:`~hpo_methods.searchers.parego.ParEGOSearcher` (a new augmented-Chebyshev weight per
proposal over the GP-EI machinery of ``bo``).
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.parego import ParEGOSearcher

MULTI_OBJECTIVE = True


def make(
    problem: Problem,
    seed: int,
    n_initial: int | None = None,
    refit_every: int = 5,
    max_history: int = 200,
    n_candidates: int = 1000,
) -> Method:
    """ParEGO with FIFO scheduling (settings: see ``conf/method/parego.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = ParEGOSearcher(
        space, seed, max_epochs, len(problem.objectives), n_initial=n_initial,
        refit_every=refit_every, max_history=max_history, n_candidates=n_candidates,
    )  # fmt: skip
    method = Method(searcher, FIFOScheduler(max_epochs, seed), problem, "parego")
    method.multi_objective = True
    return method
