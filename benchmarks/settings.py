"""Checks of a run's configuration, with one-line errors a user can act on."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from benchmarks.tuning import Budget

BACKENDS = ("simulated", "local")


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the key."""


@dataclass(frozen=True)
class RunSettings:
    """The validated top-level settings of one run."""

    seed: int
    n_workers: int
    budget: Budget
    backend: str
    overwrite: bool
    method_name: str
    method_settings: dict[str, Any]
    benchmark: dict[str, Any]
    gpus: list[str]
    count_method_time: bool = False
    objectives: list[Any] | None = None  # benchmark.objectives (None: the objective's metric)
    constraints: list[Any] = field(default_factory=list)  # benchmark.constraints
    method_target: str | None = None  # method=custom: method.target, package.module:attribute


def _int(cfg: DictConfig, key: str, minimum: int) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer (got {value!r})")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum} (got {value})")
    return value


def _bool(cfg: DictConfig, key: str) -> bool:
    value = OmegaConf.select(cfg, key, default=False)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false (got {value!r})")
    return value


def _positive_or_none(cfg: DictConfig, key: str) -> float | None:
    value = OmegaConf.select(cfg, key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{key} must be a positive number or null (got {value!r})")
    return value


def settings_from_config(cfg: DictConfig) -> RunSettings:
    """Validate the composed config; raise :class:`ConfigError` on the first bad value."""
    budget_time = _positive_or_none(cfg, "budget.time")
    budget_trials = _positive_or_none(cfg, "budget.trials")
    budget_epochs = _positive_or_none(cfg, "budget.epochs")
    if budget_time is None and budget_trials is None and budget_epochs is None:
        raise ConfigError(
            "the budget needs at least one of budget.time, budget.trials, budget.epochs"
        )
    for key, value in (("budget.trials", budget_trials), ("budget.epochs", budget_epochs)):
        if value is not None and int(value) != value:
            raise ConfigError(f"{key} must be a whole number (got {value})")
    backend = cfg.get("backend")
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    results_dir = Path(str(cfg.results_dir))
    if results_dir.exists() and not results_dir.is_dir():
        raise ConfigError(f"results_dir '{results_dir}' exists and is not a folder")
    count_method_time = _bool(cfg, "count_method_time")
    if count_method_time and backend != "simulated":
        raise ConfigError(
            "count_method_time applies to the simulated backend only (the local backend's "
            "real clock already includes the method's time)"
        )
    method = OmegaConf.to_container(cfg.method, resolve=True)
    return RunSettings(
        seed=_int(cfg, "seed", 0),
        n_workers=_int(cfg, "n_workers", 1),
        budget=Budget(
            budget_time,
            int(budget_trials) if budget_trials is not None else None,
            int(budget_epochs) if budget_epochs is not None else None,
        ),
        backend=str(backend),
        overwrite=bool(cfg.get("overwrite", False)),
        method_name=str(method["name"]),
        method_settings=dict(method.get("settings") or {}),
        benchmark=objective_spec(cfg),
        gpus=_gpus(cfg.get("gpus")) if backend == "local" else [],
        count_method_time=count_method_time,
        objectives=_list_or_none(cfg, "benchmark.objectives"),
        constraints=_list_or_none(cfg, "benchmark.constraints") or [],
        method_target=None if method.get("target") is None else str(method["target"]),
    )


def _list_or_none(cfg: DictConfig, key: str) -> list[Any] | None:
    value = OmegaConf.select(cfg, key)
    if value is None:
        return None
    value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list (got {value!r})")
    return value


PROBLEM_KEYS = ("budget_time", "objectives", "constraints")


def objective_spec(cfg: DictConfig) -> dict[str, Any]:
    """The benchmark's config without the keys that describe the run rather than the objective
    (``budget_time``: a default for ``budget.time``; ``objectives`` and ``constraints``: the
    problem methods solve on it)."""
    spec = OmegaConf.to_container(cfg.benchmark, resolve=True)
    for key in PROBLEM_KEYS:
        spec.pop(key, None)
    return spec


def _gpus(value: Any) -> list[str]:
    """The GPU ids local workers are bound to: a list, or null to use every GPU found."""
    if value is None:
        return detect_gpus()
    if isinstance(value, int | str):
        value = [value]
    return [str(v) for v in value]


def detect_gpus() -> list[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES or ``nvidia-smi -L`` (no torch import); [] if none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU")]
