"""Hyper-Tune: learned brackets, delayed asynchronous promotions, a multi-fidelity ensemble.

Li, Shen, Jiang, Zhang, Zhang, Cui: "Hyper-Tune: Towards Efficient Hyper-parameter Tuning at
Scale", PVLDB 15(6), 2022. Its three parts, and what this module does for each:

1. *Bracket selection learned from how well each level ranks configurations*: in
   :mod:`hpo_methods.schedulers.hypertune` (``p_s`` proportional to ``theta_{b_s} / b_s``, with
   theta from 3. below).
2. *Delayed asynchronous successive halving (D-ASHA)*: in the same scheduler.
3. *Multi-fidelity optimiser*: in the spirit of MFES-HB (Li et al., AAAI 2021), one surrogate per
   rung level, combined into an ensemble whose weights theta come from ranking losses:

   - Data: every report at a rung level r (any bracket's level; every trial reports every epoch,
     so a trial that trained e epochs contributes to every level <= e). The *target* level T is
     the highest level with at least ``min_points_at_target`` finite values.
   - Surrogates: one GP per level r <= T (:class:`~hpo_methods.searchers.gp.GPModel`: Matern 5/2
     ARD + noise, standardised targets; hyperparameters re-estimated every ``refit_every`` new
     values at that level, then every 20% growth; at most ``max_history`` values per level, the
     best half of that number plus the most recent). The paper uses probabilistic random forests.
   - Ranking loss of level r: the fraction of discordant pairs, ``(1 - Kendall tau) / 2``, between
     a joint posterior sample of level r's GP at the configurations observed at T and their values
     at T (at most ``max_rank_points``, the most recent). For T itself the GP is cross-validated
     (min(n // 2, 5) contiguous folds, each fold's loss over its own pairs, averaged). With
     ``n_samples`` joint samples, ``theta_r`` is the share of samples in which level r has the
     smallest loss (ties count for each level tied); theta is recomputed when T or the number of
     values at T changes.
   - Acquisition: the generalised product of experts of the level GPs, in each level's
     standardised units: precision ``sum_r theta_r / sigma_r^2``, mean
     ``sum_r theta_r mu_r / sigma_r^2`` over that precision; expected improvement (log EI) below
     the ensemble mean's minimum over the configurations observed at T, maximised as in
     :func:`~hpo_methods.searchers.acquisition.search_points` (random candidates plus local
     search; on a finite space the fresh candidates, a random subset of at most 5000).
   - Pending: trials still *running* enter every level's GP at which they have no value yet as
     posterior-mean fantasies (kriging believer: the variance shrinks, the mean stays). Paused
     trials do not: under D-ASHA most of them are never resumed, and their configurations are
     excluded from proposals anyway.
   - Exploration: the first ``n_initial`` proposals, every proposal before T exists, and a
     ``random_fraction`` of the others (a tunebench choice, as BOHB's random fraction) are
     uniform random configurations.

What is not as in the paper, or not checked against it: its surrogates are probabilistic random
forests (SMAC3's, per the README of its code); here they are GPs, and EI is maximised by
:func:`~hpo_methods.searchers.acquisition.search_points`. The paper's text was not at hand: how
it draws the samples behind theta (joint or marginal, how many), that one theta drives both the
ensemble and the brackets, and the ``theta / b_s`` bracket rule follow Syne Tune's Hyper-Tune
implementation (joint GP samples, cross-validation at T); check them against the paper before
citing them as its method.

Cost: about 7 s of real time per simulated run of ``scripts/bench_schedulers.py`` (200-config
table, 27 epochs, 4 workers, 3 simulated hours), almost all of it the GP hyperparameter
re-estimation of the per-level models; theta itself (joint samples at <= ``max_rank_points``
points) and the acquisition are cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import pairwise

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky

from hpo_methods.protocol import Method, TrialStatus
from hpo_methods.schedulers.hypertune import HyperTuneScheduler
from hpo_methods.searchers.acquisition import log_expected_improvement, search_points
from hpo_methods.searchers.common import BaseSearcher, best_unseen, check_fraction, check_int
from hpo_methods.searchers.gp import (
    JITTER,
    TARGET_TRANSFORMS,
    GPModel,
    PointParts,
    refit_due,
    single_blas_thread,
    transform_targets,
)
from hpo_methods.space import Config, SearchSpace

N_CENTRES = 3  # best configurations at T that also seed the local search
MAX_FOLDS = 5
MAX_FINITE = 5000  # fresh candidates of a finite space scored per proposal (a random subset)


def discordant_fraction(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per sample (column of ``samples``, n x S), the fraction of the n(n-1)/2 pairs that it
    orders differently from ``y`` (strictly smaller in one, not in the other): (1 - tau) / 2
    for Kendall's tau without ties."""
    n = len(y)
    if n < 2:
        raise ValueError("a ranking loss needs at least two points")
    i, j = np.triu_indices(n, k=1)
    y_less = (y[i] < y[j])[:, None]
    f_less = samples[i] < samples[j]
    return np.mean(f_less != y_less, axis=0)


def joint_posterior(
    model: GPModel, x_train: np.ndarray, z_train: np.ndarray, x_query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of noisy observations at ``x_query`` under the GP with ``model``'s
    kernel conditioned on standardised targets ``z_train`` at ``x_train``."""
    kernel = model.kernel
    with single_blas_thread():
        chol = cholesky(
            kernel(x_train) + JITTER * np.eye(len(x_train)), lower=True, check_finite=False
        )
        k_star = kernel(x_query, x_train)
        mean = k_star @ cho_solve((chol, True), z_train, check_finite=False)
        v = cho_solve((chol, True), k_star.T, check_finite=False)
        cov = kernel(x_query) - k_star @ v  # kernel(x) has the noise on its diagonal
    return mean, 0.5 * (cov + cov.T)


def joint_samples(
    model: GPModel,
    x_train: np.ndarray,
    z_train: np.ndarray,
    x_query: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n_samples`` joint draws (len(x_query) x n_samples) from :func:`joint_posterior`."""
    mean, cov = joint_posterior(model, x_train, z_train, x_query)
    jitter = JITTER
    while True:
        try:
            root = cholesky(cov + jitter * np.eye(len(cov)), lower=True, check_finite=False)
            break
        except LinAlgError:
            if jitter > 1e-2:
                raise
            jitter *= 100
    return mean[:, None] + root @ rng.standard_normal((len(x_query), n_samples))


def bounded_history(values: dict[int, float], max_history: int) -> list[tuple[int, float]]:
    """At most ``max_history`` of the ``{trial: value}`` items (in their order): the best half
    of that number, then the most recent others."""
    items = list(values.items())
    if len(items) <= max_history:
        return items
    order = np.argsort([v for _, v in items], kind="stable")
    keep = set(order[: max_history // 2].tolist())
    for i in range(len(items) - 1, -1, -1):
        if len(keep) >= max_history:
            break
        keep.add(i)
    return [items[i] for i in sorted(keep)]


def ensemble_weights(losses: np.ndarray) -> np.ndarray:
    """theta from a (levels x samples) loss matrix: the share of samples each level is best in
    (ties count for every tied level), normalised to sum to one."""
    wins = (losses == losses.min(axis=0, keepdims=True)).sum(axis=1).astype(float)
    return wins / wins.sum()


class HyperTuneSearcher(BaseSearcher):
    """Hyper-Tune's multi-fidelity searcher (see the module docstring)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        levels: Iterable[int],
        n_initial: int | None = None,
        min_points_at_target: int = 6,
        random_fraction: float = 0.2,
        n_samples: int = 100,
        max_rank_points: int = 100,
        refit_every: int = 5,
        max_history: int = 200,
        target_transform: str = "none",
        n_candidates: int = 500,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.levels = sorted({int(r) for r in levels} | {max_epochs})
        if self.levels[0] < 1 or self.levels[-1] > max_epochs:
            raise ValueError(f"rung levels must lie in 1..{max_epochs} (got {self.levels})")
        self.n_initial = check_int(
            "n_initial", n_initial if n_initial is not None else max(5, len(space.domains) + 1)
        )
        self.min_points_at_target = check_int("min_points_at_target", min_points_at_target, 4)
        self.random_fraction = check_fraction("random_fraction", random_fraction)
        self.n_samples = check_int("n_samples", n_samples)
        self.max_rank_points = check_int("max_rank_points", max_rank_points, 4)
        self.refit_every = check_int("refit_every", refit_every)
        self.max_history = check_int("max_history", max_history, 2)
        self.n_candidates = check_int("n_candidates", n_candidates)
        if target_transform not in TARGET_TRANSFORMS:
            raise ValueError(
                f"target_transform must be one of {', '.join(TARGET_TRANSFORMS)} "
                f"(got {target_transform!r})"
            )
        self.target_transform = target_transform
        self.data: dict[int, dict[int, float]] = {lv: {} for lv in self.levels}
        self.n_seen = dict.fromkeys(self.levels, 0)
        self.models = {lv: GPModel(space.dim, seed + 7919 * k) for k, lv in enumerate(self.levels)}
        self._n_at_refit: dict[int, int | None] = dict.fromkeys(self.levels)
        self.level_weights: dict[int, float] | None = None  # theta, read by the scheduler
        self.weights_history: list[tuple[int, dict[int, float]]] = []  # (n trials, theta)
        self._signature: tuple[int, int] | None = None
        self.targets: list[int | None] = []  # the target level of each model-based proposal

    # -- data -------------------------------------------------------------------------------

    def on_report(self, trial_id: int, epoch: int, value: float) -> None:
        super().on_report(trial_id, epoch, value)
        if epoch in self.data:
            self.data[epoch][trial_id] = value if math.isfinite(value) else math.inf
            self.n_seen[epoch] += 1

    def target_level(self) -> int | None:
        """The highest level with at least ``min_points_at_target`` finite values."""
        ready = [
            lv
            for lv, values in self.data.items()
            if sum(math.isfinite(v) for v in values.values()) >= self.min_points_at_target
        ]
        return max(ready, default=None)

    # -- proposals --------------------------------------------------------------------------

    def propose(self) -> Config | None:
        explore = self.rng.random() < self.random_fraction
        target = self.target_level()
        if not explore and target is not None and len(self.trials) >= self.n_initial:
            config = self._from_model(target)
            if config is not None:
                self.sources.append("model")
                self.targets.append(target)
                return config
        return self.random_proposal()

    def _fit_level(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Fit level ``level``'s GP; return its inputs and standardised targets."""
        kept = bounded_history(self.data[level], self.max_history)
        x = self.encode_trials([t for t, _ in kept])
        y = transform_targets(np.array([v for _, v in kept]), self.target_transform)
        model = self.models[level]
        optimize = refit_due(self.n_seen[level], self._n_at_refit[level], self.refit_every)
        model.fit(x, y, optimize)
        if optimize:
            self._n_at_refit[level] = self.n_seen[level]
        return x, np.asarray(model.standardise(y), dtype=float)

    def _from_model(self, target: int) -> Config | None:
        used = [lv for lv in self.levels if lv <= target]
        fitted = {lv: self._fit_level(lv) for lv in used}
        signature = (target, len(self.data[target]))
        if signature != self._signature:
            self._signature = signature
            self.level_weights = self._weights(target, used, fitted)
            self.weights_history.append((len(self.trials), dict(self.level_weights)))
        theta = {lv: w for lv, w in self.level_weights.items() if w > 0}
        running = [t.trial_id for t in self.pending() if t.status == TrialStatus.RUNNING]
        pending: dict[int, PointParts | None] = {}
        for lv in theta:
            waiting = [t for t in running if t not in self.data[lv]]
            pending[lv] = self.models[lv].parts(self.encode_trials(waiting)) if waiting else None

        def ensemble(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            precision = np.zeros(len(points))
            weighted = np.zeros(len(points))
            for lv, w in theta.items():
                model = self.models[lv]
                query = model.parts(points)
                p = w / model.fantasy_variance(query, pending[lv])
                precision += p
                weighted += p * query.mean
            return weighted / precision, 1.0 / np.sqrt(precision)

        at_target = [t for t, v in self.data[target].items() if math.isfinite(v)]
        x_target = self.encode_trials(at_target)
        mean_target, _ = ensemble(x_target)
        best = float(np.min(mean_target))

        def score(points: np.ndarray) -> np.ndarray:
            return log_expected_improvement(*ensemble(points), best)

        if self.pool is not None:
            fresh = self.pool.fresh(self.seen)
            if len(fresh) == 0:
                return None
            if len(fresh) > MAX_FINITE:
                fresh = np.sort(self.rng.choice(fresh, MAX_FINITE, replace=False))
            return dict(
                self.pool.configs[int(fresh[int(np.argmax(score(self.pool.encoded[fresh])))])]
            )
        centres = x_target[np.argsort(mean_target, kind="stable")[:N_CENTRES]]
        points = search_points(self.space, score, self.rng, centres, self.n_candidates)
        return best_unseen(self.space, points, score(points), self.seen)

    # -- theta --------------------------------------------------------------------------------

    def _weights(
        self, target: int, used: list[int], fitted: dict[int, tuple[np.ndarray, np.ndarray]]
    ) -> dict[int, float]:
        """theta over ``used`` levels from ranking losses at ``target`` (module docstring)."""
        if len(used) == 1:
            return {target: 1.0}
        finite = [(t, v) for t, v in self.data[target].items() if math.isfinite(v)]
        finite = finite[-self.max_rank_points :]
        trials = [t for t, _ in finite]
        y = np.array([v for _, v in finite])
        x = self.encode_trials(trials)
        losses = np.zeros((len(used), self.n_samples))
        for row, lv in enumerate(used[:-1]):
            x_lv, z_lv = fitted[lv]
            samples = joint_samples(self.models[lv], x_lv, z_lv, x, self.n_samples, self.rng)
            losses[row] = discordant_fraction(samples, y)
        losses[-1] = self._cross_validated_losses(target, x, y)
        theta = ensemble_weights(losses)
        return {lv: float(w) for lv, w in zip(used, theta, strict=True)}

    def _cross_validated_losses(self, target: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        model = self.models[target]
        z = np.asarray(model.standardise(transform_targets(y, self.target_transform)), float)
        n_folds = min(len(y) // 2, MAX_FOLDS)
        bounds = np.linspace(0, len(y), n_folds + 1).round().astype(int)
        total = np.zeros(self.n_samples)
        for start, end in pairwise(bounds):
            train = np.r_[0:start, end : len(y)]
            samples = joint_samples(
                model, x[train], z[train], x[start:end], self.n_samples, self.rng
            )
            total += discordant_fraction(samples, y[start:end])
        return total / n_folds


def make(
    space: SearchSpace,
    max_epochs: int,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int | None = None,
    delayed_promotion: bool = True,
    n_initial: int | None = None,
    min_points_at_target: int = 6,
    random_fraction: float = 0.2,
    n_samples: int = 100,
    max_rank_points: int = 100,
    refit_every: int = 5,
    max_history: int = 200,
    target_transform: str = "none",
    n_candidates: int = 500,
) -> Method:
    """Hyper-Tune (settings: see ``conf/method/hypertune.yaml``)."""
    scheduler = HyperTuneScheduler(
        max_epochs, seed, grace_period, reduction_factor, brackets, delayed_promotion
    )
    searcher = HyperTuneSearcher(
        space,
        seed,
        max_epochs,
        levels=scheduler.levels,
        n_initial=n_initial,
        min_points_at_target=min_points_at_target,
        random_fraction=random_fraction,
        n_samples=n_samples,
        max_rank_points=max_rank_points,
        refit_every=refit_every,
        max_history=max_history,
        target_transform=target_transform,
        n_candidates=n_candidates,
    )
    scheduler.weight_source = lambda: searcher.level_weights
    return Method(searcher, scheduler, "hypertune")
