"""Tree-structured Parzen estimator (full fidelity).

Bergstra, Bardenet, Bengio, Kegl: "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011.

The finished trials are split by value: the best ``n_good = ceil(gamma * n)`` (at least 1, at most
n - 1; ties go to the earlier trial) form the good group, the rest the bad group. Each group gets a
:class:`~hpo_methods.searchers.parzen.UnivariateParzen` density, l(x) for the good and g(x) for the
bad. ``n_candidates`` draws from l(x) are scored by log l(x) - log g(x) (the EI of the paper is
monotone in l/g) and the best not tried yet is proposed; on a finite space each draw is replaced by
its nearest fresh candidate first (see ``BaseSearcher.best_candidate``). With ``constant_liar``,
pending trials join the bad group (a pessimistic lie), so parallel workers spread out. The first
``n_initial`` proposals are random.
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
from hpo_methods.searchers.parzen import Coordinates, UnivariateParzen
from hpo_methods.space import Config, SearchSpace


def good_size(n: int, gamma: float) -> int:
    """Size of the good group among ``n >= 2`` observations: ceil(gamma n), within [1, n - 1]."""
    return min(n - 1, max(1, math.ceil(gamma * n - 1e-9)))


class TPESearcher(BaseSearcher):
    """TPE (see the module docstring); ``sources`` records how each proposal was made."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        gamma: float = 0.25,
        n_initial: int = 10,
        n_candidates: int = 24,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.gamma = check_fraction("gamma", gamma)
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be strictly between 0 and 1 (got {gamma})")
        self.n_initial = check_int("n_initial", n_initial)
        self.n_candidates = check_int("n_candidates", n_candidates)
        self.prior_weight = check_fraction("prior_weight", prior_weight, 1e-6, 1e6)
        self.constant_liar = bool(constant_liar)
        self.coords = Coordinates(space)
        self.last_split: tuple[int, int] | None = None  # (good, bad) sizes of the last model

    def propose(self) -> Config | None:
        observations = final_observations(self)
        if len(self.trials) >= self.n_initial and len(observations) >= 2:
            config = self._from_model(observations)
            if config is not None:
                self.sources.append("model")
                return config
        return self.random_proposal()

    def _from_model(self, observations: list) -> Config | None:
        values = [v for _, _, v in observations]
        good, bad = quantile_split(values, good_size(len(values), self.gamma))
        good_ids = [observations[i][0] for i in good]
        bad_ids = [observations[i][0] for i in bad]
        if self.constant_liar:
            bad_ids += sorted(self.running)
        self.last_split = (len(good_ids), len(bad_ids))
        k = self.coords.n_categories
        l_model = UnivariateParzen(*self._coordinates(good_ids), k, self.prior_weight)
        g_model = UnivariateParzen(*self._coordinates(bad_ids), k, self.prior_weight)

        def score(num: np.ndarray, cat: np.ndarray) -> np.ndarray:
            return l_model.log_pdf(num, cat) - g_model.log_pdf(num, cat)

        num, cat = l_model.sample(self.rng, self.n_candidates)
        points = self.space.encode_many(self.coords.to_configs(num, cat))
        return self.best_candidate(points, lambda x: score(*self.coords.from_encoded(x)))

    def _coordinates(self, trial_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.coords.from_encoded(self.encode_trials(trial_ids))
