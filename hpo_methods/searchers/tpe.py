"""Tree-structured Parzen estimator (full fidelity), as Optuna's ``TPESampler`` runs it.

Bergstra, Bardenet, Bengio, Kegl: "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011;
the defaults and details are those of Optuna 5.0's univariate ``TPESampler``.

The first ``n_initial`` proposals, and every proposal while fewer than ``n_initial`` trials have
finished, are random. Then the ``n`` finished trials are split by value: the best ``n_good``
(:func:`good_size`; ties go to the earlier trial) form the good group, the rest the bad group;
with ``constant_liar`` the running trials join the bad group (a pessimistic lie, so parallel
workers spread out). ``n_good`` is, by ``gamma_rule``:

- ``linear`` (default, Optuna's ``default_gamma``): ``min(ceil(gamma n), gamma_cap)`` with
  ``gamma = 0.1``, ``gamma_cap = 25``;
- ``sqrt`` (hyperopt's rule, Optuna's ``hyperopt_default_gamma``): ``min(ceil(gamma sqrt(n)),
  gamma_cap)`` with ``gamma = 0.25``;

always within [1, n - 1]. (The original ``ceil(0.25 n)`` without a cap is ``gamma=0.25,
gamma_rule=linear, gamma_cap=null``: on Hartmann-6 its good group grows with the run and TPE
stops concentrating; see ``scripts/bench_methods_quality.py``.) Each group gets a
:class:`~hpo_methods.searchers.parzen.UnivariateParzen` density, l(x) for the good and g(x) for
the bad, with Optuna's weights over each group in trial order (:func:`~hpo_methods.searchers.
parzen.optuna_weights`). ``n_candidates`` draws from l(x); each hyperparameter takes the value
of its draws that maximises its own log l - log g (Optuna's univariate TPE optimises each
parameter separately; the acquisition is a sum over hyperparameters). If that configuration was
tried already, the draws are ranked jointly by the sum and the best untried one is taken.

Remaining deviations from Optuna: a failed trial counts as a bad observation (+inf; Optuna
leaves failed trials out); on a finite space (a tabular benchmark) each joint draw is replaced by
its nearest fresh candidate and the candidates are ranked jointly (Optuna has no such notion);
``ceil`` is exact (Optuna's ``ceil(0.1 * 30)`` is 4 through floating-point rounding, here 3);
integers are modelled in their encoded coordinate (see :mod:`~hpo_methods.searchers.parzen`).
"""

from __future__ import annotations

import math

import numpy as np

from hpo_methods.searchers.common import (
    BaseSearcher,
    check_fraction,
    check_int,
    final_observations,
    quantile_split,
)
from hpo_methods.searchers.parzen import Coordinates, ParzenEstimator, optuna_weights
from hpo_methods.space import Config, SearchSpace

GAMMA_RULES = ("linear", "sqrt")


def good_size(n: int, gamma: float, rule: str = "linear", cap: int | None = 25) -> int:
    """Size of the good group among ``n >= 2`` observations (module docstring)."""
    if rule not in GAMMA_RULES:
        raise ValueError(f"gamma_rule must be one of {', '.join(GAMMA_RULES)} (got {rule!r})")
    scale = n if rule == "linear" else math.sqrt(n)
    size = math.ceil(gamma * scale - 1e-9)
    if cap is not None:
        size = min(size, cap)
    return min(n - 1, max(1, size))


class TPESearcher(BaseSearcher):
    """TPE (see the module docstring); ``sources`` records how each proposal was made."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        gamma: float = 0.1,
        gamma_rule: str = "linear",
        gamma_cap: int | None = 25,
        n_initial: int = 10,
        n_candidates: int = 24,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        multivariate: bool = True,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.gamma = check_fraction("gamma", gamma)
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be strictly between 0 and 1 (got {gamma})")
        if gamma_rule not in GAMMA_RULES:
            raise ValueError(
                f"gamma_rule must be one of {', '.join(GAMMA_RULES)} (got {gamma_rule!r})"
            )
        self.gamma_rule = gamma_rule
        self.gamma_cap = None if gamma_cap is None else check_int("gamma_cap", gamma_cap)
        self.n_initial = check_int("n_initial", n_initial)
        self.n_candidates = check_int("n_candidates", n_candidates)
        self.prior_weight = check_fraction("prior_weight", prior_weight, 1e-6, 1e6)
        self.constant_liar = bool(constant_liar)
        self.multivariate = bool(multivariate)
        self.coords = Coordinates(space)
        self.last_split: tuple[int, int] | None = None  # (good, bad) sizes of the last model

    def good_size(self, n: int) -> int:
        """Size of the good group among ``n`` finished trials."""
        return good_size(n, self.gamma, self.gamma_rule, self.gamma_cap)

    def propose(self) -> Config | None:
        observations = final_observations(self)
        if len(observations) >= max(2, self.n_initial):
            config = self._from_model(observations)
            if config is not None:
                self.sources.append("model")
                return config
        return self.random_proposal()

    def _from_model(self, observations: list) -> Config | None:
        values = [v for _, _, v in observations]
        good, bad = quantile_split(values, self.good_size(len(values)))
        good_ids = sorted(observations[i][0] for i in good)
        bad_ids = [observations[i][0] for i in bad]
        if self.constant_liar:
            bad_ids += list(self.running)
        bad_ids.sort()
        self.last_split = (len(good_ids), len(bad_ids))
        l_model = self._density(good_ids)
        g_model = self._density(bad_ids)
        num, cat = l_model.sample(self.rng, self.n_candidates, joint=self.multivariate)

        def joint_score(x: np.ndarray) -> np.ndarray:
            num, cat = self.coords.from_encoded(x)
            if self.multivariate:
                return l_model.log_pdf(num, cat) - g_model.log_pdf(num, cat)
            return (l_model.log_pdf_each(num, cat) - g_model.log_pdf_each(num, cat)).sum(axis=1)

        if self.pool is None and not self.multivariate:
            each = l_model.log_pdf_each(num, cat) - g_model.log_pdf_each(num, cat)
            best = np.argmax(each, axis=0)  # each hyperparameter on its own
            n_num = num.shape[1]
            config = self.coords.to_configs(
                num[best[:n_num], np.arange(n_num)][None, :],
                cat[best[n_num:], np.arange(cat.shape[1])][None, :],
            )[0]
            if self.space.key(config) not in self.seen:
                return config
        points = self.space.encode_many(self.coords.to_configs(num, cat))
        return self.best_candidate(points, joint_score)

    def _density(self, trial_ids: list[int]) -> ParzenEstimator:
        num, cat = self.coords.from_encoded(self.encode_trials(trial_ids))
        weights = optuna_weights(len(trial_ids))
        return ParzenEstimator(num, cat, self.coords.n_categories, self.prior_weight, weights)
