"""Seed noise that is consistent along a learning curve, estimated from a table's repeated seeds.

For every model output (each metric, and epoch time) on the model's own scale (logit of the
range-scaled metric, log of epoch time), the difference between one seed's curve and the mean over
seeds of the same configuration is modelled as a Gaussian process in the epoch:

    noise[e] = sigma[e] * (sqrt(rho) * a + sqrt(1 - rho) * u[e]),   a ~ N(0, 1) once per curve,
    u = stationary AR(1) with coefficient phi and unit variance,

so its correlation between epochs i and j is ``rho + (1 - rho) * phi ** |i - j|``: a persistent
per-curve offset (a lucky seed stays lucky) plus jitter that decays with the epoch distance.
``sigma[e]`` is the pooled seed-to-seed standard deviation at epoch e (the within-configuration
variance with n - 1 degrees of freedom per configuration); ``rho`` and ``phi`` are fitted by
weighted least squares to the empirical correlation of the residual curves at every epoch lag.
Without repeated seeds the noise is zero (and the manifest says so).

The objective metric gets its own model, :class:`MetricNoise`, in the metric's observed units
(fitted by :func:`estimate_metric_noise`; the model-scale part above is then zero for it):

    noise[e] = s_o * a + g * (s_ar * u[e] + s_w(x) * w[e]),
    s_w(x) = exp(w0 + w1 * d + w2 * d^2),  d = x - x0,
    a, w[e] ~ N(0, 1);   g = exp(tau * clip(N(0, 1), -2.5, 2.5)) / norm per curve;
    u[e] = phi * u[e-1] + sqrt(1 - phi^2) * h[e] * n[e],  n[e] ~ N(0, 1),  u[1] ~ N(0, 1),
    h[e] = B[e] / sqrt(q), B[e] ~ Bernoulli(q)  (the slow part moves at a share q of epochs)

and the noisy value ``mean + noise`` is rounded to the metric's resolution (a validation error on
500 images is a multiple of 1/500) and clipped to the metric's domain (``[0, 1]`` for an error
rate; not to the table's observed range: the table's lowest value is itself a lucky draw, and a
floor there makes every later incumbent of a long noisy run tie at it). Why this shape (measured on
the shipped table's configurations with three seeds; the figures are in ``validation.json``):

- the seed-to-seed spread at an epoch is about the same for every configuration (0.02) and every
  epoch, but the epoch-to-epoch jitter is not: configurations stuck near chance level move by one
  image at a time, fast learners by 0.03-0.05. The log of a configuration's mean squared step is
  linear in its effective step size, log(learning_rate / (1 - momentum) / batch_size) (R^2 0.87;
  the predicted mean level explains much less). So the white jitter scales with a covariate
  ``x``: the configuration feature (a hyperparameter on its model scale, or a derived SGD feature)
  that best explains the log mean squared step of the seed residuals (weighted least squares; the
  R^2 of every candidate is stored with the model). The log scale is quadratic in ``x``, not
  linear: at small steps the slow part below dominates the jitter, so a log-linear white scale
  must rise steeply to reach the fast learners and overshoots at the top of the range (modelled
  seed spread 0.047-0.048 at the two largest ``x`` of the 40 configurations with three seeds of
  the grown collection, measured 0.025-0.032; quadratic: 0.037). Those are the configurations
  near the best, whose lucky draws make the incumbents;
- the residual correlation along a curve drops at lag one and then decays slowly (0.58 at lag 1,
  about 0.3 at lag 10): a slow AR(1) part (phi about 0.97, one scale for all configurations: with
  a covariate slope of its own the modelled seed spread came out 10-20% too high) plus the white
  jitter fit it far better (Gaussian log-likelihood) than one AR(1) part;
- the covariate explains most but not all of the per-configuration jitter scale; the rest, beyond
  what sampling noise explains (measured by simulating the fitted model), is the log-normal
  per-curve factor ``g`` (mean square one, so the seed spread is unchanged). Its normal deviate
  is clipped to +-2.5 (:data:`GAIN_CLIP`): 40 configurations show per-configuration scales within
  about +-2.2 sd, and beyond that the product of an unbounded log-normal factor and Gaussian
  jitter is pure extrapolation that gave single reports 0.3 below their configuration's mean at
  the fastest learners (a bo run's incumbent a draw of 0.380 whose mean was 0.728; the data's 1%
  quantile of seed residuals is -0.040);
- a stuck curve is flat for epochs and then jumps (one seed escapes the plateau or changes the
  class it predicts): its steps have an excess kurtosis of 5-8, learning curves' about 0. Sparse
  innovations of the slow part reproduce that (they dominate the steps of stuck curves only); the
  share ``q`` is the one whose simulated residuals have the data's pooled excess kurtosis of
  standardised steps (:func:`step_kurtosis`; simulated moments, fixed seed). Gaussian innovations
  make stuck curves rise at 35% of their steps instead of 20%;
- rounding gives the ties (a fifth of real epoch steps change nothing) that continuous noise never
  makes. Without rounding and sparse jumps, noisy curves rise at 39% of the steps, real ones at 27%.

``phi``, ``s_o``, ``s_ar``, ``w0``, ``w1``, ``w2`` are maximum-likelihood estimates (Gaussian) from
the residual curves of the configurations with several seeds (each configuration's residual cross
products around its seed mean are Wishart with n - 1 degrees of freedom), then all scales are
multiplied by the one factor that makes the modelled seed spread, pooled over those
configurations, equal the data's. A whole curve is drawn at once: ``3 + 2 * epochs`` standard
normal numbers (and ``epochs`` uniform ones when q < 1) from the trial's generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy.optimize import minimize

_RHO_GRID = np.linspace(0.0, 1.0, 101)
_PHI_GRID = np.linspace(0.0, 0.99, 100)


@dataclass
class CurveNoise:
    """The noise of one output along a curve (see the module docstring)."""

    sigma: list[float]
    rho: float = 0.0
    phi: float = 0.0

    def correlation(self) -> np.ndarray:
        e = np.arange(len(self.sigma))
        lag = np.abs(e[:, None] - e[None, :])
        return self.rho + (1.0 - self.rho) * self.phi**lag

    def factor(self) -> np.ndarray:
        """A matrix A with A @ N(0, I) distributed as the noise: diag(sigma) @ cholesky(C)."""
        n = len(self.sigma)
        chol = np.linalg.cholesky(self.correlation() + 1e-9 * np.eye(n))
        return np.asarray(self.sigma)[:, None] * chol


@dataclass
class NoiseModel:
    """Noise for every model output; ``sample`` draws one whole curve's worth."""

    outputs: list[str]
    parts: dict[str, CurveNoise]
    n_configs: int = 0
    n_curves: int = 0
    metric: MetricNoise | None = None  # the objective metric's observed-scale model, if fitted
    _factors: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._factors = np.stack([self.parts[name].factor() for name in self.outputs])

    @property
    def max_epochs(self) -> int:
        return int(self._factors.shape[1])

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Noise on the model scale, shape (epochs, outputs)."""
        w = rng.standard_normal((len(self.outputs), self.max_epochs))
        return np.einsum("kij,kj->ik", self._factors, w)

    def to_json(self) -> dict[str, Any]:
        out = {
            "model": "sigma[e] * (sqrt(rho) * N(0,1) per curve + sqrt(1-rho) * AR1(phi)[e])",
            "scale": "model scale: logit of the range-scaled metric, log of epoch time",
            "estimated_from": {"configs": self.n_configs, "curves": self.n_curves},
            "outputs": {
                name: {"sigma": p.sigma, "rho": p.rho, "phi": p.phi}
                for name, p in self.parts.items()
            },
            "order": list(self.outputs),
        }
        if self.metric is not None:
            out["metric"] = self.metric.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoiseModel:
        parts = {
            name: CurveNoise([float(s) for s in p["sigma"]], float(p["rho"]), float(p["phi"]))
            for name, p in data["outputs"].items()
        }
        used = data.get("estimated_from", {})
        metric = MetricNoise.from_json(data["metric"]) if data.get("metric") else None
        return cls(list(data["order"]), parts, int(used.get("configs", 0)),
                   int(used.get("curves", 0)), metric)

    @classmethod
    def zero(cls, outputs: list[str], max_epochs: int) -> NoiseModel:
        return cls(outputs, {n: CurveNoise([0.0] * max_epochs) for n in outputs})


def residual_curves(frame: pd.DataFrame, column: str, max_epochs: int) -> tuple[np.ndarray, int]:
    """Seed-minus-configuration-mean curves of ``column`` for configurations with >= 2 seeds.

    Returns (residuals of shape (curves, epochs), degrees of freedom = curves - configurations).
    """
    counts = frame.groupby("config_id")["seed"].nunique()
    multi = counts[counts >= 2].index
    sub = frame[frame["config_id"].isin(multi)].sort_values(["config_id", "seed", "epoch"])
    if sub.empty:
        return np.zeros((0, max_epochs)), 0
    curves = sub[column].to_numpy(dtype=float).reshape(-1, max_epochs)
    groups = sub["config_id"].to_numpy()[::max_epochs]
    means = pd.DataFrame(curves).groupby(groups).transform("mean").to_numpy()
    return curves - means, len(curves) - len(multi)


def fit_curve_noise(residuals: np.ndarray, dof: int) -> CurveNoise:
    """Pooled per-epoch sigma and the (rho, phi) that best fit the lag correlations."""
    n_epochs = residuals.shape[1]
    if dof <= 0:
        return CurveNoise([0.0] * n_epochs)
    sigma = np.sqrt((residuals**2).sum(axis=0) / dof)
    if n_epochs < 2 or not (sigma > 0).all():
        return CurveNoise([float(s) for s in sigma])
    cov = residuals.T @ residuals
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    lags = np.arange(1, n_epochs)
    empirical = np.array([np.mean(np.diagonal(corr, k)) for k in lags])
    weights = n_epochs - lags
    model = _RHO_GRID[:, None, None] + (1 - _RHO_GRID[:, None, None]) * (
        _PHI_GRID[None, :, None] ** lags[None, None, :]
    )
    loss = (weights * (model - empirical) ** 2).sum(axis=2)
    i, j = np.unravel_index(np.argmin(loss), loss.shape)
    return CurveNoise([float(s) for s in sigma], float(_RHO_GRID[i]), float(_PHI_GRID[j]))


def estimate_noise(frame: pd.DataFrame, outputs: list[str], max_epochs: int) -> NoiseModel:
    """Fit the noise of each output column (already on the model scale) of ``frame``."""
    parts = {}
    n_curves = n_configs = 0
    for name in outputs:
        residuals, dof = residual_curves(frame, name, max_epochs)
        parts[name] = fit_curve_noise(residuals, dof)
        n_curves, n_configs = len(residuals), len(residuals) - dof
    return NoiseModel(outputs, parts, n_configs, n_curves)


# -- the objective metric: observed units, heteroscedastic, rounded ----------------------------

_SIMULATIONS = 64  # parametric-bootstrap replicates that measure tau's sampling floor
GAIN_CLIP = 2.5  # the per-curve gain's normal deviate is clipped to +-GAIN_CLIP (module docstring)


def curve_gain(z: np.ndarray, tau: float) -> np.ndarray:
    """The per-curve jitter factor ``g`` of standard normal deviates ``z``: ``exp(tau * z)`` with
    ``z`` clipped to +-:data:`GAIN_CLIP`, divided by its root mean square over the normal
    distribution (so the seed spread does not depend on ``tau``)."""
    s, c = 2.0 * tau, GAIN_CLIP
    inside = math.exp(s * s / 2) * (special.ndtr(c - s) - special.ndtr(-c - s))
    mean_square = inside + math.exp(s * c) * special.ndtr(-c) + math.exp(-s * c) * special.ndtr(-c)
    return np.exp(tau * np.clip(z, -c, c)) / math.sqrt(mean_square)
_ZERO_LOG_SD = -50.0  # log sd of a part that is absent (exp gives 2e-22)


@dataclass
class MetricNoise:
    """Seed noise of the objective metric in its observed units (see the module docstring)."""

    metric: str
    max_epochs: int
    offset: float  # s_o
    phi: float
    ar: tuple[float, float]  # (ar0, ar1): log sd of the AR(1) part; the fit keeps ar1 = 0
    white: tuple[float, ...]  # (w0, w1, w2): log sd of the white part, quadratic in x - x0
    tau: float = 0.0
    jump_share: float = 1.0  # q: share of epochs whose AR(1) innovation is not zero
    covariate: str | None = None  # a feature of the surrogate's encoder; None: constant scales
    center: float = 0.0  # x0
    covariate_range: tuple[float, float] = (0.0, 0.0)  # x is clipped into it
    resolution: float | None = None
    n_configs: int = 0
    n_curves: int = 0
    selection: dict[str, float] = field(default_factory=dict)  # candidate -> R^2 of log step
    _chol: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.white = _white(self.white)
        self._chol = np.linalg.cholesky(_ar1_correlation(self.phi, self.max_epochs))

    def scales(self, x: float) -> tuple[float, float]:
        """(sd of the AR(1) part, sd of the white part) at covariate value ``x``."""
        lo, hi = self.covariate_range
        d = min(max(float(x), lo), hi) - self.center if self.covariate else 0.0
        return math.exp(self.ar[0] + self.ar[1] * d), math.exp(_log_white(self.white, d))

    def sample(
        self, rng: np.random.Generator, x: float = 0.0, size: int | None = None
    ) -> np.ndarray:
        """One curve's noise (observed units, before rounding), shape (epochs,); ``size``
        curves of the same configuration, shape (size, epochs)."""
        e = self.max_epochs
        shape = () if size is None else (size,)
        z = rng.standard_normal((*shape, 3 + 2 * e))
        s_ar, s_w = self.scales(x)
        g = curve_gain(z[..., 1:2], self.tau)
        innovations = z[..., 3:3 + e]
        if self.jump_share < 1.0:  # sparse moves: innovation h * n, h = B / sqrt(q), B ~ Ber(q)
            h = (rng.random((*shape, e)) < self.jump_share) * (1.0 / math.sqrt(self.jump_share))
            h[..., 0] = 1.0  # the first value has the stationary distribution
            innovations = innovations * h
        out = innovations @ self._chol.T
        out *= g * s_ar
        out += (g * s_w) * z[..., 3 + e:]
        out += self.offset * z[..., 0:1]
        return out

    def apply(
        self, mean: np.ndarray, x: float, rng: np.random.Generator, lo: float, hi: float
    ) -> np.ndarray:
        """A noisy curve around ``mean``: noise added, rounded to the resolution, clipped to
        [lo, hi] (the metric's domain)."""
        noisy = self.sample(rng, x)
        noisy += mean
        if self.resolution:
            noisy /= self.resolution
            np.rint(noisy, out=noisy)
            noisy *= self.resolution
        return np.clip(noisy, lo, hi, out=noisy)

    def epoch_sd(self, x: float = 0.0) -> float:
        """The marginal seed-to-seed standard deviation at any epoch (before rounding)."""
        s_ar, s_w = self.scales(x)
        return float(np.sqrt(self.offset**2 + s_ar**2 + s_w**2))

    def to_json(self) -> dict[str, Any]:
        return {
            "model": "s_o * N(0,1) per curve + g * (s_ar(x) * AR1(phi)[e] + s_w(x) * N(0,1)[e]), "
                     "g = exp(tau * clip(N(0,1), -2.5, 2.5)) / norm per curve (mean square 1), "
                     "AR(1) innovations zero at a share 1 - jump_share of epochs, "
                     "s_ar = exp(ar0), s_w(x) = exp(w0 + w1 * d + w2 * d^2), d = clip(x) - center; "
                     "rounded to resolution, clipped to the metric's domain",
            "scale": "observed units of the metric",
            "metric": self.metric, "max_epochs": self.max_epochs,
            "offset": self.offset, "phi": self.phi, "ar": list(self.ar),
            "white": list(self.white), "tau": self.tau,
            "jump_share": self.jump_share,
            "covariate": self.covariate,
            "center": self.center, "covariate_range": list(self.covariate_range),
            "resolution": self.resolution,
            "estimated_from": {"configs": self.n_configs, "curves": self.n_curves},
            "covariate_r2": self.selection,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetricNoise:
        used = data.get("estimated_from", {})
        return cls(
            str(data["metric"]), int(data["max_epochs"]), float(data["offset"]),
            float(data["phi"]), _pair(data["ar"]), _white(data["white"]), float(data["tau"]),
            float(data.get("jump_share", 1.0)), data.get("covariate"),
            float(data.get("center", 0.0)),
            _pair(data.get("covariate_range", (0.0, 0.0))),
            float(data["resolution"]) if data.get("resolution") else None,
            int(used.get("configs", 0)), int(used.get("curves", 0)),
            {str(k): float(v) for k, v in (data.get("covariate_r2") or {}).items()},
        )


def _pair(values: Any) -> tuple[float, float]:
    a, b = values
    return float(a), float(b)


def _white(values: Any) -> tuple[float, float, float]:
    """(w0, w1, w2); a model saved with a log-linear scale has no w2 (0)."""
    w = [float(v) for v in values]
    if len(w) not in (2, 3):
        raise ValueError(f"white: expected 2 or 3 coefficients, got {len(w)}")
    return w[0], w[1], w[2] if len(w) == 3 else 0.0


def _log_white(white: Any, d: Any) -> Any:
    """log sd of the white part at covariate offset ``d``: w0 + w1 d + w2 d^2."""
    return white[0] + white[1] * d + white[2] * d * d


def _ar1_correlation(phi: float, n: int) -> np.ndarray:
    lag = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return float(phi) ** lag


def metric_resolution(values: np.ndarray) -> float | None:
    """The grid step the values lie on (e.g. 1/500 for an error rate on 500 images), or None.

    The step is the smallest gap between distinct finite values, snapped to 1/n when that is an
    integer fraction; every value must be a whole multiple of it (to 1/1000 of a step).
    """
    finite = np.unique(values[np.isfinite(values)])
    if len(finite) < 3:
        return None
    step = float(np.min(np.diff(finite)))
    if not step > 0:
        return None
    inverse = round(1.0 / step)
    if inverse > 0 and abs(1.0 / step - inverse) < 1e-3 * (1.0 / step):
        step = 1.0 / inverse
    units = finite / step
    return step if np.all(np.abs(units - np.round(units)) < 1e-3) else None


@dataclass
class _Residuals:
    """Per configuration with >= 2 seeds: the residual cross-product matrix and its dof."""

    config_ids: np.ndarray
    cross: np.ndarray  # (configs, epochs, epochs): sum over seeds of r r^T, r = y - seed mean
    dof: np.ndarray  # seeds - 1
    n_curves: int

    @property
    def step_var(self) -> np.ndarray:
        """Per configuration: the mean squared epoch step of the residual curves (per dof)."""
        e = self.cross.shape[1]
        d = np.eye(e)[1:] - np.eye(e)[:-1]
        return np.einsum("ij,kjl,il->k", d, self.cross, d) / (e - 1) / self.dof


def _residual_products(frame: pd.DataFrame, column: str, max_epochs: int) -> _Residuals:
    grouped = frame.assign(_ok=np.isfinite(frame[column].to_numpy(dtype=float))).groupby(
        ["config_id", "seed"])["_ok"]
    full = (grouped.transform("sum") == max_epochs) & (grouped.transform("size") == max_epochs)
    sub = frame[full.to_numpy()].sort_values(["config_id", "seed", "epoch"])
    curves = sub[column].to_numpy(dtype=float).reshape(-1, max_epochs)
    owners = sub["config_id"].to_numpy()[::max_epochs]
    ids, counts = np.unique(owners, return_counts=True)
    keep = ids[counts >= 2]
    cross, dof = [], []
    for cid in keep:
        c = curves[owners == cid]
        r = c - c.mean(axis=0)
        cross.append(r.T @ r)
        dof.append(len(c) - 1)
    if not cross:
        return _Residuals(keep, np.zeros((0, max_epochs, max_epochs)), np.zeros(0), 0)
    return _Residuals(keep, np.stack(cross), np.array(dof, dtype=float), int(np.sum(dof) +
                                                                             len(keep)))


def _weighted_r2(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """(R^2, intercept, slope) of the weighted least-squares line of y on x."""
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    sxx = np.sum(w * (x - xm) ** 2)
    if not sxx > 0:
        return 0.0, ym, 0.0
    slope = np.sum(w * (x - xm) * (y - ym)) / sxx
    total = np.sum(w * (y - ym) ** 2)
    fit = slope**2 * sxx
    return (float(fit / total) if total > 0 else 0.0), float(ym - slope * xm), float(slope)


def _covariances(theta: np.ndarray, d: np.ndarray, lag: np.ndarray) -> np.ndarray:
    log_off, phi, a0, a1, w0 = theta[:5]
    s_ar = np.exp(a0 + a1 * d)
    s_w = np.exp(_log_white(theta[4:7], d))
    e = lag.shape[0]
    floor = 1e-9 * np.exp(2 * max(log_off, a0, w0))  # keeps every matrix positive definite
    return (np.exp(2 * log_off) + (s_ar**2)[:, None, None] * phi**lag
            + (s_w**2 + floor)[:, None, None] * np.eye(e))


def _negative_log_likelihood(
    theta: np.ndarray, d: np.ndarray, res: _Residuals, lag: np.ndarray
) -> float:
    sigma = _covariances(theta, d, lag)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return 1e300
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    trace = np.trace(np.linalg.solve(sigma, res.cross), axis1=1, axis2=2)
    return float(0.5 * np.sum(res.dof * logdet + trace))


def _fit_gaussian(d: np.ndarray, res: _Residuals, scale: float, slopes: bool) -> np.ndarray:
    """Maximum-likelihood (log s_o, phi, ar0, ar1, w0, w1, w2): ar1 is 0, and so are w1 and w2
    unless ``slopes``."""
    e = res.cross.shape[1]
    lag = np.abs(np.arange(e)[:, None] - np.arange(e)[None, :])
    log_s = float(np.log(scale))
    start = np.array([log_s - 0.7, 0.8, log_s - 0.7, 0.0, log_s - 1.4, 0.0, 0.0])
    low, high = log_s - 12.0, log_s + 3.0
    span = float(np.ptp(d)) if slopes else 0.0
    # the linear term changes a scale by at most e^8 over the covariate's range, the quadratic
    # term by at most e^4 over half of it
    slope = (-8.0 / span, 8.0 / span) if span > 0 else (0.0, 0.0)
    curve = (-16.0 / span**2, 16.0 / span**2) if span > 0 else (0.0, 0.0)
    # the AR(1) part keeps one scale for every configuration (see the module docstring)
    bounds = [(low, high), (0.0, 0.99), (low, high), (0.0, 0.0), (low, high), slope, curve]
    best = minimize(_negative_log_likelihood, start, args=(d, res, lag), method="L-BFGS-B",
                    bounds=bounds)
    return best.x


def _match_seed_spread(theta: np.ndarray, d: np.ndarray, res: _Residuals) -> np.ndarray:
    """``theta`` with every scale multiplied by one factor, so that the modelled seed-to-seed
    variance, pooled over the configurations as the data's is, equals the data's (the Gaussian
    likelihood of heavy-tailed residuals overshoots it by a few percent)."""
    e = res.cross.shape[1]
    data = np.trace(res.cross, axis1=1, axis2=2).sum() / (e * res.dof.sum())
    log_off, _, a0, a1 = theta[:4]
    per_config = (np.exp(2 * log_off) + np.exp(2 * (a0 + a1 * d))
                  + np.exp(2 * _log_white(theta[4:7], d)))
    model = np.sum(res.dof * per_config) / res.dof.sum()
    shift = 0.5 * np.log(data / model)
    out = theta.copy()
    out[[0, 2, 4]] += shift
    return out


def _tau(theta: np.ndarray, d: np.ndarray, res: _Residuals) -> float:
    """The sd of the log per-curve jitter factor that the covariate leaves unexplained: the
    spread of log(observed / modelled mean squared step) over configurations, less the spread
    that sampling alone gives under the fitted model (simulated, fixed seed)."""
    if len(d) < 3:
        return 0.0
    e = res.cross.shape[1]
    lag = np.abs(np.arange(e)[:, None] - np.arange(e)[None, :])
    sigma = _covariances(theta, d, lag)
    step = np.eye(e)[1:] - np.eye(e)[:-1]
    model_step = np.einsum("ij,kjl,il->k", step, sigma, step) / (e - 1)
    observed = np.log(res.step_var / model_step)
    chol = np.linalg.cholesky(sigma)
    rng = np.random.default_rng(0)
    seeds = (res.dof + 1).astype(int)
    spreads = []
    for _ in range(_SIMULATIONS):
        sim = np.empty(len(d))
        for k in range(len(d)):
            curves = rng.standard_normal((seeds[k], e)) @ chol[k].T
            r = curves - curves.mean(axis=0)
            sim[k] = np.mean(np.diff(r, axis=1) ** 2) * seeds[k] / res.dof[k]
        spreads.append(np.var(np.log(sim / model_step), ddof=1))
    excess = float(np.var(observed, ddof=1) - np.mean(spreads))
    return float(np.sqrt(excess) / 2.0) if excess > 0 else 0.0


def estimate_metric_noise(
    frame: pd.DataFrame, metric: str, features: pd.DataFrame, max_epochs: int
) -> MetricNoise | None:
    """Fit :class:`MetricNoise` to ``frame``'s configurations with several seeds.

    ``frame``: table rows in observed units (config_id, seed, epoch, ``metric``); ``features``:
    one row per config_id, one column per candidate covariate (numeric features that are
    constant along a curve). Returns None with fewer than three such configurations.
    """
    res = _residual_products(frame, metric, max_epochs)
    if len(res.config_ids) < 3 or max_epochs < 2:
        return None
    resolution = metric_resolution(frame[metric].to_numpy(dtype=float))
    pooled = float(np.sqrt(np.trace(res.cross, axis1=1, axis2=2).sum()
                           / (res.dof.sum() * max_epochs)))
    if not pooled > 0:
        return MetricNoise(metric, max_epochs, 0.0, 0.0, (_ZERO_LOG_SD, 0.0), (_ZERO_LOG_SD, 0.0),
                           resolution=resolution, n_configs=len(res.config_ids),
                           n_curves=res.n_curves)
    log_step = np.log(np.maximum(res.step_var, pooled**2 * 1e-8))
    candidates = features.loc[res.config_ids]
    selection = {}
    for name in candidates.columns:
        x = candidates[name].to_numpy(dtype=float)
        if np.isfinite(x).all() and np.ptp(x) > 0:
            selection[str(name)] = round(_weighted_r2(x, log_step, res.dof)[0], 4)
    covariate = max(selection, key=selection.get) if selection else None
    x = candidates[covariate].to_numpy(dtype=float) if covariate else np.zeros(len(res.dof))
    center = float(np.average(x, weights=res.dof))
    d = x - center
    theta = _fit_gaussian(d, res, pooled, slopes=covariate is not None)
    theta = _match_seed_spread(theta, d, res)
    model = MetricNoise(
        metric, max_epochs, offset=float(np.exp(theta[0])), phi=float(theta[1]),
        ar=(float(theta[2]), float(theta[3])), white=_white(theta[4:7]),
        tau=_tau(theta, d, res), covariate=covariate, center=center,
        covariate_range=(float(x.min()), float(x.max())), resolution=resolution,
        n_configs=len(res.config_ids), n_curves=res.n_curves, selection=selection,
    )
    model.jump_share = _jump_share(model, frame, metric, res, x)
    return model


def step_kurtosis(curves: list[np.ndarray]) -> np.ndarray:
    """Excess kurtosis of the epoch steps of seed residuals, each configuration's steps divided
    by their root mean square, pooled. ``curves``: per configuration, (seeds, epochs), or
    (replicates, seeds, epochs) for one figure per replicate."""
    pooled = []
    for c in curves:
        steps = np.diff(c - c.mean(axis=-2, keepdims=True), axis=-1)
        steps = steps.reshape(*steps.shape[:-2], -1)
        rms = np.sqrt(np.mean(steps**2, axis=-1, keepdims=True))
        pooled.append(np.divide(steps, rms, out=np.full_like(steps, np.nan), where=rms > 0))
    z = np.concatenate(pooled, axis=-1)
    z = z[..., np.isfinite(z).all(axis=tuple(range(z.ndim - 1)))] if z.size else z
    if not z.shape[-1]:
        return np.zeros(z.shape[:-1])
    return np.mean(z**4, axis=-1) / np.mean(z**2, axis=-1) ** 2 - 3.0


_JUMP_GRID = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05, 0.04, 0.03, 0.02)


def _jump_share(
    model: MetricNoise, frame: pd.DataFrame, metric: str, res: _Residuals, x: np.ndarray
) -> float:
    """The share q of epochs with an AR(1) innovation, by simulated moments: the q (on a grid)
    whose simulated residuals have the data's :func:`step_kurtosis` (simulated with the same
    configurations, seeds and covariates, rounded to the resolution around a flat curve at a
    random place in a grid cell; fixed seed, so the fit is deterministic)."""
    rows = frame[frame["config_id"].isin(res.config_ids)].sort_values(
        ["config_id", "seed", "epoch"])
    e = model.max_epochs
    data = []
    for cid in res.config_ids:
        c = rows.loc[rows["config_id"] == cid, metric].to_numpy(dtype=float)
        data.append(c.reshape(-1, e))
    target = float(step_kurtosis(data))
    seeds = (res.dof + 1).astype(int)
    replicates = _SIMULATIONS // 4
    best, best_gap = 1.0, np.inf
    for q in _JUMP_GRID:
        model.jump_share = q
        rng = np.random.default_rng(0)
        sims = []
        for xk, n in zip(x, seeds, strict=True):  # rounded as the data are, around a flat curve
            noisy = model.sample(rng, xk, size=replicates * n)
            noisy += rng.random((replicates * n, 1)) * (model.resolution or 0.0)
            if model.resolution:
                noisy = np.rint(noisy / model.resolution)
            sims.append(noisy.reshape(replicates, n, e))
        gap = abs(float(np.mean(step_kurtosis(sims))) - target)
        if gap < best_gap:
            best, best_gap = q, gap
    return best
