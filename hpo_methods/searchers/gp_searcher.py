"""What BO and MOBSTER share: a GP, expected improvement, pending trials, and amortised cost.

A *rebuild* fits the GP (:class:`~hpo_methods.searchers.gp.GPModel`) to the subclass's training
data, then builds a candidate set: on a continuous space the ``n_candidates`` uniform points and
the ``CACHE_SIZE`` best local-search points of the search of
:mod:`hpo_methods.searchers.acquisition` (scored with the pending trials of that moment; the
uniform points keep later proposals from crowding around one optimum), on a finite space the
fresh candidates (a seeded random subset of at most ``max_finite``). The candidates' posterior
terms are cached. A proposal then
takes the candidate of highest log EI, not tried yet, with the latent variance updated for the
current *fantasy set* (:meth:`GPSearcher.fantasy_keys`): the observations made since the rebuild,
at their inputs (their variance effect is exact; their values are not used until the next
rebuild), and the *pending* trials, those running now (a paused trial is not pending: it may
never resume), each at the point it is training towards. Fantasies are posterior-mean values,
with exact Schur-complement variances and no refit (:class:`~hpo_methods.searchers.gp.Fantasies`
adds each point once). As in the kriging believer, a fantasy below the incumbent at the point
where EI is computed becomes the incumbent, so EI does not reward a candidate next to a pending
trial for its mean alone.

Subclasses may multiply EI by a factor of their own (:meth:`GPSearcher.log_weight`: constrained
BO's probability of feasibility, cost-aware BO's inverse cost), evaluated once per rebuild. Where
the training data has no incumbent row (e.g. no feasible observation yet), EI is flat and the
factor alone ranks the candidates.

Rebuilds happen when the model's inputs change (e.g. MOBSTER's target rung), when the cache has
no fresh candidate left, when the fantasy set grows past ``MAX_FANTASIES``, and once
``max(1, n_at_last_rebuild // 25)`` new observations arrived: after every observation up to 50,
then every 4% growth. So a run of thousands of proposals costs O(log n) full rebuilds plus cheap
O(m n p) proposals, instead of a refit and a full acquisition search per proposal.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from hpo_methods.protocol import Stream, random_stream
from hpo_methods.searchers.acquisition import log_expected_improvement, search_points
from hpo_methods.searchers.common import BaseSearcher, check_int
from hpo_methods.searchers.gp import (
    TARGET_TRANSFORMS,
    Fantasies,
    GPModel,
    PointParts,
    refit_due,
    single_blas_thread,
    transform_targets,
)
from hpo_methods.space import Config, SearchSpace

MAX_FANTASIES = 128
CACHE_SIZE = 300  # continuous spaces: the best local-search points kept for later proposals
REBUILD_DIVISOR = 25
N_CENTRES = 3  # best observed configurations that also seed the local search


@dataclass
class TrainingData:
    """What the model is fitted to: one row per observation (a trial may have several)."""

    trial_ids: list[int]  # the trial of each row
    inputs: np.ndarray
    values: np.ndarray  # raw values (the target transform comes later)
    incumbent_rows: np.ndarray  # boolean mask: the rows at the model key (the incumbent's rows)


@dataclass
class _Cache:
    """Candidates and their posterior terms, valid until the next rebuild."""

    points: np.ndarray  # encoded configurations (m x space.dim)
    configs: list[Config] | None  # finite space: the candidates' configurations
    parts: PointParts
    best: float  # the incumbent, standardised
    key: Hashable
    known: set[Hashable]  # the observations when the cache was built
    fantasies: Fantasies  # the candidates' variance given the fantasised points
    log_weight: np.ndarray | float = 0.0  # log of the factor multiplying EI (see log_weight)
    fantasised: set[Hashable] = field(default_factory=set)
    fantasy_best: float = math.inf  # the incumbent with the fantasies at the target


class GPSearcher(BaseSearcher):
    """The shared GP-EI machinery (see the module docstring); subclasses define the data."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        input_dim: int,
        n_initial: int,
        refit_every: int,
        max_history: int,
        target_transform: str,
        n_candidates: int,
        max_finite: int,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.n_initial = check_int("n_initial", n_initial)
        self.refit_every = check_int("refit_every", refit_every)
        self.max_history = check_int("max_history", max_history, 2)
        self.n_candidates = check_int("n_candidates", n_candidates)
        self.max_finite = check_int("max_finite", max_finite)
        if target_transform not in TARGET_TRANSFORMS:
            raise ValueError(
                f"target_transform must be one of {', '.join(TARGET_TRANSFORMS)} "
                f"(got {target_transform!r})"
            )
        self.target_transform = target_transform
        self.model = GPModel(input_dim, random_stream(seed, Stream.MODEL))
        self.n_rebuilds = 0
        self._cache: _Cache | None = None
        self._n_at_refit: int | None = None
        self._n_at_rebuild = 0

    # -- what subclasses define -----------------------------------------------------------------

    @abstractmethod
    def n_observations(self) -> int:
        """All observations seen so far (the refit and rebuild schedules count these)."""

    @abstractmethod
    def model_ready(self) -> bool:
        """Whether there is enough data for the model (else proposals are random)."""

    @abstractmethod
    def model_key(self) -> Hashable:
        """What the candidates' inputs depend on besides the configuration (a change rebuilds)."""

    @abstractmethod
    def training_data(self) -> TrainingData:
        """The bounded history the model is fitted to."""

    @abstractmethod
    def to_inputs(self, points: np.ndarray) -> np.ndarray:
        """Model inputs of encoded configurations, at the current model key."""

    @abstractmethod
    def known_keys(self) -> set[Hashable]:
        """Keys of every observation so far (what a rebuild fits the model to, or left out on
        purpose by the bounded history)."""

    @abstractmethod
    def fantasy_keys(self, known: set[Hashable]) -> list[Hashable]:
        """Sorted keys of the points to fantasise, given the observations ``known`` at the last
        rebuild: observations made since, and the running trials at the point each is training
        towards."""

    @abstractmethod
    def key_inputs(self, keys: list[Hashable]) -> np.ndarray:
        """Model inputs of fantasy keys."""

    def key_at_target(self, key: Hashable) -> bool:
        """Whether a fantasy of ``key`` lies where EI is computed (it may become the incumbent)."""
        return True

    def log_weight(self, points: np.ndarray) -> np.ndarray | float:
        """log of a factor multiplying EI at encoded ``points`` (plain EI: 0.0); evaluated after
        the GP is fitted, once per rebuild."""
        return 0.0

    # -- proposals --------------------------------------------------------------------------------

    def propose(self) -> Config | None:
        if len(self.trials) >= self.n_initial and self.model_ready():
            with single_blas_thread():
                if self._rebuild_due():
                    self._rebuild()
                config = self._choose()
                if config is None:  # every cached candidate was taken meanwhile
                    self._rebuild()
                    config = self._choose()
            if config is not None:
                self.sources.append("model")
                return config
        return self.random_proposal()

    def _rebuild_due(self) -> bool:
        cache = self._cache
        if cache is None or cache.key != self.model_key():
            return True
        if len(self.fantasy_keys(cache.known)) > MAX_FANTASIES:
            return True
        new = self.n_observations() - self._n_at_rebuild
        return new >= max(1, self._n_at_rebuild // REBUILD_DIVISOR)

    def _rebuild(self) -> None:
        data = self.training_data()
        y = transform_targets(data.values, self.target_transform)
        n_seen = self.n_observations()
        optimize = refit_due(n_seen, self._n_at_refit, self.refit_every)
        self.model.fit(data.inputs, y, optimize)
        if optimize:
            self._n_at_refit = n_seen
        z = np.asarray(self.model.standardise(y))
        incumbents = z[data.incumbent_rows]
        best = float(np.min(incumbents)) if len(incumbents) else math.inf  # inf: EI is flat
        known = set(self.known_keys())
        pending, pending_best = self._fantasy_parts(self.fantasy_keys(known))
        configs = None
        if self.pool is not None:
            fresh = self.pool.fresh_subset(self.seen, self.rng, self.max_finite)
            points = self.pool.encoded[fresh]
            configs = [self.pool.configs[i] for i in fresh]
        else:
            rows = np.flatnonzero(data.incumbent_rows)
            order = rows[np.argsort(z[rows], kind="stable")[:N_CENTRES]]
            centres = self.encode_trials([data.trial_ids[i] for i in order])

            believed = min(best, pending_best) if math.isfinite(best) else math.inf

            def score(points: np.ndarray) -> np.ndarray:
                log_ei = self._log_ei(self.model.parts(self.to_inputs(points)), pending, believed)
                return log_ei + self.log_weight(points)

            points = search_points(self.space, score, self.rng, centres, self.n_candidates)
            uniform, local = points[: self.n_candidates], points[self.n_candidates :]
            best_local = local[np.argsort(-score(local), kind="stable")[:CACHE_SIZE]]
            points = np.vstack([uniform, best_local])
        parts = self.model.parts(self.to_inputs(points))
        fantasies = Fantasies(self.model, parts)
        self._cache = _Cache(
            points, configs, parts, best, self.model_key(), known, fantasies,
            self.log_weight(points),
        )  # fmt: skip
        self._cache.fantasy_best = best
        self._n_at_rebuild = n_seen
        self.n_rebuilds += 1

    def _log_ei(self, parts: PointParts, pending: PointParts | None, best: float) -> np.ndarray:
        if not math.isfinite(best):
            return np.zeros(len(parts.mean))
        var = self.model.fantasy_variance(parts, pending)
        return log_expected_improvement(parts.mean, np.sqrt(var), best)

    def _fantasy_parts(self, keys: list[Hashable]) -> tuple[PointParts | None, float]:
        """Posterior terms at the fantasy points of ``keys``, and the best posterior mean among
        those where EI is computed (+inf if none)."""
        if not keys:
            return None, math.inf
        parts = self.model.parts(self.key_inputs(keys))
        at_target = np.array([self.key_at_target(k) for k in keys])
        best = float(np.min(parts.mean[at_target])) if at_target.any() else math.inf
        return parts, best

    def _choose(self) -> Config | None:
        cache = self._cache
        if cache is None or len(cache.points) == 0:
            return None
        new = [k for k in self.fantasy_keys(cache.known) if k not in cache.fantasised]
        if new:  # the fantasy set only grows until the next rebuild
            parts, best_new = self._fantasy_parts(new)
            cache.fantasies.add(parts)
            cache.fantasised.update(new)
            cache.fantasy_best = min(cache.fantasy_best, best_new)
        if math.isfinite(cache.best):
            var = cache.fantasies.variance()
            scores = log_expected_improvement(cache.parts.mean, np.sqrt(var), cache.fantasy_best)
        else:
            scores = np.zeros(len(cache.points))  # no incumbent: the weight alone decides
        scores = scores + cache.log_weight
        for i in np.argsort(-scores, kind="stable"):
            if cache.configs is not None:
                config = dict(cache.configs[i])
            else:
                config = self.space.decode(cache.points[i])
            if self.space.key(config) not in self.seen:
                return config
        return None

