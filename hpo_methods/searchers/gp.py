"""The Gaussian-process model shared by BO and MOBSTER.

Kernel: ``C * Matern(nu=5/2, one length scale per input) + White`` (scikit-learn kernels) on inputs
in [0, 1]^d, fitted to standardised targets (zero mean, unit variance) after an optional monotone
transform (:func:`transform_targets`). Keeping the cost bounded:

- hyperparameters (signal variance, length scales, noise) are estimated with scikit-learn's
  GaussianProcessRegressor (marginal likelihood, L-BFGS-B from the previous estimate plus
  ``n_restarts`` random starts; without the random start, on Hartmann-6 BO's median regret after 50
  evaluations was 0.20 instead of 0.07, because the warm start kept early, poor estimates) only when
  the caller asks (the searchers do so every ``refit_every`` new observations, then every 20%
  growth: :func:`refit_due`), and on at most ``max_fit_points`` observations (a seeded random
  subset of them; with more observations than that, from the warm start only);
- otherwise the kernel stays fixed at the last estimate and the posterior is one Cholesky
  factorisation, computed here with NumPy/SciPy (scikit-learn's ``fit``/``predict`` add
  milliseconds of overhead per call, which hundreds of proposals per run cannot afford);
- the searchers bound the number of observations given to the model (``max_history``).

Expected improvement uses the latent predictive variance, of f(x) without the observation noise
(:class:`PointParts`), as in Snoek et al. and BoTorch's default: with the noise included, a
configuration already observed keeps at least the noise variance, and EI keeps rewarding
evaluating it again.

Pending trials are handled by fantasies from the posterior mean (the "kriging believer"):
conditioning on the pending inputs at their predicted means keeps the posterior mean and shrinks
the variance near them; :meth:`GPModel.fantasy_variance` computes that variance exactly from
cached cross terms (:class:`PointParts`), without refitting.

Linear algebra runs with one BLAS thread: the matrices are small (at most a few hundred rows), and
on a busy machine a multi-threaded OpenBLAS triangular solve of this size was measured 25x slower
than a single-threaded one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel
from threadpoolctl import ThreadpoolController

TARGET_TRANSFORMS = ("none", "log", "logit")
JITTER = 1e-8  # added to the kernel diagonal for numerical stability


def make_kernel(dim: int) -> Kernel:
    """``C * Matern52(ARD) + White``, initialised for inputs in [0, 1]^dim and unit-variance y."""
    return ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
        length_scale=np.full(dim, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-3, (1e-6, 1.0))


def transform_targets(y: np.ndarray, kind: str) -> np.ndarray:
    """Apply a monotone transform to the observed values (smaller stays better).

    ``none``: identity. ``log``: ``log(y - min(y) + s)`` with ``s`` 1% of the range (at least
    1e-12), which stretches the region near the best value. ``logit``: ``log(y / (1 - y))`` for
    values in [0, 1] (errors, rates), clipped to [1e-6, 1 - 1e-6]. Non-finite values are replaced by
    the worst finite value first.
    """
    if kind not in TARGET_TRANSFORMS:
        raise ValueError(
            f"target_transform must be one of {', '.join(TARGET_TRANSFORMS)} (got {kind!r})"
        )
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(y)
    if not finite.any():
        raise ValueError("no finite observations to model")
    y = np.where(finite, y, y[finite].max())
    if kind == "log":
        spread = float(y.max() - y.min())
        return np.log(y - y.min() + max(0.01 * spread, 1e-12))
    if kind == "logit":
        if y.min() < 0 or y.max() > 1:
            raise ValueError("target_transform 'logit' needs values in [0, 1]")
        p = np.clip(y, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))
    return y


def refit_due(n_seen: int, n_at_last_refit: int | None, refit_every: int) -> bool:
    """Whether to re-estimate hyperparameters now.

    At the first fit, then once ``max(refit_every, n_at_last_refit // 5)`` observations arrived
    since the last estimate: every ``refit_every`` observations early on, then every 20% growth,
    so a long run re-estimates O(log n) times. ``n_seen`` counts all observations ever seen, not
    only those kept in a bounded history.
    """
    if n_at_last_refit is None:
        return True
    return n_seen - n_at_last_refit >= max(refit_every, n_at_last_refit // 5)


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


_blas_depth = 0


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block (cheap: the controller is built once, and a
    block inside another one costs nothing)."""
    global _blas_depth
    if _blas_depth:
        yield
        return
    with _controller().limit(limits=1, user_api="blas"):
        _blas_depth += 1
        try:
            yield
        finally:
            _blas_depth -= 1


@dataclass
class PointParts:
    """Posterior quantities at query points, reusable while the pending set changes."""

    inputs: np.ndarray  # m x dim
    mean: np.ndarray  # posterior mean (standardised units)
    var: np.ndarray  # latent predictive variance: of f(x), the observation noise excluded
    v: np.ndarray  # m x n: k(inputs, X) L^-T, with L the Cholesky factor of the data's kernel


class Matern52:
    """The fitted ``C * Matern52(ARD) + White`` kernel as plain NumPy (scikit-learn's kernel
    objects cost ~0.3 ms of overhead per call, which thousands of small calls cannot afford)."""

    def __init__(self, kernel: Kernel) -> None:
        params = kernel.get_params()
        self.scale = float(params["k1__k1__constant_value"])
        self.length_scale = np.asarray(params["k1__k2__length_scale"], dtype=float)
        self.noise = float(params["k2__noise_level"])

    def __call__(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """k(a, b); with ``b`` omitted, k(a, a) plus the noise on the diagonal."""
        d = cdist(a / self.length_scale, (a if b is None else b) / self.length_scale)
        r = math.sqrt(5.0) * d
        k = self.scale * (1.0 + r + r * r / 3.0) * np.exp(-r)
        if b is None:
            k[np.diag_indices_from(k)] += self.noise
        return k

    def diag(self, a: np.ndarray) -> np.ndarray:
        """k(x, x) plus the noise, for each row x of ``a``."""
        return np.full(len(a), self.scale + self.noise)

    def latent_diag(self, a: np.ndarray) -> np.ndarray:
        """k(x, x) without the noise (the prior variance of f(x)), for each row x of ``a``."""
        return np.full(len(a), self.scale)


@dataclass
class _Posterior:
    """The GP conditioned on (x, z) with a fixed kernel; ``chol_inv`` is the inverse of the
    Cholesky factor, so a prediction's variance needs a matrix product, not a triangular solve
    (about 4x faster at these sizes)."""

    kernel: Matern52
    x: np.ndarray
    z: np.ndarray
    chol_inv: np.ndarray
    alpha: np.ndarray

    @classmethod
    def condition(cls, kernel: Matern52, x: np.ndarray, z: np.ndarray) -> _Posterior:
        chol = _cholesky(kernel(x))
        chol_inv = solve_triangular(chol, np.eye(len(x)), lower=True, check_finite=False)
        return cls(kernel, x, z, chol_inv, cho_solve((chol, True), z, check_finite=False))

    def parts(self, xq: np.ndarray) -> PointParts:
        k_star = self.kernel(xq, self.x)
        v = k_star @ self.chol_inv.T
        var = self.kernel.latent_diag(xq) - np.einsum("ij,ij->i", v, v)
        return PointParts(xq, k_star @ self.alpha, np.maximum(var, 1e-24), v)


def _cholesky(k: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``k`` plus the smallest jitter (1e-8, 1e-6, ...) that works."""
    jitter = JITTER
    while True:
        try:
            return cholesky(k + jitter * np.eye(len(k)), lower=True, check_finite=False)
        except LinAlgError:
            if jitter > 1e-2:
                raise
            jitter *= 100


class GPModel:
    """A GP whose hyperparameters are re-estimated only on request (see the module docstring)."""

    def __init__(
        self,
        dim: int,
        seed: int | np.random.SeedSequence,
        n_restarts: int = 1,
        max_fit_points: int = 100,
    ) -> None:
        self.dim = dim
        self.seed = seed
        self.n_restarts = n_restarts
        self.max_fit_points = max_fit_points
        self.kernel: Kernel = make_kernel(dim)
        self.n_refits = 0
        self._rng = np.random.default_rng(seed)
        self._posterior: _Posterior | None = None
        self._y_mean = 0.0
        self._y_std = 1.0

    def fit(self, x: np.ndarray, y: np.ndarray, optimize: bool) -> None:
        """Fit to inputs ``x`` (n x dim) and finite targets ``y``; re-estimate if ``optimize``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self._y_mean = float(y.mean())
        self._y_std = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0
        z = (y - self._y_mean) / self._y_std
        with single_blas_thread():
            if optimize:
                self._estimate(x, z)
            self._posterior = _Posterior.condition(Matern52(self.kernel), x, z)

    def _estimate(self, x: np.ndarray, z: np.ndarray) -> None:
        restarts = self.n_restarts
        if len(x) > self.max_fit_points:
            subset = np.sort(self._rng.choice(len(x), self.max_fit_points, replace=False))
            x, z = x[subset], z[subset]
            restarts = 0  # by now the warm start comes from estimates on many observations
        gpr = GaussianProcessRegressor(
            kernel=self.kernel,
            alpha=JITTER,
            n_restarts_optimizer=restarts,
            normalize_y=False,
            random_state=int(self._rng.integers(2**31)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gpr.fit(x, z)
        self.kernel = gpr.kernel_
        self.n_refits += 1

    def _fitted(self) -> _Posterior:
        if self._posterior is None:
            raise RuntimeError("the GP has not been fitted")
        return self._posterior

    def parts(self, x: np.ndarray) -> PointParts:
        """Posterior mean, variance and cross terms at ``x`` (standardised target units)."""
        with single_blas_thread():
            return self._fitted().parts(np.asarray(x, dtype=float))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent f at ``x`` (the observation noise
        excluded), in standardised target units."""
        p = self.parts(x)
        return p.mean, np.sqrt(p.var)

    def standardise(self, y: np.ndarray | float) -> np.ndarray | float:
        """Targets (after the transform) in the units :meth:`predict` returns."""
        return (np.asarray(y, dtype=float) - self._y_mean) / self._y_std

    def unstandardise(self, z: np.ndarray | float) -> np.ndarray | float:
        """The inverse of :meth:`standardise`: predictions back in target units."""
        return np.asarray(z, dtype=float) * self._y_std + self._y_mean

    def fantasy_variance(self, query: PointParts, pending: PointParts | None) -> np.ndarray:
        """Latent variance at ``query`` once the ``pending`` inputs are observed (with noise) at
        their posterior means (the kriging believer; the posterior mean does not change): the Schur
        complement of the posterior covariance, the same as refitting on the fantasies at
        O(m n p) instead of a new factorisation and O(m n^2). See :class:`Fantasies`."""
        if pending is None or len(pending.inputs) == 0:
            return query.var
        fantasies = Fantasies(self, query)
        fantasies.add(pending)
        return fantasies.variance()

    def covariance(self, query: PointParts, other: PointParts) -> np.ndarray:
        """Posterior covariance between the query points and other points (m x p, no noise)."""
        kernel = self._fitted().kernel
        with single_blas_thread():
            return kernel(query.inputs, other.inputs) - query.v @ other.v.T


class Fantasies:
    """Pending inputs fantasised at their posterior means, added in batches, and the variance they
    leave at fixed query points.

    With S the posterior covariance (noise on the pending inputs' diagonal), the variance at the
    queries is ``var_q - diag(S_qp S_pp^-1 S_pq)``. Keeping the Cholesky factor L of S_pp and
    ``W = L^-1 S_pq`` growing block by block, a new batch of b inputs costs O(b (p + m) n) and the
    variance is ``var_q - colsum(W^2)``, maintained as one vector.
    """

    def __init__(self, model: GPModel, query: PointParts, capacity: int = 16) -> None:
        self.model = model
        self.query = query
        self.size = 0
        # buffers grown by doubling, so adding one fantasy does not copy the others
        self._inputs = np.zeros((capacity, query.inputs.shape[1]))
        self._v = np.zeros((capacity, query.v.shape[1]))
        self._chol = np.zeros((capacity, capacity))
        self._w = np.zeros((capacity, len(query.inputs)))
        self.reduction = np.zeros(len(query.inputs))
        self.min_mean = math.inf  # the best fantasised value (it joins the incumbents)

    def __len__(self) -> int:
        return self.size

    def add(self, new: PointParts) -> None:
        """Fantasise the inputs of ``new`` (posterior terms from :meth:`GPModel.parts`)."""
        p, b = self.size, len(new.inputs)
        if b == 0:
            return
        self._reserve(p + b)
        kernel = self.model._fitted().kernel
        inputs, v, chol, w = self._inputs[:p], self._v[:p], self._chol[:p, :p], self._w[:p]
        with single_blas_thread():
            s_qn = self.model.covariance(self.query, new)  # m x b
            s_nn = kernel(new.inputs) - new.v @ new.v.T  # b x b, noise on the diagonal
            if p:
                s_on = kernel(inputs, new.inputs) - v @ new.v.T  # p x b
                l12 = solve_triangular(chol, s_on, lower=True, check_finite=False)
                l22 = _cholesky(s_nn - l12.T @ l12)
                rhs = s_qn.T - l12.T @ w
            else:
                l12, l22, rhs = np.zeros((0, b)), _cholesky(s_nn), s_qn.T
            w_new = solve_triangular(l22, rhs, lower=True, check_finite=False)
        rows = slice(p, p + b)
        self._chol[rows, :p], self._chol[rows, rows] = l12.T, l22
        self._w[rows] = w_new
        self._inputs[rows], self._v[rows] = new.inputs, new.v
        self.reduction += np.einsum("ij,ij->j", w_new, w_new)
        self.min_mean = min(self.min_mean, float(np.min(new.mean)))
        self.size = p + b

    def _reserve(self, needed: int) -> None:
        capacity = len(self._inputs)
        if needed <= capacity:
            return
        grown = max(needed, 2 * capacity)
        for name in ("_inputs", "_v", "_w"):
            old = getattr(self, name)
            buffer = np.zeros((grown, old.shape[1]))
            buffer[:capacity] = old
            setattr(self, name, buffer)
        chol = np.zeros((grown, grown))
        chol[:capacity, :capacity] = self._chol
        self._chol = chol

    def variance(self) -> np.ndarray:
        """The queries' latent variance given every fantasy added so far."""
        return np.maximum(self.query.var - self.reduction, 1e-24)
