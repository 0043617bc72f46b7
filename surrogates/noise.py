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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
        return {
            "model": "sigma[e] * (sqrt(rho) * N(0,1) per curve + sqrt(1-rho) * AR1(phi)[e])",
            "scale": "model scale: logit of the range-scaled metric, log of epoch time",
            "estimated_from": {"configs": self.n_configs, "curves": self.n_curves},
            "outputs": {
                name: {"sigma": p.sigma, "rho": p.rho, "phi": p.phi}
                for name, p in self.parts.items()
            },
            "order": list(self.outputs),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoiseModel:
        parts = {
            name: CurveNoise([float(s) for s in p["sigma"]], float(p["rho"]), float(p["phi"]))
            for name, p in data["outputs"].items()
        }
        used = data.get("estimated_from", {})
        return cls(list(data["order"]), parts, int(used.get("configs", 0)),
                   int(used.get("curves", 0)))

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
