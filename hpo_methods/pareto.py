"""Pareto ranking of points to minimise: non-dominated sorting, crowding distance, epsilon-nets.

What multi-objective methods use to order candidates (MO-ASHA's rungs, for instance). Every
function takes points as an ``n x k`` array of objectives, each to minimise. A point with a
non-finite objective (a failed or diverged trial) is worse than every finite point: it goes to
a last front of its own, after all finite ones.

- :func:`non_dominated_fronts`: the fronts of non-dominated sorting (Deb, Pratap, Agarwal,
  Meyarivan: "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEVC 2002).
  Point ``a`` dominates ``b`` when it is no worse in every objective and better in one; equal
  points do not dominate each other and share a front.
- :func:`crowding_distance`: NSGA-II's crowding distance within one front (larger: more isolated,
  preferred; the extreme points of each objective get infinity).
- :func:`epsilon_net_order`: the greedy epsilon-net order of one front used by MO-ASHA's EpsNet
  ranking (Schmucker, Donini, Zafar, Rodriguez, Archambeau: "Multi-objective Asynchronous
  Successive Halving", arXiv:2106.12639, 2021): start from the point best in the first
  objective, then repeatedly add the point farthest (Euclidean, objectives scaled to [0, 1] over
  the front) from those chosen so far.
- :func:`pareto_order`: every point ranked: by front, then within a front by crowding distance
  (``nsga2``) or by the epsilon-net order (``epsnet``). Remaining ties keep the input order.
"""

from __future__ import annotations

import numpy as np

TIE_BREAKS = ("nsga2", "epsnet")


def _points(points: np.ndarray) -> np.ndarray:
    x = np.asarray(points, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"points must be an n x k array (got shape {x.shape})")
    return x


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` Pareto-dominates ``b`` (minimisation): no worse anywhere, better somewhere."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_fronts(points: np.ndarray) -> list[np.ndarray]:
    """Indices of each front of non-dominated sorting, best front first (module docstring).

    Each front's indices are ascending. O(k n^2) time: meant for the tens to thousands of points
    a rung holds.
    """
    x = _points(points)
    n = len(x)
    finite = np.isfinite(x).all(axis=1)
    idx = np.flatnonzero(finite)
    fronts: list[np.ndarray] = []
    if len(idx):
        f = x[idx]
        no_worse = (f[:, None, :] <= f[None, :, :]).all(axis=2)
        better = (f[:, None, :] < f[None, :, :]).any(axis=2)
        dom = no_worse & better  # dom[i, j]: i dominates j
        count = dom.sum(axis=0)  # how many dominate each point
        remaining = np.ones(len(idx), dtype=bool)
        while remaining.any():
            front = np.flatnonzero(remaining & (count == 0))
            fronts.append(idx[front])
            remaining[front] = False
            count = count - dom[front].sum(axis=0)
    rest = np.setdiff1d(np.arange(n), idx)
    if len(rest):
        fronts.append(rest)
    return fronts


def pareto_ranks(points: np.ndarray) -> np.ndarray:
    """The front of every point (0: non-dominated), as :func:`non_dominated_fronts` sorts them."""
    ranks = np.empty(len(_points(points)), dtype=int)
    for r, front in enumerate(non_dominated_fronts(points)):
        ranks[front] = r
    return ranks


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each point of one front (module docstring).

    Per objective, the points are sorted; the two extremes get infinity and every other point
    adds the gap between its two neighbours divided by the objective's range over the front. An
    objective whose values are all equal adds nothing. Fewer than three points: all infinite.
    """
    x = _points(points)
    n, k = x.shape
    distance = np.zeros(n)
    if n < 3:
        return np.full(n, np.inf)
    for j in range(k):
        order = np.argsort(x[:, j], kind="stable")
        values = x[order, j]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if not np.isfinite(span) or span <= 0:
            continue
        distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def epsilon_net_order(points: np.ndarray) -> np.ndarray:
    """The greedy epsilon-net order of the points of one front (module docstring)."""
    x = _points(points)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    if not np.isfinite(x).all():
        return np.arange(n)  # the last front of non-finite points: input order
    low, high = x.min(axis=0), x.max(axis=0)
    scaled = (x - low) / np.where(high > low, high - low, 1.0)
    first = int(np.lexsort(scaled.T[::-1])[0])  # best first objective, ties by the next ones
    chosen = [first]
    nearest = np.linalg.norm(scaled - scaled[first], axis=1)
    nearest[first] = -1.0
    for _ in range(n - 1):
        nxt = int(np.argmax(nearest))  # ties: the lowest index
        chosen.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(scaled - scaled[nxt], axis=1))
        nearest[chosen] = -1.0
    return np.array(chosen, dtype=int)


def pareto_order(points: np.ndarray, tie_break: str = "nsga2") -> np.ndarray:
    """Indices of all points from best to worst: by front, then by ``tie_break`` within it.

    ``nsga2``: larger crowding distance first; ``epsnet``: the epsilon-net order. Equal keys keep
    the input order (callers pass points in arrival order, so earlier arrivals win ties).
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {', '.join(TIE_BREAKS)} (got {tie_break!r})")
    x = _points(points)
    out = []
    for front in non_dominated_fronts(x):
        if tie_break == "nsga2":
            within = np.argsort(-crowding_distance(x[front]), kind="stable")
        else:
            within = epsilon_net_order(x[front])
        out.append(front[within])
    return np.concatenate(out) if out else np.zeros(0, dtype=int)
