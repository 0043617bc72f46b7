"""Full-fidelity synthetic test functions with known optima: Branin (2-d) and Hartmann-6.

Each is an :class:`~benchmarks.objective.Objective` with ``max_epochs=1``: a trial is one
evaluation, reported as ``val_error`` (the function's value, minimised; the results format names the
metric that way whatever it measures) after a constant ``epoch_time`` of simulated seconds.
``best_known_value()`` is the global minimum, so simple regret is ``best value - optimum``.

Definitions as in Jones, Schonlau, Welch, "Efficient Global Optimization of Expensive Black-Box
Functions", J. Global Optim. 1998, and the Surjanovic & Bingham virtual library of simulation
experiments (https://www.sfu.ca/~ssurjano/).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.objective import EpochResult, Objective, TrialRun
from hpo_methods.space import Config, SearchSpace

HARTMANN6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
HARTMANN6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; minimum 0.397887 at (-pi, 12.275), (pi, 2.275),
    (9.42478, 2.475)."""
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(*x: float) -> float:
    """Hartmann-6 on [0, 1]^6; minimum -3.32237 at
    (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)."""
    z = np.asarray(x, dtype=float)
    inner = np.sum(HARTMANN6_A * (z - HARTMANN6_P) ** 2, axis=1)
    return float(-np.sum(HARTMANN6_ALPHA * np.exp(-inner)))


@dataclass(frozen=True)
class KnownFunction:
    """A function of named real arguments, its box, and its global minimum."""

    function: Callable[..., float]
    bounds: dict[str, tuple[float, float]]
    optimum: float


FUNCTIONS: dict[str, KnownFunction] = {
    "branin": KnownFunction(branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, 0.39788735772973816),
    "hartmann6": KnownFunction(
        hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}, -3.3223680114155147
    ),
}


class _OneEvaluation(TrialRun):
    """A trial of a full-fidelity function: one epoch, one value."""

    def __init__(self, value: float, epoch_time: float) -> None:
        self._value = value
        self._epoch_time = epoch_time
        self.epochs_done = 0

    def next_epoch(self) -> EpochResult:
        if self.epochs_done >= 1:
            raise RuntimeError("a synthetic function has a single epoch")
        self.epochs_done = 1
        values = {"val_error": self._value}
        return EpochResult(values, self._epoch_time, values)  # noise-free: true = reported


class SyntheticObjective(Objective):
    """One of :data:`FUNCTIONS` as a one-epoch objective (see the module docstring)."""

    max_epochs = 1
    metric = "val_error"
    metric_names = ("val_error",)

    def __init__(self, function: str, epoch_time: float = 1.0, name: str | None = None) -> None:
        if function not in FUNCTIONS:
            raise ValueError(
                f"unknown synthetic function {function!r}; valid: {', '.join(sorted(FUNCTIONS))}"
            )
        if isinstance(epoch_time, bool) or not (
            isinstance(epoch_time, int | float) and math.isfinite(epoch_time) and epoch_time > 0
        ):
            raise ValueError(f"epoch_time must be a positive number (got {epoch_time!r})")
        self.function_name = function
        self.test_function = FUNCTIONS[function]
        self.epoch_time = float(epoch_time)
        self.name = name or function
        self.space = SearchSpace.from_spec(
            {
                hp: {"type": "uniform", "low": low, "high": high}
                for hp, (low, high) in self.test_function.bounds.items()
            }
        )

    def evaluate(self, config: Config) -> float:
        """The function's value at a configuration of this space."""
        self.space.validate(config)
        return float(self.test_function.function(*(config[hp] for hp in self.space.names)))

    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        return _OneEvaluation(self.evaluate(config), self.epoch_time)

    def best_known_value(self) -> float:
        return self.test_function.optimum

    def describe(self) -> dict:
        return {
            **super().describe(),
            "kind": "synthetic",
            "function": self.function_name,
            "epoch_time": self.epoch_time,
        }


def from_spec(spec: Mapping[str, Any]) -> SyntheticObjective:
    """Build from a ``conf/benchmark/*.yaml`` dict: ``function``, optional ``epoch_time``."""
    if "function" not in spec:
        raise ValueError(f"benchmark '{spec.get('name')}' needs benchmark.function")
    return SyntheticObjective(
        spec["function"], spec.get("epoch_time", 1.0), name=spec.get("name")
    )


CURVES_SPACE = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
}
CURVES_ACTIVATION_SHIFT = {"ReLU": 0.0, "LeakyReLU": 0.02, "Softplus": 0.05}


class _Curve(TrialRun):
    def __init__(self, floor: float, speed: float, epoch_time: float) -> None:
        self.floor, self.speed, self.epoch_time = floor, speed, epoch_time
        self.epochs_done = 0

    def next_epoch(self) -> EpochResult:
        self.epochs_done += 1
        error = self.floor + (0.9 - self.floor) * math.exp(-self.speed * self.epochs_done)
        values = {"val_error": error}
        return EpochResult(values, self.epoch_time, values)  # noise-free: true = reported


class SyntheticCurvesObjective(Objective):
    """Noise-free learning curves over a continuous, mixed space (for tests and cost checks).

    ``val_error = floor + (0.9 - floor) exp(-speed * epoch)`` with
    ``floor = 0.1 + 0.2 |log10(learning_rate) + 2.5| + shift(activation)``,
    ``speed = 0.2 + momentum`` and epoch time ``(10 + 600 / batch_size) * time_scale`` seconds
    (the curves of ``tests/tables.py``, but defined everywhere, so the space is continuous).
    """

    metric = "val_error"
    metric_names = ("val_error",)

    def __init__(
        self, max_epochs: int = 27, name: str = "synthetic_curves", time_scale: float = 1.0
    ) -> None:
        self.name = name
        self.max_epochs = int(max_epochs)
        self.time_scale = float(time_scale)
        self.space = SearchSpace.from_spec(CURVES_SPACE)

    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        self.space.validate(config)
        floor = (
            0.1
            + 0.2 * abs(math.log10(config["learning_rate"]) + 2.5)
            + CURVES_ACTIVATION_SHIFT[config["activation"]]
        )
        epoch_time = (10.0 + 600.0 / config["batch_size"]) * self.time_scale
        return _Curve(floor, 0.2 + config["momentum"], epoch_time)

    def best_known_value(self) -> float:
        return 0.1 + 0.8 * math.exp(-1.19 * self.max_epochs)
