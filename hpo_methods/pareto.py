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

import bisect

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

    Each front's indices are ascending. Two objectives: O(n log n) (a sweep in lexicographic
    order); more: O(k n^2).
    """
    x = _points(points)
    n = len(x)
    finite = np.isfinite(x).all(axis=1)
    idx = np.flatnonzero(finite)
    fronts: list[np.ndarray] = []
    if len(idx) and x.shape[1] == 2:
        fronts = [idx[f] for f in _fronts_2d(x[idx])]
    elif len(idx):
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


def _fronts_2d(f: np.ndarray) -> list[np.ndarray]:
    """Non-dominated sorting of finite 2-d points by one sweep in lexicographic order.

    Every point seen before ``p`` in that order is no worse in the first objective, so a front
    dominates ``p`` exactly when its last point (the lowest second objective so far) is no worse
    in the second one and is not equal to ``p``. The fronts' last second objectives never
    decrease from one front to the next, so the front of ``p`` is found by bisection.
    """
    order = np.lexsort((f[:, 1], f[:, 0]))
    last0: list[float] = []  # per front: its last point
    last1: list[float] = []
    members: list[list[int]] = []
    for i in order.tolist():
        p0, p1 = float(f[i, 0]), float(f[i, 1])
        j = bisect.bisect_left(last1, p1)
        while j < len(last1) and last1[j] == p1 and last0[j] != p0:
            j += 1  # a front whose last point equals p admits it; others at p1 dominate it
        if j == len(last1):
            last0.append(p0)
            last1.append(p1)
            members.append([i])
        else:
            last0[j], last1[j] = p0, p1
            members[j].append(i)
    return [np.sort(np.array(m, dtype=int)) for m in members]


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


def _order_within(front_points: np.ndarray, tie_break: str) -> np.ndarray:
    if tie_break == "nsga2":
        return np.argsort(-crowding_distance(front_points), kind="stable")
    return epsilon_net_order(front_points)


def _check_tie_break(tie_break: str) -> None:
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {', '.join(TIE_BREAKS)} (got {tie_break!r})")


def pareto_order(points: np.ndarray, tie_break: str = "nsga2", limit: int | None = None
                 ) -> np.ndarray:  # fmt: skip
    """Indices of the points from best to worst: by front, then by ``tie_break`` within it.

    ``nsga2``: larger crowding distance first; ``epsnet``: the epsilon-net order. Equal keys keep
    the input order (callers pass points in arrival order, so earlier arrivals win ties). With
    ``limit``, only the first ``limit`` indices (later fronts are not ordered).
    """
    _check_tie_break(tie_break)
    x = _points(points)
    out: list[np.ndarray] = []
    taken = 0
    for front in non_dominated_fronts(x):
        if limit is not None and taken >= limit:
            break
        out.append(front[_order_within(x[front], tie_break)])
        taken += len(front)
    order = np.concatenate(out) if out else np.zeros(0, dtype=int)
    return order if limit is None else order[:limit]


def pareto_position(points: np.ndarray, index: int, tie_break: str = "nsga2") -> int:
    """Where point ``index`` stands (0: first) in :func:`pareto_order`; only its own front is
    ordered within."""
    _check_tie_break(tie_break)
    x = _points(points)
    before = 0
    for front in non_dominated_fronts(x):
        hits = np.flatnonzero(front == index)
        if len(hits):
            within = _order_within(x[front], tie_break)
            return before + int(np.flatnonzero(within == hits[0])[0])
        before += len(front)
    raise IndexError(f"no point {index} among {len(x)}")
