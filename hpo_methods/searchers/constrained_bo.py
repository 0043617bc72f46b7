"""Constrained BO: expected improvement over the best feasible value times the probability of
feasibility.

Gardner, Kusner, Xu, Weinberger, Cunningham: "Bayesian Optimization with Inequality
Constraints", ICML 2014 (constrained EI; the same acquisition as Schonlau, Welch, Jones 1998).

The objective's GP is :class:`~hpo_methods.searchers.gp_bo.GPBOSearcher`'s, fitted to every
finished trial, feasible or not. Each constraint ``metric <= bound`` (or ``>=``) gets a GP of its
own (the same Matern 5/2 ARD model, :class:`~hpo_methods.searchers.gp.GPModel`) fitted to the
metric at the trial's last epoch, and the acquisition is

    EI(x; best feasible value) * prod_k P(c_k(x) satisfies bound_k),

where each probability uses the constraint GP's predictive distribution (noise included: the
feasibility of the *observed* metric is what counts). A trial is feasible when every constraint
holds at its last epoch (:meth:`~hpo_methods.problem.Problem.feasible`). Until a feasible trial is
observed there is no incumbent and the probability of feasibility alone is maximised (Gardner et
al., section 3). Constraint GPs are refitted at every rebuild of the objective's GP, their
hyperparameters re-estimated on the objective's refit schedule. Without constraints this is
plain GP-EI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from hpo_methods.problem import Constraint
from hpo_methods.searchers.gp import GPModel, refit_due
from hpo_methods.searchers.gp_bo import GPBOSearcher
from hpo_methods.searchers.gp_searcher import TrainingData
from hpo_methods.space import SearchSpace


@dataclass
class _ConstraintModel:
    constraint: Constraint
    model: GPModel
    n_at_refit: int | None = None
    fitted: bool = False


class ConstrainedBOSearcher(GPBOSearcher):
    """GP-EI times the probability of feasibility (see the module docstring)."""

    def __init__(self, space: SearchSpace, seed: int, max_epochs: int,
                 constraints: tuple[Constraint, ...] = (), **settings) -> None:  # fmt: skip
        super().__init__(space, seed, max_epochs, **settings)
        self.constraint_models = [
            _ConstraintModel(c, GPModel(space.dim, seed + 1 + i))
            for i, c in enumerate(constraints)
        ]

    def last_metrics(self, trial_id: int) -> dict:
        trial = self.trials[trial_id]
        return dict(trial.metrics.get(trial.last_epoch, {})) if trial.metrics else {}

    def is_feasible(self, trial_id: int) -> bool:
        """Whether every constraint holds at the trial's last reported epoch."""
        metrics = self.last_metrics(trial_id)
        return bool(metrics) and all(
            cm.constraint.violation(metrics) == 0.0 for cm in self.constraint_models
        )

    def training_data(self) -> TrainingData:
        data = super().training_data()
        feasible = np.array([self.is_feasible(t) for t in data.trial_ids], dtype=bool)
        return TrainingData(data.trial_ids, data.inputs, data.values, feasible)

    def _rebuild(self) -> None:
        self._fit_constraints()
        super()._rebuild()

    def _fit_constraints(self) -> None:
        n_seen = self.n_observations()
        for cm in self.constraint_models:
            ids, values = [], []
            for trial_id in sorted(self.finished):
                value = self.last_metrics(trial_id).get(cm.constraint.metric, math.nan)
                if isinstance(value, int | float) and math.isfinite(value):
                    ids.append(trial_id)
                    values.append(float(value))
            if len(ids) < 2:
                cm.fitted = False
                continue
            optimize = refit_due(n_seen, cm.n_at_refit, self.refit_every)
            cm.model.fit(self.encode_trials(ids), np.array(values), optimize)
            if optimize:
                cm.n_at_refit = n_seen
            cm.fitted = True

    def log_weight(self, points: np.ndarray) -> np.ndarray | float:
        """Sum over constraints of log P(constraint holds) at ``points`` (0 for unfitted ones)."""
        total: np.ndarray | float = 0.0
        for cm in self.constraint_models:
            if cm.fitted:
                total = total + log_feasibility(cm.model, cm.constraint, points)
        return total


def log_feasibility(model: GPModel, constraint: Constraint, points: np.ndarray) -> np.ndarray:
    """log P(metric <= bound) (or >=) under the GP's predictive distribution at ``points``."""
    mean, std = model.predict(points)
    bound = float(model.standardise(constraint.bound))
    z = (bound - mean) / np.maximum(std, 1e-12)
    return log_ndtr(z if constraint.sense == "<=" else -z)
