"""Cost-aware BO: expected improvement per unit of predicted cost, with cost cooling.

Snoek, Larochelle, Adams: "Practical Bayesian Optimization of Machine Learning Algorithms",
NeurIPS 2012 (EI per second, a GP on log duration); Lee, Eriksson, Bindel: "Cost-aware Bayesian
Optimization", arXiv:2003.10870, 2020 (EI-cool: the cost's exponent decays as the budget is spent).

The objective's GP is :class:`~hpo_methods.searchers.gp_bo.GPBOSearcher`'s. A second GP (the same
model, :class:`~hpo_methods.searchers.gp.GPModel`) is fitted to the log of each completed trial's
total training cost: the sum of the epoch costs it reported (``epoch_time``: simulated or
measured seconds, never a clock read by the method). A candidate ``x`` scores

    EI(x) / c(x) ** alpha,     c(x) = exp(posterior mean of log cost at x),

with ``alpha = (budget - spent) / (budget - spent_at_start)`` clipped to [0, 1] (Lee et al.'s
EI-cool): ``spent`` is the cost of every epoch reported so far, ``spent_at_start`` what had been
spent when the first model-based proposal was made, and ``budget`` the total cost the run may
spend: ``budget_time * n_workers`` worker-seconds (the method's YAML takes both from the run's
``budget.time`` and ``n_workers``). So early proposals favour cheap configurations, and by the
end of the budget the acquisition is plain EI. With ``cooling=False``, or without a time budget,
``alpha = 1`` throughout (Snoek et al.'s EI per second).
"""

from __future__ import annotations

import math

import numpy as np

from hpo_methods.protocol import TrialStatus
from hpo_methods.searchers.gp import GPModel, refit_due
from hpo_methods.searchers.gp_bo import GPBOSearcher
from hpo_methods.space import Config, SearchSpace


class CostAwareBOSearcher(GPBOSearcher):
    """GP-EI divided by the predicted cost to the power ``alpha`` (see the module docstring)."""

    def __init__(self, space: SearchSpace, seed: int, max_epochs: int,
                 cost_metric: str = "epoch_time", budget: float | None = None,
                 cooling: bool = True, **settings) -> None:  # fmt: skip
        super().__init__(space, seed, max_epochs, **settings)
        if budget is not None and not (isinstance(budget, int | float) and budget > 0):
            raise ValueError(f"the cost budget must be a positive number (got {budget!r})")
        self.cost_metric = cost_metric
        self.budget = float(budget) if budget is not None else None
        self.cooling = bool(cooling)
        self.cost_model = GPModel(space.dim, seed + 1)
        self.spent = 0.0
        self.spent_at_start: float | None = None
        self.alpha = 1.0
        self._cost_refit: int | None = None
        self._cost_fitted = False

    def observe(self, trial_id: int, epoch: int, value, metrics) -> None:
        cost = metrics.get(self.cost_metric, math.nan)
        if isinstance(cost, int | float) and math.isfinite(cost):
            self.spent += float(cost)
        super().observe(trial_id, epoch, value, metrics)

    def trial_cost(self, trial_id: int) -> float:
        """The trial's total training cost so far: the sum of its epochs' reported cost."""
        metrics = self.trials[trial_id].metrics.values()
        return float(sum(float(m.get(self.cost_metric, math.nan)) for m in metrics))

    def propose(self) -> Config | None:
        if len(self.trials) >= self.n_initial and self.model_ready():
            if self.spent_at_start is None:
                self.spent_at_start = self.spent
            self.alpha = self.cost_exponent()
        return super().propose()

    def cost_exponent(self) -> float:
        """EI-cool's ``alpha`` now (module docstring)."""
        if not self.cooling or self.budget is None or self.spent_at_start is None:
            return 1.0
        left = self.budget - self.spent_at_start
        if left <= 0:
            return 0.0
        return float(np.clip((self.budget - self.spent) / left, 0.0, 1.0))

    def _rebuild(self) -> None:
        self._fit_cost()
        super()._rebuild()

    def _fit_cost(self) -> None:
        ids = [t for t in sorted(self.finished) if self.trials[t].status == TrialStatus.COMPLETED]
        costs = np.array([self.trial_cost(t) for t in ids])
        keep = np.isfinite(costs) & (costs > 0)
        ids = [t for t, k in zip(ids, keep, strict=True) if k]
        if len(ids) < 2:
            self._cost_fitted = False
            return
        n_seen = self.n_observations()
        optimize = refit_due(n_seen, self._cost_refit, self.refit_every)
        self.cost_model.fit(self.encode_trials(ids), np.log(costs[keep]), optimize)
        if optimize:
            self._cost_refit = n_seen
        self._cost_fitted = True

    def predicted_log_cost(self, points: np.ndarray) -> np.ndarray:
        """The cost model's posterior mean of log total cost at encoded ``points``."""
        mean, _ = self.cost_model.predict(points)
        return np.asarray(self.cost_model.unstandardise(mean))

    def log_weight(self, points: np.ndarray) -> np.ndarray | float:
        if not self._cost_fitted or self.alpha == 0.0:
            return 0.0
        return -self.alpha * self.predicted_log_cost(points)
