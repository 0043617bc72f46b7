"""Parzen (kernel) density estimators over a search space, for TPE and BOHB.

Every hyperparameter gets one coordinate: a numeric one its encoded value in [0, 1] (log scale
where declared, as in :class:`~hpo_methods.space.SearchSpace`), a choice its category index.

- :class:`UnivariateParzen` (TPE, Bergstra et al. 2011), built as Optuna's ``_ParzenEstimator``
  (Optuna 5.0, defaults ``prior_weight=1``, ``consider_magic_clip=True``,
  ``consider_endpoints=False``) builds it for one parameter at a time: a mixture of one kernel per
  observation plus a prior kernel, with mixture weights ``weights`` (Optuna's
  ``default_weights``: :func:`optuna_weights`) and ``prior_weight`` for the prior. Numeric: each
  observation a Gaussian truncated to [0, 1], its width from :func:`parzen_sigmas`; the prior
  N(0.5, 1) truncated to [0, 1]. Choices: observation i's kernel puts weight ``1 + p / (n + 1)``
  on its category and ``p / (n + 1)`` on every category (normalised; p the prior weight), the
  prior's kernel is uniform. ``tests/test_parity.py`` pins Optuna's numbers.
  Deviation: Optuna models an integer as a discretised truncated Gaussian over its values; here
  an integer's encoded coordinate (each integer owns an equal share of [0, 1]) is modelled as a
  continuous one and draws are rounded when decoded.
- :class:`ProductKDE` (BOHB, Falkner et al. 2018), as HpBandSter's BOHB builds it with
  statsmodels' ``KDEMultivariate`` (statsmodels is not a dependency here): a mixture over the
  observations of product kernels, with one bandwidth per hyperparameter by the normal reference
  rule ``1.06 * std * n^(-1 / (4 + d))`` (:func:`normal_reference_bandwidths`), at least
  ``min_bandwidth``; numeric kernels are Gaussians on the real line (their mass outside [0, 1]
  is lost, as in statsmodels), choices use the Aitchison-Aitken kernel (1 - b on the observed
  category, b / (k - 1) on each other one). ``tests/test_parity.py`` pins statsmodels' numbers.
  Deviations: k is the number of categories of the domain (statsmodels takes the number of
  distinct categories in the data, which divides by zero when all observations share one), and
  a choice's bandwidth is at most (k - 1) / k (statsmodels applies the normal reference rule to
  category indices unbounded; above (k - 1) / k the kernel would favour the categories *not*
  observed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr
from scipy.stats import truncnorm

from hpo_methods.space import Choice, Config, SearchSpace

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Coordinates:
    """Configurations as (numeric coordinates in [0, 1], category indices) and back."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.numeric_cols: list[int] = []  # encoded column of each numeric hyperparameter
        self.choice_cols: list[slice] = []  # encoded columns of each choice
        self.n_categories: list[int] = []
        offset = 0
        for domain in space.domains:
            if isinstance(domain, Choice):
                self.choice_cols.append(slice(offset, offset + domain.width))
                self.n_categories.append(domain.width)
            else:
                self.numeric_cols.append(offset)
            offset += domain.width

    @property
    def n_dims(self) -> int:
        """Number of hyperparameters."""
        return len(self.numeric_cols) + len(self.choice_cols)

    def from_encoded(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of encoded points (n x space.dim)."""
        x = np.atleast_2d(x)
        num = x[:, self.numeric_cols]
        cat = np.stack([np.argmax(x[:, c], axis=1) for c in self.choice_cols], axis=1) if (
            self.choice_cols
        ) else np.zeros((len(x), 0), dtype=int)
        return num, cat.astype(int)

    def of(self, configs: Sequence[Config]) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of configurations."""
        return self.from_encoded(self.space.encode_many(list(configs)))

    def to_configs(self, num: np.ndarray, cat: np.ndarray) -> list[Config]:
        """Configurations whose coordinates are given (numeric ones are decoded, so rounded)."""
        x = np.zeros((len(num), self.space.dim))
        x[:, self.numeric_cols] = num
        for j, cols in enumerate(self.choice_cols):
            x[np.arange(len(x)), cols.start + cat[:, j]] = 1.0
        return [self.space.decode(row) for row in x]


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a), axis=1)) for finite rows (scipy's version is ~5x slower at this size)."""
    top = a.max(axis=1)
    return top + np.log(np.exp(a - top[:, None]).sum(axis=1))


def _truncnorm_logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log density at x of N(mu, sigma) truncated to [0, 1] (broadcasting)."""
    mass = ndtr((1 - mu) / sigma) - ndtr(-mu / sigma)
    return -0.5 * ((x - mu) / sigma) ** 2 - LOG_SQRT_2PI - np.log(sigma) - np.log(mass)


def _truncnorm_sample(
    rng: np.random.Generator, mu: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """One draw per (mu, sigma) from N(mu, sigma) truncated to [0, 1]."""
    return truncnorm.rvs((0 - mu) / sigma, (1 - mu) / sigma, loc=mu, scale=sigma, random_state=rng)


class ParzenEstimator:
    """TPE's density, as Optuna builds it (module docstring): a mixture with one kernel per
    observation plus a prior kernel; ``weights`` are the observations' mixture weights (default:
    all 1). Its joint density (:meth:`log_pdf`, :meth:`sample`) is the mixture of product
    kernels of Optuna's multivariate TPE; :meth:`log_pdf_each` gives the mixtures per
    hyperparameter that the univariate TPE uses."""

    def __init__(
        self,
        num: np.ndarray,
        cat: np.ndarray,
        n_categories: Sequence[int],
        prior_weight: float,
        weights: np.ndarray | None = None,
    ) -> None:
        n = len(num)
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        if len(w) != n:
            raise ValueError(f"{len(w)} weights for {n} observations")
        mixture = np.r_[w, prior_weight]
        self.weights = mixture / mixture.sum()  # the observations', then the prior's
        self.log_weights = np.log(self.weights)
        self.mus: list[np.ndarray] = []
        self.sigmas: list[np.ndarray] = []
        for j in range(num.shape[1]):
            self.mus.append(np.r_[num[:, j], PRIOR_MU])
            self.sigmas.append(np.r_[parzen_sigmas(num[:, j]), PRIOR_SIGMA])
        # kernel rows (observations, then the prior) over each choice's categories
        self.cat_kernels = [
            categorical_kernels(cat[:, j], k, prior_weight) for j, k in enumerate(n_categories)
        ]

    def _log_kernels(self, num: np.ndarray, cat: np.ndarray) -> list[np.ndarray]:
        """log of every kernel at every row, per hyperparameter (each m x components)."""
        out = [
            _truncnorm_logpdf(num[:, j : j + 1], mu[None, :], sigma[None, :])
            for j, (mu, sigma) in enumerate(zip(self.mus, self.sigmas, strict=True))
        ]
        out += [np.log(kernels[:, cat[:, j]].T) for j, kernels in enumerate(self.cat_kernels)]
        return out

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Joint log density at each row: the mixture of product kernels."""
        total = sum(self._log_kernels(num, cat), np.zeros((len(num), len(self.weights))))
        return _logsumexp(total + self.log_weights[None, :])

    def log_pdf_each(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Log marginal density of each hyperparameter at each row (m x hyperparameters: the
        numeric ones first, then the choices)."""
        columns = [_logsumexp(k + self.log_weights[None, :]) for k in self._log_kernels(num, cat)]
        return np.stack(columns, axis=1) if columns else np.zeros((len(num), 0))

    def sample(
        self, rng: np.random.Generator, m: int, joint: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """``m`` draws: one kernel per draw for every hyperparameter (``joint``), or a kernel per
        hyperparameter and draw (the univariate densities)."""
        n_cols = len(self.mus) + len(self.cat_kernels)
        if joint:
            picks = np.repeat(rng.choice(len(self.weights), size=m, p=self.weights)[:, None],
                              n_cols, axis=1)
        else:
            picks = rng.choice(len(self.weights), size=(m, n_cols), p=self.weights)
        num = np.zeros((m, len(self.mus)))
        for j, (mu, sigma) in enumerate(zip(self.mus, self.sigmas, strict=True)):
            num[:, j] = _truncnorm_sample(rng, mu[picks[:, j]], sigma[picks[:, j]])
        cat = np.zeros((m, len(self.cat_kernels)), dtype=int)
        for j, kernels in enumerate(self.cat_kernels):
            rows = kernels[picks[:, len(self.mus) + j]]
            cum = np.cumsum(rows, axis=1)
            cum[:, -1] = 1.0
            cat[:, j] = np.sum(cum < rng.random(m)[:, None], axis=1)
        return num, cat


PRIOR_MU, PRIOR_SIGMA = 0.5, 1.0  # the prior component: the middle of [0, 1], its whole width


def parzen_sigmas(points: np.ndarray) -> np.ndarray:
    """Kernel widths of observations in [0, 1], as Optuna computes them (``consider_endpoints``
    False, ``consider_magic_clip`` True): the larger gap to the sorted neighbours, the ends of
    [0, 1] counting as neighbours, except that the smallest and the largest observation use
    their inner gap only (when there are at least two); clipped to [1 / min(100, n + 2), 1]."""
    n = len(points)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(points, kind="stable")
    ext = np.r_[0.0, points[order], 1.0]
    widths = np.maximum(ext[1:-1] - ext[:-2], ext[2:] - ext[1:-1])
    if n >= 2:
        widths[0] = ext[2] - ext[1]
        widths[-1] = ext[-2] - ext[-3]
    sigma = np.empty(n)
    sigma[order] = widths
    return np.clip(sigma, 1.0 / min(100.0, n + 2.0), 1.0)


def categorical_kernels(observed: np.ndarray, k: int, prior_weight: float) -> np.ndarray:
    """Optuna's categorical kernels ((n + 1) x k): observation i's puts ``1 + p / (n + 1)`` on
    its category and ``p / (n + 1)`` on every category, normalised (p the prior weight); the
    last row, the prior's, is uniform."""
    n = len(observed)
    kernels = np.full((n + 1, k), prior_weight / (n + 1))
    kernels[np.arange(n), observed] += 1.0
    return kernels / kernels.sum(axis=1, keepdims=True)


def optuna_weights(n: int) -> np.ndarray:
    """Optuna's ``default_weights``: observations in trial order, the 25 most recent weigh 1,
    older ones ramp linearly from 1 / n up (``linspace(1 / n, 1, n - 25)``)."""
    if n < 25:
        return np.ones(n)
    return np.r_[np.linspace(1.0 / n, 1.0, n - 25), np.ones(25)]


class ProductKDE:
    """BOHB's density: a mixture over observations of product kernels (module doc)."""

    def __init__(
        self,
        num: np.ndarray,
        cat: np.ndarray,
        n_categories: Sequence[int],
        min_bandwidth: float = 1e-3,
    ) -> None:
        self.num, self.cat = num, cat
        self.n_categories = list(n_categories)
        self.min_bandwidth = min_bandwidth
        raw = normal_reference_bandwidths(np.hstack([num, cat]))
        self.num_bw = np.maximum(raw[: num.shape[1]], min_bandwidth)
        k = np.array(self.n_categories, dtype=float)
        self.cat_bw = np.clip(raw[num.shape[1] :], min_bandwidth, (k - 1) / np.maximum(k, 1))

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """log density at each row (m rows): Gaussian kernels on the real line (not truncated to
        [0, 1], as statsmodels evaluates them), Aitchison-Aitken kernels on the choices."""
        total = np.zeros((len(num), len(self.num)))
        for j, bw in enumerate(self.num_bw):
            z = (num[:, j : j + 1] - self.num[None, :, j]) / bw
            total += -0.5 * z * z - LOG_SQRT_2PI - math.log(bw)
        for j, (bw, k) in enumerate(zip(self.cat_bw, self.n_categories, strict=True)):
            same = cat[:, j : j + 1] == self.cat[None, :, j]
            other = bw / (k - 1) if k > 1 else 1.0
            total += np.log(np.where(same, 1 - bw, other))
        return _logsumexp(total) - math.log(len(self.num))

    def sample(
        self, rng: np.random.Generator, m: int, bandwidth_factor: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """BOHB's sampling: pick an observation, draw each numeric coordinate from a Gaussian
        truncated to [0, 1] around it with its bandwidth times ``bandwidth_factor``, keep each
        category with probability 1 - b, else draw a uniformly random one."""
        idx = rng.integers(len(self.num), size=m)
        bw = self.num_bw * bandwidth_factor
        num = np.zeros((m, self.num.shape[1]))
        for j in range(self.num.shape[1]):
            num[:, j] = _truncnorm_sample(rng, self.num[idx, j], np.full(m, bw[j]))
        cat = self.cat[idx].copy()
        for j, k in enumerate(self.n_categories):
            redraw = rng.random(m) >= 1 - self.cat_bw[j]
            cat[redraw, j] = rng.integers(k, size=int(redraw.sum()))
        return num, cat


def normal_reference_bandwidths(data: np.ndarray) -> np.ndarray:
    """statsmodels' ``KDEMultivariate(bw='normal_reference')``: ``1.06 * std * n^(-1/(4 + d))``
    per column (population standard deviation; every column, category indices included)."""
    n, d = data.shape
    return 1.06 * data.std(axis=0) * n ** (-1.0 / (4 + d))
