"""Checks of a run's configuration, with one-line errors a user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from benchmarks.simulated import Budget

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


def _int(cfg: DictConfig, key: str, minimum: int) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer (got {value!r})")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum} (got {value})")
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
        benchmark=OmegaConf.to_container(cfg.benchmark, resolve=True),
    )
