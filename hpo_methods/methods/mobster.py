"""MOBSTER: model-based asynchronous successive halving (a GP over configuration and epoch).

Klein, Tiao, Lienart, Archambeau, Seeger: "Model-based Asynchronous Hyperparameter and Neural
Architecture Search", arXiv:2003.10865, 2020. The scheduler is ASHA
(:class:`~hpo_methods.schedulers.asha.ASHAScheduler`); the searcher is
:class:`~hpo_methods.searchers.mobster.MobsterSearcher`, a GP fitted to the reports at ASHA's rung
levels with expected improvement at the largest rung level with enough data.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.searchers.mobster import MobsterSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    variant: str = "stopping",
    n_initial: int | None = None,
    min_points_at_target: int | None = None,
    refit_every: int = 5,
    max_history: int = 200,
    target_transform: str = "none",
    n_candidates: int = 500,
) -> Method:
    """GP searcher under ASHA (settings: see ``conf/method/mobster.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = ASHAScheduler(max_epochs, seed, grace_period, reduction_factor, variant)
    searcher = MobsterSearcher(
        space,
        seed,
        max_epochs,
        levels=scheduler.rungs,
        n_initial=n_initial,
        min_points_at_target=min_points_at_target,
        refit_every=refit_every,
        max_history=max_history,
        target_transform=target_transform,
        n_candidates=n_candidates,
    )
    return Method(searcher, scheduler, problem, "mobster")
