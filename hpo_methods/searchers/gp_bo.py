"""Gaussian-process Bayesian optimisation with expected improvement (full fidelity).

Snoek, Larochelle, Adams: "Practical Bayesian Optimization of Machine Learning Algorithms",
NeurIPS 2012 (Matern 5/2 ARD kernel, EI, fantasies for pending evaluations).

The model sees the final value of every finished trial (a failed trial counts as the worst value
seen), transformed (:func:`~hpo_methods.searchers.gp.transform_targets`) and standardised. The first
``n_initial`` proposals are random. Choices made to keep it cheap: at most ``max_history``
observations are modelled (the best half of that number plus the most recent others);
hyperparameters are re-estimated every ``refit_every`` new observations (later every 20% growth),
warm-started, and fixed in between; the GP and EI's candidate set are rebuilt after every
observation up to 50 observations, then every 4% growth, and proposals in between reuse them with
pending trials as fantasies (:mod:`hpo_methods.searchers.gp_searcher`). EI uses the latent
(noise-free) predictive variance.

Deviations from Snoek et al.: GP hyperparameters are point estimates (maximum marginal
likelihood, :mod:`hpo_methods.searchers.gp`) rather than integrated out by slice sampling (their
"integrated acquisition function"), and pending evaluations are posterior-mean fantasies (the
kriging believer) rather than Monte Carlo fantasies averaged in EI.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np

from hpo_methods.protocol import TrialStatus
from hpo_methods.searchers.common import final_observations
from hpo_methods.searchers.gp_searcher import GPSearcher, TrainingData
from hpo_methods.space import SearchSpace

FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED)


class GPBOSearcher(GPSearcher):
    """GP-EI searcher (see the module docstring); ``sources`` records how each proposal was made."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        n_initial: int | None = None,
        refit_every: int = 5,
        max_history: int = 200,
        target_transform: str = "none",
        n_candidates: int = 1000,
        max_finite: int = 5000,
    ) -> None:
        super().__init__(
            space,
            seed,
            max_epochs,
            input_dim=space.dim,
            n_initial=n_initial if n_initial is not None else max(5, space.dim + 1),
            refit_every=refit_every,
            max_history=max_history,
            target_transform=target_transform,
            n_candidates=n_candidates,
            max_finite=max_finite,
        )
        self.finished: set[int] = set()
        self.n_finite = 0

    def on_status(self, trial_id: int, status: TrialStatus) -> None:
        super().on_status(trial_id, status)
        if status in FINISHED and trial_id not in self.finished:
            self.finished.add(trial_id)
            trial = self.trials[trial_id]
            value = trial.values.get(trial.last_epoch, math.inf) if trial.values else math.inf
            self.n_finite += status == TrialStatus.COMPLETED and math.isfinite(value)

    def n_observations(self) -> int:
        return len(self.finished)

    def model_ready(self) -> bool:
        return self.n_finite >= 2

    def model_key(self) -> Hashable:
        return None

    def training_data(self) -> TrainingData:
        kept = bounded_history(final_observations(self), self.max_history)
        ids = [t for t, _, _ in kept]
        values = np.array([v for _, _, v in kept])
        return TrainingData(ids, self.encode_trials(ids), values, np.ones(len(ids), dtype=bool))

    def to_inputs(self, points: np.ndarray) -> np.ndarray:
        return points

    def known_keys(self) -> set[Hashable]:
        return set(self.finished)

    def fantasy_keys(self, known: set[Hashable]) -> list[Hashable]:
        """Trials finished since the rebuild and running trials (their final values)."""
        return sorted((self.running | self.finished) - known)

    def key_inputs(self, keys: list[Hashable]) -> np.ndarray:
        return self.encode_trials(keys)


def bounded_history(observations: list, max_history: int) -> list:
    """At most ``max_history`` observations: the best half of that number, then the most recent.

    ``observations`` are ``(trial_id, config, value)`` in trial order; the order is kept.
    """
    if len(observations) <= max_history:
        return observations
    values = np.array([v for _, _, v in observations])
    keep = set(np.argsort(values, kind="stable")[: max_history // 2].tolist())
    for i in range(len(observations) - 1, -1, -1):
        if len(keep) >= max_history:
            break
        keep.add(i)
    return [observations[i] for i in sorted(keep)]
