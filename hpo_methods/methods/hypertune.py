"""Hyper-Tune: learned brackets, delayed asynchronous promotions, a multi-fidelity ensemble.

Li, Shen, Jiang, Zhang, Li, Liu, Zhang, Cui: "Hyper-Tune: Towards Efficient Hyper-parameter Tuning
at Scale", PVLDB 15(6), 2022. Its three parts, and where each lives:

1. *Bracket selection learned from how well each level ranks configurations* and 2. *delayed
   asynchronous successive halving (D-ASHA)*: :mod:`hpo_methods.schedulers.hypertune` (``p_s``
   proportional to ``theta_{b_s} / b_s`` with theta from 3.; one rung system shared by all
   brackets; a rung of n values promotes at most floor(n / eta) trials in all).
3. *Multi-fidelity optimiser*: as in MFES-HB (Li et al., AAAI 2021), one surrogate per rung
   level, combined into an ensemble whose weights theta come from ranking losses. This module:

   - Data: every report at a rung level r (every trial reports every epoch, so a trial that
     trained e epochs contributes to every level <= e, whichever level its bracket started at).
     The *target* level T is the highest level with at least ``min_points_at_target`` finite
     values.
   - Surrogates: one GP per level r <= T (:class:`~hpo_methods.searchers.gp.GPModel`: Matern 5/2
     ARD + noise, standardised targets; hyperparameters re-estimated every ``refit_every`` new
     values at that level, then every 20% growth; at most ``max_history`` values per level, the
     best half of that number plus the most recent; a level whose values did not change keeps
     its last fit).
   - Ranking loss of level r < T: the fraction of discordant pairs, ``(1 - Kendall tau) / 2``,
     between a joint posterior sample of level r's GP at the configurations observed at T and
     their values at T (at most ``max_rank_points``, the most recent). For T itself the GP is
     cross-validated: ``min(n // 2, 5)`` contiguous folds (:func:`fold_sizes`), each fold's loss
     over its own pairs under the GP (kernel as fitted) conditioned on the other folds, averaged.
     With ``n_samples`` joint samples, ``theta_r`` is the share of samples in which level r has
     the smallest loss (ties count for each level tied); theta is recomputed when T or the number
     of values at T changes. The same theta drives the ensemble and the brackets.
   - Acquisition: the generalised product of experts (gPoE) of the level GPs with weights theta,
     in each level's standardised units: precision ``sum_r theta_r / sigma_r^2``, mean
     ``sum_r theta_r mu_r / sigma_r^2`` over that precision; expected improvement (log EI) below
     the ensemble mean's minimum over the configurations observed at T, maximised as in
     :func:`~hpo_methods.searchers.acquisition.search_points` (random candidates plus local
     search, each point scored once; on a finite space the fresh candidates, a random subset of
     at most 5000).
   - Pending: trials still *running* enter every level's GP at which they have no value yet as
     posterior-mean fantasies (kriging believer: the variance shrinks, the mean stays). Paused
     trials do not: under D-ASHA most of them are never resumed, and their configurations are
     excluded from proposals anyway.
   - Exploration: the first ``n_initial`` proposals, every proposal before T exists, and a
     ``random_fraction`` of the others are uniform random configurations.

*Sources, rule by rule.* The paper's own text was not at hand (only its abstract); the rules were
checked against the authors' released code, github.com/thomas-young-2013/HyperTune (the
method is ``tuner/async_mq_mfes.py``, registered as ``tuner`` in ``tuner/__init__.py``), against
Syne Tune's Hyper-Tune (``syne_tune/optimizer/schedulers/searchers/bayesopt/gpautograd/
hypertune/utils.py``, whose docstring says its ranking losses follow the paper's definition,
and ``gp_model.py``), and
against the MFES-HB code (github.com/PKU-DAIR/MFES-HB, ``mfeshb/optimizer/mfeshb.py``).

- Ranking loss, joint samples, cross-validation at T (fold count and sizes), theta as the share
  of samples won with ties counted for every tied level, recomputation on a new (T, n at T),
  and T as the highest level with >= 6 values: as Syne Tune (``hypertune_ranking_losses``,
  ``_losses_for_rung``, ``_losses_for_maximum_rung_by_cross_validation``,
  ``number_supported_levels_and_data_highest_level``, ``fit_distributions``). Syne Tune draws
  50 samples by default (100 here) and drops weights below 0.01 from the ensemble.
- The authors' code computes theta differently by default (``weight_method=
  'rank_loss_p_norm'``): ``theta_r`` proportional to the cube of the fraction of pairs the level's
  *mean* prediction orders like the values at R, the level R by 5-fold cross-validation once it
  has 10 values, and then the weight of R replaced by a schedule growing with the number of
  values at R (``increasing_weight``); theta is only computed against R, from 8 values there on.
  Its sampling variant (``rank_loss_prob``: the share of 100 samples in which a level orders the
  most pairs right) is the rule used here.
- Ensemble: MFES-HB's abstract describes its ensemble as a generalised product of experts, which
  is what this module computes. The released codes combine linearly instead (MFES-HB and
  Hyper-Tune: ``fusion_method='idp'``, mean ``sum_r theta_r mu_r``, variance
  ``sum_r theta_r^2 sigma_r^2``, OpenBox ``surrogate/base/rf_ensemble.py``; Syne Tune's
  ``HyperTuneIndependentGPPosteriorState`` the same).
- Deliberate differences: GPs instead of the paper's probabilistic random forests (SMAC3's, per
  the README of github.com/PKU-DAIR/HyperTune; Syne Tune uses GPs too, independent per level but
  sharing one ARD kernel, while here each level has its own); EI maximised by random and local
  search instead of SMAC's interleaved local and random search; pending trials as fantasies
  (the authors' code ignores them by default; Syne Tune fantasises); a random fraction of 0.2
  (the authors' code: 0.3, and random proposals until every level, R included, has a value).

Cost: 8-12 s of real time for one simulated run on the default benchmark (resnet8_cifar10
surrogate, 20 epochs, 4 workers, 1800 s; 400-600 trials, most of them model-based; 2-core
machine): about half GP hyperparameter re-estimation, half the acquisition (up to four level
GPs scored at about 1100 points per proposal).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import pairwise

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method, Stream, TrialStatus, random_stream
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


def fold_sizes(n: int) -> list[int]:
    """Sizes of the contiguous cross-validation folds of ``n >= 4`` values at the target level:
    ``min(n // 2, 5)`` folds of at least two values, the larger folds last."""
    if n < 4:
        raise ValueError(f"cross-validation needs at least 4 values (got {n})")
    k = min(n // 2, MAX_FOLDS)
    small, extra = divmod(n, k)
    return [small] * (k - extra) + [small + 1] * extra


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


def product_of_experts(
    experts: Iterable[tuple[float, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the generalised product of Gaussian experts given as
    ``(weight, mean, variance)``: precision ``sum_i w_i / var_i``, mean
    ``sum_i w_i mean_i / var_i`` over that precision."""
    precision = weighted = 0.0
    for w, mean, var in experts:
        p = w / np.asarray(var, dtype=float)
        precision = precision + p
        weighted = weighted + p * np.asarray(mean, dtype=float)
    return weighted / precision, 1.0 / np.sqrt(precision)


class MemoScore:
    """An acquisition function that remembers what it scored, so the search's points are not
    scored a second time when the best of them is picked."""

    def __init__(self, score: Callable[[np.ndarray], np.ndarray]) -> None:
        self.score = score
        self.known: dict[bytes, float] = {}

    def __call__(self, points: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.score(points), dtype=float)
        self.known.update(zip(map(np.ndarray.tobytes, points), scores.tolist(), strict=True))
        return scores

    def lookup(self, points: np.ndarray) -> np.ndarray:
        """Scores of ``points``, scoring only those not seen before."""
        keys = [p.tobytes() for p in points]
        missing = [i for i, k in enumerate(keys) if k not in self.known]
        if missing:
            self(points[missing])
        return np.array([self.known[k] for k in keys])


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
        streams = random_stream(seed, Stream.MODEL).spawn(len(self.levels))  # one per level's GP
        self.models = {lv: GPModel(space.dim, streams[k]) for k, lv in enumerate(self.levels)}
        self._n_at_refit: dict[int, int | None] = dict.fromkeys(self.levels)
        self._fits: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # level -> (n_seen, x, z)
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
        target = self.target_level()
        # The exploration draw comes only once a model could be used, so the initial random
        # design is every method's for this seed (common random numbers, hpo_methods.protocol).
        if (
            target is not None
            and len(self.trials) >= self.n_initial
            and self.rng.random() >= self.random_fraction
        ):
            config = self._from_model(target)
            if config is not None:
                self.sources.append("model")
                self.targets.append(target)
                return config
        return self.random_proposal()

    def _fit_level(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Fit level ``level``'s GP; return its inputs and standardised targets. A level whose
        values did not change since its last fit keeps that fit."""
        cached = self._fits.get(level)
        if cached is not None and cached[0] == self.n_seen[level]:
            return cached[1], cached[2]
        kept = bounded_history(self.data[level], self.max_history)
        x = self.encode_trials([t for t, _ in kept])
        y = transform_targets(np.array([v for _, v in kept]), self.target_transform)
        model = self.models[level]
        optimize = refit_due(self.n_seen[level], self._n_at_refit[level], self.refit_every)
        model.fit(x, y, optimize)
        if optimize:
            self._n_at_refit[level] = self.n_seen[level]
        z = np.asarray(model.standardise(y), dtype=float)
        self._fits[level] = (self.n_seen[level], x, z)
        return x, z

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
            experts = []
            for lv, w in theta.items():
                query = self.models[lv].parts(points)
                experts.append(
                    (w, query.mean, self.models[lv].fantasy_variance(query, pending[lv]))
                )
            return product_of_experts(experts)

        at_target = [t for t, v in self.data[target].items() if math.isfinite(v)]
        x_target = self.encode_trials(at_target)
        mean_target, _ = ensemble(x_target)
        best = float(np.min(mean_target))

        score = MemoScore(lambda points: log_expected_improvement(*ensemble(points), best))

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
        return best_unseen(self.space, points, score.lookup(points), self.seen)

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
        bounds = np.cumsum([0, *fold_sizes(len(y))])
        n_folds = len(bounds) - 1
        total = np.zeros(self.n_samples)
        for start, end in pairwise(bounds):
            train = np.r_[0:start, end : len(y)]
            samples = joint_samples(
                model, x[train], z[train], x[start:end], self.n_samples, self.rng
            )
            total += discordant_fraction(samples, y[start:end])
        return total / n_folds


def make(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int | None = None,
    delayed_promotion: bool = True,
    promotion_threshold: bool = True,
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
    space, max_epochs = problem.space, problem.max_epochs
    scheduler = HyperTuneScheduler(
        max_epochs,
        seed,
        grace_period,
        reduction_factor,
        brackets,
        delayed_promotion,
        promotion_threshold,
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
    return Method(searcher, scheduler, problem, "hypertune")
