"""MOBSTER's searcher: a GP over (configuration, epoch) with expected improvement at one rung.

Klein, Tiao, Lienart, Archambeau, Seeger: "Model-based Asynchronous Hyperparameter and Neural
Architecture Search", arXiv:2003.10865, 2020.

Inputs are the encoded configuration plus the epoch as one more coordinate,
``log(epoch) / log(max_epochs)`` in [0, 1]; the kernel is the Matern 5/2 ARD of
:mod:`hpo_methods.searchers.gp` over all d + 1 inputs. Observations are the reports at the rung
levels of the scheduler underneath (``levels``). EI is computed at the *target* level: the largest
rung level with at least ``min_points_at_target`` finite observations (the "BOHB" choice of the
paper; default: number of hyperparameters + 1); the incumbent is the best value observed there.
*Pending* trials are the running ones (as in Syne Tune, which registers a pending evaluation for
a trial only while it trains): each is a posterior-mean fantasy at the rung level it is training
towards (the first level above its last report), not at the target level; a paused trial of the
promotion variant is not pending. Rung reports since the last rebuild are fantasised at their
own levels until the next rebuild (see :mod:`hpo_methods.searchers.gp_searcher`).

Remaining deviations from Syne Tune's MOBSTER (MOBSTER-JOINT): Syne Tune integrates pending
values out by Monte Carlo (joint posterior samples, EI averaged over them) where this searcher
uses the posterior mean (the kriging believer); its default covariance over the epoch is the
exponential-decay learning-curve kernel (``exp-decay-sum``) where this one is Matern 5/2 on
``log(epoch) / log(max_epochs)``; the model and the candidates are rebuilt on the schedule of
:mod:`hpo_methods.searchers.gp_searcher`, not for every proposal.

Cost bounds: at most ``max_history`` observations are modelled (highest levels first, then the
most recent); hyperparameters are re-estimated every ``refit_every`` observations (later every
20% growth) and fixed in between; the GP and the candidate set are rebuilt at most after every
observation, later every 4% growth (:mod:`hpo_methods.searchers.gp_searcher`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable

import numpy as np

from hpo_methods.searchers.common import check_int
from hpo_methods.searchers.gp_searcher import GPSearcher, TrainingData
from hpo_methods.space import SearchSpace


class MobsterSearcher(GPSearcher):
    """MOBSTER's GP searcher (see the module docstring); ``targets`` logs each proposal's level."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        levels: Iterable[int],
        n_initial: int | None = None,
        min_points_at_target: int | None = None,
        refit_every: int = 5,
        max_history: int = 200,
        target_transform: str = "none",
        n_candidates: int = 500,
        max_finite: int = 2000,
    ) -> None:
        super().__init__(
            space,
            seed,
            max_epochs,
            input_dim=space.dim + 1,
            n_initial=n_initial if n_initial is not None else max(5, len(space.domains) + 1),
            refit_every=refit_every,
            max_history=max_history,
            target_transform=target_transform,
            n_candidates=n_candidates,
            max_finite=max_finite,
        )
        self.levels = sorted({int(r) for r in levels} | {max_epochs})
        if self.levels[0] < 1 or self.levels[-1] > max_epochs:
            raise ValueError(f"rung levels must lie in 1..{max_epochs} (got {self.levels})")
        self.min_points_at_target = check_int(
            "min_points_at_target",
            min_points_at_target if min_points_at_target is not None else len(space.domains) + 1,
        )
        self.data: dict[tuple[int, int], float] = {}  # (trial_id, level) -> value, arrival order
        self.finite_counts: dict[int, int] = {}  # level -> number of finite values there
        self.at_level: dict[int, set[int]] = {lv: set() for lv in self.levels}
        self.targets: list[int | None] = []  # the target level of each model-based proposal
        self._log_max = math.log(max_epochs) if max_epochs > 1 else 1.0

    def on_report(self, trial_id: int, epoch: int, value: float) -> None:
        super().on_report(trial_id, epoch, value)
        if epoch in self.at_level and (trial_id, epoch) not in self.data:
            self.data[(trial_id, epoch)] = value if math.isfinite(value) else math.inf
            self.at_level[epoch].add(trial_id)
            if math.isfinite(value):
                self.finite_counts[epoch] = self.finite_counts.get(epoch, 0) + 1

    def level_coordinate(self, level: int) -> float:
        """The epoch's input coordinate: log(level) / log(max_epochs)."""
        return math.log(level) / self._log_max

    def target_level(self) -> int | None:
        """The largest level with at least ``min_points_at_target`` finite observations."""
        ready = [lv for lv, c in self.finite_counts.items() if c >= self.min_points_at_target]
        return max(ready, default=None)

    def propose(self):
        n_model = self.sources.count("model")
        config = super().propose()
        if self.sources.count("model") > n_model:
            self.targets.append(self.target_level())
        return config

    # -- the GPSearcher hooks ---------------------------------------------------------------------

    def n_observations(self) -> int:
        return len(self.data)

    def model_ready(self) -> bool:
        return self.target_level() is not None

    def model_key(self) -> Hashable:
        return self.target_level()

    def history(self) -> list[tuple[int, int, float]]:
        """``(trial_id, level, value)`` kept for the model: highest levels, then most recent."""
        items = [(t, lv, v) for (t, lv), v in self.data.items()]
        if len(items) <= self.max_history:
            return items
        levels = np.array([lv for _, lv, _ in items])
        order = np.lexsort((-np.arange(len(items)), -levels))  # level first, then recency
        return [items[i] for i in np.sort(order[: self.max_history])]

    def training_data(self) -> TrainingData:
        kept = self.history()
        ids = [t for t, _, _ in kept]
        levels = np.array([lv for _, lv, _ in kept])
        inputs = np.hstack([self.encode_trials(ids), self._level_column(levels)])
        values = np.array([v for _, _, v in kept])
        at_target = levels == self.target_level()
        if not at_target.any():  # the bounded history cut them all: use every row
            at_target[:] = True
        return TrainingData(ids, inputs, values, at_target)

    def to_inputs(self, points: np.ndarray) -> np.ndarray:
        target = self.target_level()
        return np.hstack([points, self._level_column(np.full(len(points), target))])

    def known_keys(self) -> set[Hashable]:
        return set(self.data)

    def next_level(self, trial_id: int) -> int | None:
        """The rung level a trial is training towards: the first level above its last report."""
        last = self.trials[trial_id].last_epoch
        i = bisect.bisect_right(self.levels, last)
        return self.levels[i] if i < len(self.levels) else None

    def pending_points(self) -> list[tuple[int, int]]:
        """``(trial_id, level)`` of every running trial at the level it trains towards (sorted).
        Paused trials are not pending: they train towards nothing until promoted."""
        points = ((t, self.next_level(t)) for t in self.running)
        return sorted((t, lv) for t, lv in points if lv is not None)

    def fantasy_keys(self, known: set[Hashable]) -> list[Hashable]:
        """Rung reports since the rebuild, at their levels, and the pending points."""
        return sorted((set(self.data) - known) | set(self.pending_points()))

    def key_inputs(self, keys: list[Hashable]) -> np.ndarray:
        ids = [t for t, _ in keys]
        levels = np.array([lv for _, lv in keys])
        return np.hstack([self.encode_trials(ids), self._level_column(levels)])

    def key_at_target(self, key: Hashable) -> bool:
        return key[1] == self.target_level()

    def _level_column(self, levels: np.ndarray) -> np.ndarray:
        return (np.log(np.asarray(levels, dtype=float)) / self._log_max).reshape(-1, 1)
