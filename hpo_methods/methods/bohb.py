"""BOHB: Bayesian optimisation (a TPE-like KDE model) under synchronous Hyperband.

Falkner, Klein, Hutter: "BOHB: Robust and Efficient Hyperparameter Optimization at Scale",
ICML 2018. The scheduler is :class:`~hpo_methods.schedulers.hyperband.HyperbandScheduler`; the
searcher is :class:`~hpo_methods.searchers.kde_bohb.KDEBOHBSearcher`, whose budgets are the
epochs of Hyperband's rungs, the shared levels of :mod:`hpo_methods.schedulers.geometry` (1, 3, 9,
20 for 20 epochs; HpBandSter's would be R eta^-i: 2.2, 6.7, 20). Like HpBandSter, a free worker
with no job in the running brackets starts the next one (``max_concurrent_brackets``: None). Its
KDEs, as in HpBandSter, use the largest budget where the good and the disjoint bad set both have
more rows than hyperparameters; a ``random_fraction`` of proposals stays random.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.hyperband import HyperbandScheduler
from hpo_methods.searchers.kde_bohb import KDEBOHBSearcher


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    max_concurrent_brackets: int | None = None,
    min_points_in_model: int | None = None,
    top_n_fraction: float = 0.15,
    random_fraction: float = 1 / 3,
    n_samples: int = 64,
    bandwidth_factor: float = 3.0,
    min_bandwidth: float = 1e-3,
) -> Method:
    """BOHB (settings: see ``conf/method/bohb.yaml``)."""
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = HyperbandScheduler(
        max_epochs, seed, grace_period, reduction_factor, max_concurrent_brackets
    )
    budgets = sorted({rung.epochs for b in scheduler.brackets for rung in b.rungs})
    searcher = KDEBOHBSearcher(
        space,
        seed,
        max_epochs,
        budgets=budgets,
        min_points_in_model=min_points_in_model,
        top_n_fraction=top_n_fraction,
        random_fraction=random_fraction,
        n_samples=n_samples,
        bandwidth_factor=bandwidth_factor,
        min_bandwidth=min_bandwidth,
    )
    return Method(searcher, scheduler, problem, "bohb")
