"""Helpers shared by the model-based searchers: observations, fresh configurations, snapping.

Model-based searchers work in the encoded space [0, 1]^d of :class:`~hpo_methods.space.SearchSpace`.
A point of that space is *legal* when it is the encoding of a configuration (one-hot for choices,
an integer's own coordinate for integers); :func:`snap` maps any point to the legal point that
decodes to the same configuration, so the models see exactly what will be evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from hpo_methods.protocol import Searcher, TrialStatus
from hpo_methods.space import (
    Choice,
    Config,
    Domain,
    FinRange,
    LogUniform,
    RandInt,
    SearchSpace,
    Uniform,
)


def final_observations(searcher: Searcher) -> list[tuple[int, Config, float]]:
    """``(trial_id, config, value)`` of every finished full-fidelity trial, in trial order.

    A completed trial contributes its value at its last epoch; a failed trial contributes +inf.
    Stopped trials (only possible under an early-stopping scheduler) are left out.
    """
    out = []
    for trial_id in sorted(searcher.trials):
        t = searcher.trials[trial_id]
        if t.status == TrialStatus.COMPLETED and t.values:
            value = t.values[t.last_epoch]
            out.append((trial_id, t.config, value if math.isfinite(value) else math.inf))
        elif t.status == TrialStatus.FAILED:
            out.append((trial_id, t.config, math.inf))
    return out


class CandidatePool:
    """The candidates of a finite space, encoded once, with their keys."""

    def __init__(self, space: SearchSpace) -> None:
        if space.candidates is None:
            raise ValueError("CandidatePool needs a space with a finite list of candidates")
        self.configs: list[Config] = [dict(c) for c in space.candidates]
        self.encoded = space.encode_many(self.configs)
        self.keys = [space.key(c) for c in self.configs]

    def fresh(self, seen: set[tuple]) -> np.ndarray:
        """Indices of the candidates not in ``seen``."""
        return np.array([i for i, k in enumerate(self.keys) if k not in seen], dtype=int)

    def fresh_subset(self, seen: set[tuple], rng: np.random.Generator, limit: int) -> np.ndarray:
        """Indices of fresh candidates: all of them, or a random ``limit`` of them (sorted)."""
        fresh = self.fresh(seen)
        if len(fresh) > limit:
            fresh = np.sort(rng.choice(fresh, limit, replace=False))
        return fresh


def random_config(
    space: SearchSpace,
    rng: np.random.Generator,
    seen: set[tuple],
    pool: CandidatePool | None = None,
    max_draws: int = 1000,
) -> Config | None:
    """A uniform draw that is not in ``seen`` (``None`` when a finite space is used up)."""
    if space.candidates is not None:
        pool = pool or CandidatePool(space)
        fresh = pool.fresh(seen)
        if len(fresh) == 0:
            return None
        return dict(pool.configs[int(fresh[int(rng.integers(len(fresh)))])])
    config = space.sample(rng)
    for _ in range(max_draws):
        if space.key(config) not in seen:
            break
        config = space.sample(rng)
    return config


class BaseSearcher(Searcher):
    """A searcher that keeps the keys of every started configuration (``seen``), each trial's
    encoded configuration (:meth:`encode_trials`), the pending trials (``running``: training now;
    a paused trial is not pending, it may never resume), the encoded candidates of a finite space
    (``pool``), and how each proposal was made (``sources``)."""

    def __init__(self, space: SearchSpace, seed: int, max_epochs: int) -> None:
        super().__init__(space, seed, max_epochs)
        self.seen: set[tuple] = set()
        self._rows: dict[int, int] = {}  # trial id -> row of _encoded
        self._encoded = np.zeros((64, space.dim))
        self.running: set[int] = set()  # pending trials (status RUNNING), kept incrementally
        self.pool = CandidatePool(space) if space.is_finite else None
        self.sources: list[str] = []

    def on_trial_start(self, trial_id: int, config: Config) -> None:
        super().on_trial_start(trial_id, config)
        self.seen.add(self.space.key(config))
        if len(self._rows) == len(self._encoded):
            self._encoded = np.vstack([self._encoded, np.zeros_like(self._encoded)])
        self._rows[trial_id] = len(self._rows)
        self._encoded[self._rows[trial_id]] = self.space.encode(config)
        self.running.add(trial_id)

    def on_status(self, trial_id: int, status: TrialStatus) -> None:
        super().on_status(trial_id, status)
        if status == TrialStatus.RUNNING:
            self.running.add(trial_id)
        else:
            self.running.discard(trial_id)

    def encode_trials(self, trial_ids: Sequence[int]) -> np.ndarray:
        """Encoded configurations of the given trials (len(trial_ids) x space.dim)."""
        rows = [self._rows[t] for t in trial_ids]
        return self._encoded[rows] if rows else np.zeros((0, self.space.dim))

    def best_candidate(
        self, points: np.ndarray, score: Callable[[np.ndarray], np.ndarray]
    ) -> Config | None:
        """The best by ``score`` of encoded candidate ``points`` (draws of a model) that was not
        started yet. On a finite space each draw stands for its nearest (Euclidean, encoded
        space) fresh candidate, and those are scored instead."""
        if self.pool is None:
            return best_unseen(self.space, points, score(points), self.seen)
        fresh = self.pool.fresh(self.seen)
        if len(fresh) == 0:
            return None
        encoded = self.pool.encoded[fresh]
        distance = ((points[:, None, :] - encoded[None, :, :]) ** 2).sum(axis=2)
        nearest = fresh[np.unique(np.argmin(distance, axis=1))]
        best = nearest[int(np.argmax(score(self.pool.encoded[nearest])))]
        return dict(self.pool.configs[int(best)])

    def random_proposal(self) -> Config | None:
        """A uniform configuration not started yet (``None``: a finite space is used up)."""
        self.sources.append("random")
        return random_config(self.space, self.rng, self.seen, self.pool)


def snap(space: SearchSpace, x: np.ndarray) -> np.ndarray:
    """Map rows of ``x`` (n x dim, any reals) to the legal encodings of what they decode to."""
    x = np.clip(np.array(x, dtype=float, copy=True), 0.0, 1.0)
    offset = 0
    for domain in space.domains:
        cols = slice(offset, offset + domain.width)
        if isinstance(domain, Choice):
            block = np.zeros((len(x), domain.width))
            block[np.arange(len(x)), np.argmax(x[:, cols], axis=1)] = 1.0
            x[:, cols] = block
        elif type(domain) not in (Uniform, LogUniform):  # integers and finite ranges round
            grid = _value_grid(domain)
            if grid is None:
                column = x[:, offset]
                x[:, offset] = [domain.encode(domain.decode(np.array([u])))[0] for u in column]
            else:
                bounds, codes = grid
                x[:, offset] = codes[np.searchsorted(bounds, x[:, offset], side="right")]
        offset += domain.width
    return x


MAX_GRID_VALUES = 4096


@lru_cache(maxsize=64)
def _value_grid(domain: Domain) -> tuple[np.ndarray, np.ndarray] | None:
    """For a domain with few ordered values: where in [0, 1] its decoding switches from one value
    to the next (found by bisection with the domain's own ``decode``, which is monotone), and each
    value's encoding; ``None`` for other domains (snapped one value at a time)."""
    if isinstance(domain, RandInt) and domain.high - domain.low < MAX_GRID_VALUES:
        values: list = list(range(int(domain.low), int(domain.high) + 1))
    elif isinstance(domain, FinRange) and domain.size <= MAX_GRID_VALUES:
        values = list(domain.values)
    else:
        return None
    codes = np.array([domain.encode(v)[0] for v in values])
    bounds = np.empty(len(values) - 1)
    for k in range(len(values) - 1):
        lo, hi = codes[k], codes[k + 1]  # decode(lo) is value k, decode(hi) is value k + 1
        for _ in range(48):
            mid = 0.5 * (lo + hi)
            if domain.decode(np.array([mid])) == values[k + 1]:
                hi = mid
            else:
                lo = mid
        bounds[k] = hi
    return bounds, codes


def uniform_points(space: SearchSpace, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` legal encoded points, distributed as ``space.sample`` draws on a continuous space."""
    return snap(space, rng.random((n, space.dim)))


def perturb(
    space: SearchSpace, rng: np.random.Generator, centres: np.ndarray, n_each: int, scale: float
) -> np.ndarray:
    """Legal points near each centre: Gaussian steps of sd ``scale`` on numeric coordinates.

    Each choice hyperparameter switches to a random category with probability ``scale``.
    """
    x = np.repeat(centres, n_each, axis=0)
    x = x + rng.normal(0.0, scale, size=x.shape)
    offset = 0
    for domain in space.domains:
        if isinstance(domain, Choice):
            cols = slice(offset, offset + domain.width)
            switch = rng.random(len(x)) < scale
            noise = rng.random((int(switch.sum()), domain.width))
            x[switch, cols] = noise
            x[~switch, cols] = np.repeat(centres[:, cols], n_each, axis=0)[~switch]
        offset += domain.width
    return snap(space, x)


def best_unseen(
    space: SearchSpace, points: np.ndarray, scores: np.ndarray, seen: set[tuple]
) -> Config | None:
    """The configuration of the highest-scoring point whose key is not in ``seen``."""
    for i in np.argsort(-scores, kind="stable"):
        config = space.decode(points[i])
        if space.key(config) not in seen:
            return config
    return None


def quantile_split(values: Sequence[float], n_good: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n_good`` smallest values and of the rest (ties: earlier first)."""
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    return order[:n_good], order[n_good:]


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """A setting that must be an integer >= ``minimum``; a clear one-line error otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} (got {value!r})")
    return int(value)


def check_fraction(name: str, value: object, low: float = 0.0, high: float = 1.0) -> float:
    """A setting that must be a number in [low, high]; a clear one-line error otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}] (got {value!r})")
    return float(value)
