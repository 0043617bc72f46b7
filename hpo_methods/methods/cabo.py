"""Cost-aware BO: expected improvement per unit of predicted training cost, with cost cooling.

Lee, Eriksson, Bindel: "Cost-aware Bayesian Optimization", arXiv:2003.10870, 2020 (EI-cool);
Snoek, Larochelle, Adams: "Practical Bayesian Optimization of Machine Learning Algorithms",
NeurIPS 2012 (EI per second). A GP on the log of each trial's total training cost (the sum of its
reported ``epoch_time``) beside the objective's GP; see
:class:`~hpo_methods.searchers.cost_aware_bo.CostAwareBOSearcher`. Every trial trains to the
maximum number of epochs (FIFO).
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.cost_aware_bo import CostAwareBOSearcher


def make(
    problem: Problem,
    seed: int,
    cooling: bool = True,
    budget_time: float | None = None,
    n_workers: int = 1,
    n_initial: int | None = None,
    refit_every: int = 5,
    max_history: int = 200,
    target_transform: str = "none",
    n_candidates: int = 1000,
) -> Method:
    """Cost-aware GP-EI with FIFO scheduling (settings: see ``conf/method/cabo.yaml``).

    ``budget_time`` and ``n_workers`` (the run's, filled in by the YAML) give the cost budget of
    EI-cool: ``budget_time * n_workers`` worker-seconds.
    """
    space, max_epochs = problem.space, problem.max_epochs
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be an integer >= 1 (got {n_workers!r})")
    budget = None if budget_time is None else float(budget_time) * n_workers
    searcher = CostAwareBOSearcher(
        space, seed, max_epochs, cost_metric=problem.cost_metric, budget=budget,
        cooling=cooling, n_initial=n_initial, refit_every=refit_every, max_history=max_history,
        target_transform=target_transform, n_candidates=n_candidates,
    )  # fmt: skip
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "cabo")
