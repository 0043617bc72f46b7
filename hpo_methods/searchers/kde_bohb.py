"""BOHB's model-based searcher: a KDE (TPE-like) model on the largest budget with a model.

Falkner, Klein, Hutter: "BOHB: Robust and Efficient Hyperparameter Optimization at Scale",
ICML 2018 (Algorithm 2), as HpBandSter implements it (``hpbandster/optimizers/
config_generators/bohb.py``).

Every report ``(trial, epoch, value)`` at one of the ``budgets`` (the scheduler's rung levels; every
epoch when not given) is an observation at that budget (a non-finite value counts as +inf). With
d hyperparameters, ``N_min = min_points_in_model`` (default and minimum: d + 1) and the ``n``
observations at a budget sorted by value (ties: the earlier report first), the budget has a
model when ``n >= N_min`` and both of these sets have more than d rows:

- the good set: the best ``n_good = max(N_min, floor(top_n_fraction n))`` observations;
- the bad set: the next ``n_bad = max(N_min, floor((1 - top_n_fraction) n))`` after them (fewer
  when fewer are left), so the two sets are disjoint.

A proposal is random with probability ``random_fraction`` or when no budget has a model;
otherwise it uses the largest budget with a model: each set is modelled by a
:class:`~hpo_methods.searchers.parzen.ProductKDE` (the normal reference bandwidths of statsmodels'
``KDEMultivariate``, at least ``min_bandwidth``), ``n_samples`` candidates are drawn from the good
KDE with numeric bandwidths widened by ``bandwidth_factor``, and the one maximising l(x)/g(x) that
was not tried yet is proposed; on a finite space each draw is replaced by its nearest fresh
candidate first.

Remaining deviations from HpBandSter: one random number decides random vs model (HpBandSter also
falls back to a random configuration when sampling fails, which cannot happen here); l/g is not
floored at 1e-32 (the ratio is computed in log space); the KDE's own deviations from statsmodels
are listed in :mod:`~hpo_methods.searchers.parzen`; HpBandSter stops recording observations at a
budget once a larger budget has a model, which changes nothing since models of smaller budgets
are never used again.

``sources`` records "random" or "model" for each proposal and ``model_budgets`` the budget used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from hpo_methods.searchers.common import BaseSearcher, check_fraction, check_int
from hpo_methods.searchers.parzen import Coordinates, ProductKDE
from hpo_methods.space import Config, SearchSpace


class KDEBOHBSearcher(BaseSearcher):
    """BOHB's searcher (see the module docstring)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        budgets: Iterable[int] | None = None,
        min_points_in_model: int | None = None,
        top_n_fraction: float = 0.15,
        random_fraction: float = 1 / 3,
        n_samples: int = 64,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.coords = Coordinates(space)
        n_min = self.coords.n_dims + 1
        self.min_points = check_int(
            "min_points_in_model",
            min_points_in_model if min_points_in_model is not None else n_min,
            n_min,
        )
        self.top_n_fraction = check_fraction("top_n_fraction", top_n_fraction)
        self.random_fraction = check_fraction("random_fraction", random_fraction)
        self.n_samples = check_int("n_samples", n_samples)
        self.bandwidth_factor = check_fraction("bandwidth_factor", bandwidth_factor, 1e-6, 1e6)
        self.min_bandwidth = check_fraction("min_bandwidth", min_bandwidth, 1e-12, 1.0)
        self.budgets = None if budgets is None else {int(b) for b in budgets}
        self.observations: dict[int, dict[int, float]] = {}  # budget -> {trial_id: value}
        self.model_budgets: list[int | None] = []

    def on_report(self, trial_id: int, epoch: int, value: float) -> None:
        super().on_report(trial_id, epoch, value)
        if self.budgets is None or epoch in self.budgets:
            self.observations.setdefault(epoch, {})[trial_id] = (
                value if math.isfinite(value) else math.inf
            )

    def model_budget(self) -> int | None:
        """The largest budget whose observations give a model (module docstring)."""
        ready = [b for b, obs in self.observations.items() if self.has_model(len(obs))]
        return max(ready, default=None)

    def split_sizes(self, n: int) -> tuple[int, int]:
        """(n_good, n_bad) for ``n`` observations at a budget: HpBandSter's sizes (the bad set
        gets fewer rows when fewer are left after the good set)."""
        n_good = max(self.min_points, math.floor(self.top_n_fraction * n + 1e-9))
        n_bad = max(self.min_points, math.floor((1 - self.top_n_fraction) * n + 1e-9))
        return n_good, n_bad

    def has_model(self, n: int) -> bool:
        """Whether ``n`` observations at a budget give a model: at least ``min_points_in_model``
        of them, and more rows than hyperparameters in both the good and the bad set."""
        n_good, n_bad = self.split_sizes(n)
        d = self.coords.n_dims
        return n >= self.min_points and min(n_good, n) > d and min(n_bad, n - n_good) > d

    def propose(self) -> Config | None:
        budget = self.model_budget()
        if budget is not None and self.rng.random() >= self.random_fraction:
            config = self._from_model(budget)
            if config is not None:
                self.sources.append("model")
                self.model_budgets.append(budget)
                return config
        self.model_budgets.append(None)
        return self.random_proposal()

    def split(self, budget: int) -> tuple[list[int], list[int]]:
        """Trial ids of the good and of the bad set at ``budget``, each best first."""
        data = self.observations[budget]
        trial_ids = sorted(data)
        order = np.argsort([data[t] for t in trial_ids], kind="stable")
        n_good, n_bad = self.split_sizes(len(trial_ids))
        ranked = [trial_ids[i] for i in order]
        return ranked[:n_good], ranked[n_good : n_good + n_bad]

    def _from_model(self, budget: int) -> Config | None:
        good_ids, bad_ids = self.split(budget)
        k = self.coords.n_categories
        good = self.coords.from_encoded(self.encode_trials(good_ids))
        bad = self.coords.from_encoded(self.encode_trials(bad_ids))
        l_model = ProductKDE(*good, k, self.min_bandwidth)
        g_model = ProductKDE(*bad, k, self.min_bandwidth)

        def score(num: np.ndarray, cat: np.ndarray) -> np.ndarray:
            return l_model.log_pdf(num, cat) - g_model.log_pdf(num, cat)

        num, cat = l_model.sample(self.rng, self.n_samples, self.bandwidth_factor)
        points = self.space.encode_many(self.coords.to_configs(num, cat))
        return self.best_candidate(points, lambda x: score(*self.coords.from_encoded(x)))
