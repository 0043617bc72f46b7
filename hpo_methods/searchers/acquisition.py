"""Expected improvement and its maximisation over a search space (used by BO and MOBSTER).

Maximisation on a continuous (or mixed) space: score ``n_random`` uniform legal points, then a
vectorised local search from the ``n_starts`` best of them and from given extra centres (e.g. the
best observed configurations): three rounds of ``n_local`` (default ``n_random / 20``) Gaussian
perturbations per centre with step sizes 0.1, 0.03 and 0.01 in the encoded space (choices switch
category with that probability), every point snapped to a legal encoding, each centre moving to
its best perturbation when that scores higher.
Gradient-based refinement (L-BFGS-B) was not used: on mixed spaces it leaves the legal
encodings, and one scipy call per start costs more than the whole vectorised search.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import erfcx, ndtr

from hpo_methods.searchers.common import perturb, uniform_points
from hpo_methods.space import SearchSpace

Score = Callable[[np.ndarray], np.ndarray]  # encoded points (n x dim) -> scores, higher better

LOCAL_STEPS = (0.1, 0.03, 0.01)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log EI for minimisation below ``best``, accurate far into the tails.

    Uses the stable evaluation of log(phi(z) + z Phi(z)) of Ament et al., "Unexpected
    Improvements to Expected Improvement for Bayesian Optimization", NeurIPS 2023, so that
    candidates keep a strict ordering where plain EI underflows to 0.
    """
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (best - np.asarray(mean, dtype=float)) / std
    return np.log(std) + _log_h(z)


def _log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z * Phi(z)) for an array z."""
    out = np.empty_like(z)
    c1 = 0.5 * math.log(2 * math.pi)
    c2 = 0.5 * math.log(math.pi / 2)
    upper = z > -1
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu**2 - c1) + zu * ndtr(zu))
    mid = ~upper & (z > -1 / math.sqrt(np.finfo(float).eps))
    zm = z[mid]
    a = np.log(erfcx(-zm / math.sqrt(2)) * np.abs(zm)) + c2  # log of a number in (0, 1)
    log1mexp = np.where(a > -math.log(2), np.log(-np.expm1(a)), np.log1p(-np.exp(a)))
    out[mid] = -0.5 * zm**2 - c1 + log1mexp
    far = ~upper & ~mid
    zf = z[far]
    out[far] = -0.5 * zf**2 - c1 - 2 * np.log(np.abs(zf))
    return out


def search_points(
    space: SearchSpace,
    score: Score,
    rng: np.random.Generator,
    centres: np.ndarray | None = None,
    n_random: int = 1000,
    n_starts: int = 5,
    n_local: int | None = None,
) -> np.ndarray:
    """Every legal encoded point the search of the module docstring scored: the ``n_random``
    uniform ones first, then the starts, then each round's perturbations. The best of them by
    ``score`` is the search's result."""
    n_local = n_local if n_local is not None else max(10, n_random // 20)
    points = uniform_points(space, rng, n_random)
    scores = score(points)
    starts = points[np.argsort(-scores, kind="stable")[:n_starts]]
    if centres is not None and len(centres):
        starts = np.vstack([starts, centres])
    start_scores = score(starts)
    all_points = [points, starts]
    for step in LOCAL_STEPS:
        near = perturb(space, rng, starts, n_local, step)
        near_scores = score(near)
        all_points.append(near)
        grouped = near_scores.reshape(len(starts), n_local)
        best = np.argmax(grouped, axis=1)
        better = grouped[np.arange(len(starts)), best] > start_scores
        rows = np.arange(len(starts))[better] * n_local + best[better]
        starts[better] = near[rows]
        start_scores[better] = near_scores[rows]
    return np.vstack(all_points)
