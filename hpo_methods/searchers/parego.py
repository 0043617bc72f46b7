"""ParEGO: GP-EI search on a random augmented-Chebyshev scalarisation of several objectives.

Knowles: "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for Expensive
Multiobjective Optimization Problems", IEEE TEVC 2006; random scalarisations as a general
recipe: Paria, Kandasamy, Poczos: "A Flexible Framework for Multi-Objective Bayesian Optimization
using Random Scalarizations", UAI 2019.

Before each model-based proposal a weight vector ``lambda`` is drawn uniformly from Knowles's
lattice: the vectors whose ``k`` components are multiples of ``1/s`` and sum to 1 (``s = 11`` for
two objectives, 12 vectors; ``s = 5`` for three, 21; ``s = 3`` beyond). Every finished trial's
objectives (each to minimise, at its last epoch) are scaled to [0, 1] by the smallest and largest
finite value observed so far, and scalarised as

    f_lambda = max_j(lambda_j f_j) + rho * sum_j(lambda_j f_j),   rho = 0.05,

and the GP-EI machinery of :class:`~hpo_methods.searchers.gp_bo.GPBOSearcher` (fantasies for
pending trials, bounded history, refit schedule) proposes the next configuration for that
scalarisation; a failed trial counts as the worst scalarised value. A new weight is a new model
target, so every model-based proposal rebuilds the GP (its hyperparameters keep the refit schedule
of ``refit_every``; Knowles re-estimates them at every step).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence

import numpy as np

from hpo_methods.searchers.gp_bo import GPBOSearcher, bounded_history
from hpo_methods.searchers.gp_searcher import TrainingData
from hpo_methods.space import Config, SearchSpace

RHO = 0.05


def weight_lattice(n_objectives: int) -> np.ndarray:
    """Knowles's weight vectors: components in {0, 1/s, ..., 1} summing to 1 (module docstring)."""
    if n_objectives < 1:
        raise ValueError(f"n_objectives must be >= 1 (got {n_objectives})")
    s = {1: 1, 2: 11, 3: 5}.get(n_objectives, 3)
    rows = [c for c in itertools.product(range(s + 1), repeat=n_objectives) if sum(c) == s]
    return np.array(rows, dtype=float) / s


def chebyshev(values: np.ndarray, weights: np.ndarray, rho: float = RHO) -> np.ndarray:
    """The augmented Chebyshev scalarisation of rows of scaled objectives (module docstring)."""
    weighted = np.asarray(values, dtype=float) * np.asarray(weights, dtype=float)
    return weighted.max(axis=1) + rho * weighted.sum(axis=1)


class ParEGOSearcher(GPBOSearcher):
    """GP-EI on a fresh random scalarisation per proposal (see the module docstring).

    The searcher sees tuples of objectives; its trial records keep, as the single value the
    shared bookkeeping needs, the largest objective (finite exactly when every objective is).
    """

    def __init__(self, space: SearchSpace, seed: int, max_epochs: int, n_objectives: int,
                 **settings) -> None:  # fmt: skip
        super().__init__(space, seed, max_epochs, **settings)
        self.lattice = weight_lattice(n_objectives)
        self.n_objectives = n_objectives
        self.weights = self.lattice[len(self.lattice) // 2]
        self._draw = 0
        self.vectors: dict[int, dict[int, tuple[float, ...]]] = {}  # trial -> epoch -> values

    def on_report(self, trial_id: int, epoch: int, value: Sequence[float]) -> None:
        vector = tuple(float(v) for v in value)
        if len(vector) != self.n_objectives:
            raise ValueError(f"expected {self.n_objectives} objectives, got {len(vector)}")
        self.vectors.setdefault(trial_id, {})[epoch] = vector
        super().on_report(trial_id, epoch, max(vector))

    def propose(self) -> Config | None:
        if len(self.trials) >= self.n_initial and self.model_ready():
            self.weights = self.lattice[int(self.rng.integers(len(self.lattice)))]
            self._draw += 1
        return super().propose()

    def model_key(self) -> Hashable:
        return self._draw  # a new weight is a new target: rebuild

    def training_data(self) -> TrainingData:
        ids, vectors = [], []
        for trial_id in sorted(self.finished):
            trial = self.trials[trial_id]
            per_epoch = self.vectors.get(trial_id, {})
            last = per_epoch.get(trial.last_epoch) if per_epoch else None
            ids.append(trial_id)
            vectors.append(last if last is not None else (math.inf,) * self.n_objectives)
        values = self.scalarise(np.array(vectors, dtype=float))
        observations = [(t, self.trials[t].config, v) for t, v in zip(ids, values, strict=True)]
        kept = bounded_history(observations, self.max_history)
        kept_ids = [t for t, _, _ in kept]
        y = np.array([v for _, _, v in kept])
        return TrainingData(kept_ids, self.encode_trials(kept_ids), y,
                            np.ones(len(kept_ids), dtype=bool))  # fmt: skip

    def scalarise(self, vectors: np.ndarray) -> np.ndarray:
        """Scale each objective to [0, 1] over the finite rows, then apply :func:`chebyshev`;
        rows with a non-finite objective get +inf."""
        finite = np.isfinite(vectors).all(axis=1)
        out = np.full(len(vectors), math.inf)
        if not finite.any():
            return out
        low = vectors[finite].min(axis=0)
        span = vectors[finite].max(axis=0) - low
        scaled = (vectors[finite] - low) / np.where(span > 0, span, 1.0)
        out[finite] = chebyshev(scaled, self.weights)
        return out
