"""Parzen (kernel) density estimators over a search space, for TPE and BOHB.

Every hyperparameter gets one coordinate: a numeric one its encoded value in [0, 1] (log scale
where declared, as in :class:`~hpo_methods.space.SearchSpace`), a choice its category index.
Numeric kernels are Gaussians truncated to [0, 1]; categorical ones put a share of the mass on the
observed category and spread the rest evenly.

- :class:`UnivariateParzen` (TPE, Bergstra et al. 2011, as in hyperopt's adaptive Parzen
  estimator): one independent mixture per hyperparameter. Numeric: one truncated Gaussian per
  observation, its width the larger distance to its sorted neighbours (the prior mean 0.5 counts
  as a neighbour), clipped to [1 / min(100, n + 2), 1], plus a prior component N(0.5, 1) with weight
  ``prior_weight``. Choices: smoothed counts, p(c) = (count(c) + prior_weight / k) / (n +
  prior_weight).
- :class:`ProductKDE` (BOHB, Falkner et al. 2018): a mixture over observations of product kernels,
  with one bandwidth per hyperparameter by the normal reference rule
  ``1.06 * std * n^(-1 / (4 + d))`` (what statsmodels' KDEMultivariate uses in BOHB's reference
  implementation; statsmodels is not a dependency here), at least ``min_bandwidth``. Choices use
  the Aitchison-Aitken kernel (1 - b on the observed category, b / (k - 1) on each other one, b
  at most (k - 1) / k).
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


class UnivariateParzen:
    """TPE's density: independent adaptive Parzen mixtures per hyperparameter (module doc)."""

    def __init__(
        self, num: np.ndarray, cat: np.ndarray, n_categories: Sequence[int], prior_weight: float
    ) -> None:
        n = len(num)
        self.prior_weight = prior_weight
        self.mus: list[np.ndarray] = []
        self.sigmas: list[np.ndarray] = []
        for j in range(num.shape[1]):
            mu, sigma = _adaptive_widths(num[:, j])
            self.mus.append(mu)
            self.sigmas.append(sigma)
        self.log_weights = np.log(np.r_[np.ones(n), prior_weight] / (n + prior_weight))
        self.cat_probs = [
            (np.bincount(cat[:, j], minlength=k) + prior_weight / k) / (n + prior_weight)
            for j, k in enumerate(n_categories)
        ]

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Sum over hyperparameters of the log marginal densities at each row."""
        out = np.zeros(len(num))
        for j, (mu, sigma) in enumerate(zip(self.mus, self.sigmas, strict=True)):
            comp = _truncnorm_logpdf(num[:, j : j + 1], mu[None, :], sigma[None, :])
            out += _logsumexp(comp + self.log_weights[None, :])
        for j, probs in enumerate(self.cat_probs):
            out += np.log(probs[cat[:, j]])
        return out

    def sample(self, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``m`` draws, each hyperparameter independently from its mixture."""
        weights = np.exp(self.log_weights)
        num = np.zeros((m, len(self.mus)))
        for j, (mu, sigma) in enumerate(zip(self.mus, self.sigmas, strict=True)):
            k = rng.choice(len(mu), size=m, p=weights)
            num[:, j] = _truncnorm_sample(rng, mu[k], sigma[k])
        cat = np.zeros((m, len(self.cat_probs)), dtype=int)
        for j, probs in enumerate(self.cat_probs):
            cat[:, j] = rng.choice(len(probs), size=m, p=probs)
        return num, cat


def _adaptive_widths(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Component means and widths: the observations, then the prior N(0.5, 1) last."""
    prior_mu, prior_sigma = 0.5, 1.0
    mus = np.r_[points, prior_mu]
    order = np.argsort(mus, kind="stable")
    srt = mus[order]
    gaps = np.diff(srt)
    left = np.r_[gaps[:1], gaps]  # the ends use their only neighbour
    right = np.r_[gaps, gaps[-1:]]
    widths_sorted = np.maximum(left, right) if len(srt) > 1 else np.array([prior_sigma])
    sigma = np.empty_like(mus)
    sigma[order] = widths_sorted
    sigma = np.clip(sigma, prior_sigma / min(100.0, len(mus) + 1.0), prior_sigma)
    sigma[-1] = prior_sigma
    return mus, sigma


class ProductKDE:
    """BOHB's density: a mixture over observations of product kernels (module doc)."""

    def __init__(
        self,
        num: np.ndarray,
        cat: np.ndarray,
        n_categories: Sequence[int],
        min_bandwidth: float = 1e-3,
    ) -> None:
        n, d = len(num), num.shape[1] + cat.shape[1]
        factor = 1.06 * n ** (-1.0 / (4 + d))
        self.num, self.cat = num, cat
        self.n_categories = list(n_categories)
        self.num_bw = np.maximum(factor * num.std(axis=0), min_bandwidth)
        k = np.array(self.n_categories, dtype=float)
        self.cat_bw = np.clip(factor * cat.std(axis=0), min_bandwidth, (k - 1) / np.maximum(k, 1))
        self.min_bandwidth = min_bandwidth

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """log density at each row (m rows)."""
        total = np.zeros((len(num), len(self.num)))
        for j, bw in enumerate(self.num_bw):
            total += _truncnorm_logpdf(num[:, j : j + 1], self.num[None, :, j], bw)
        for j, (bw, k) in enumerate(zip(self.cat_bw, self.n_categories, strict=True)):
            same = cat[:, j : j + 1] == self.cat[None, :, j]
            other = bw / (k - 1) if k > 1 else 1.0
            total += np.log(np.where(same, 1 - bw, other))
        return _logsumexp(total) - math.log(len(self.num))

    def sample(
        self, rng: np.random.Generator, m: int, bandwidth_factor: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """BOHB's sampling: pick an observation, widen numeric kernels by ``bandwidth_factor``,
        keep each category with probability 1 - b, else draw a uniformly random one."""
        idx = rng.integers(len(self.num), size=m)
        bw = np.maximum(self.num_bw * bandwidth_factor, self.min_bandwidth)
        num = np.zeros((m, self.num.shape[1]))
        for j in range(self.num.shape[1]):
            num[:, j] = _truncnorm_sample(rng, self.num[idx, j], np.full(m, bw[j]))
        cat = self.cat[idx].copy()
        for j, k in enumerate(self.n_categories):
            redraw = rng.random(m) >= 1 - self.cat_bw[j]
            cat[redraw, j] = rng.integers(k, size=int(redraw.sum()))
        return num, cat
