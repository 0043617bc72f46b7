"""Checks of a run's configuration, with one-line errors a user can act on."""

from __future__ import annotations

import difflib
import os
import subprocess
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import hpo_methods.registry as registry
from benchmarks.errors import UserError
from benchmarks.identity import flatten, group_defaults, method_label, top_defaults
from benchmarks.real import SPEC_KEYS as REAL_SPEC_KEYS
from benchmarks.tuning import Budget
from hpo_methods.registry import MethodError, UnknownMethodError, method_settings, takes_any_setting

BACKENDS = ("simulated", "local")


class ConfigError(UserError):
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
    method_label: str = ""  # the method's name, or its name and non-default settings
    results_dir: str = "results"
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


def settings_from_config(cfg: DictConfig, choices: Mapping[str, str] | None = None
                         ) -> RunSettings:
    """Validate the composed config; raise :class:`ConfigError` on the first bad value.

    ``choices``: the config group options Hydra picked (``method``, ``benchmark``), whose YAML
    files hold the defaults that settings are checked against (default: the names in ``cfg``).
    """
    container = OmegaConf.to_container(cfg, resolve=True)
    method_choice = str((choices or {}).get("method") or container["method"].get("name"))
    benchmark_choice = str((choices or {}).get("benchmark") or container["benchmark"].get("name"))
    check_keys(container, method_choice, benchmark_choice)
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
    results_dir = check_results_dir(cfg.get("results_dir"))
    overwrite = _bool(cfg, "overwrite")
    count_method_time = _bool(cfg, "count_method_time")
    if count_method_time and backend != "simulated":
        raise ConfigError(
            "count_method_time applies to the simulated backend only (the local backend's "
            "real clock already includes the method's time)"
        )
    method = container["method"]
    method_settings = check_method_settings(
        str(method["name"]), dict(method.get("settings") or {}), method_choice
    )
    check_benchmark_values(container["benchmark"], benchmark_choice)
    return RunSettings(
        seed=_int(cfg, "seed", 0),
        n_workers=_int(cfg, "n_workers", 1),
        budget=Budget(
            budget_time,
            int(budget_trials) if budget_trials is not None else None,
            int(budget_epochs) if budget_epochs is not None else None,
        ),
        backend=str(backend),
        overwrite=overwrite,
        method_name=str(method["name"]),
        method_settings=method_settings,
        benchmark=objective_spec(cfg),
        gpus=_gpus(cfg.get("gpus")) if backend == "local" else [],
        count_method_time=count_method_time,
        objectives=_list_or_none(cfg, "benchmark.objectives"),
        constraints=_list_or_none(cfg, "benchmark.constraints") or [],
        method_label=method_label(method, method_choice),
        results_dir=results_dir,
        method_target=None if method.get("target") is None else str(method["target"]),
    )


def check_results_dir(value: Any) -> str:
    """``results_dir`` must name a folder (not empty, not a file)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"results_dir must name a folder (got {value!r})")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"results_dir '{value}' exists and is not a folder")
    return value


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


# -- keys and types -----------------------------------------------------------------------------


def known_keys(method_choice: str, benchmark_choice: str, kind: Any = None) -> set[str]:
    """Every dotted key a run's config may hold: ``conf/config.yaml``'s, the method's and the
    benchmark's YAML keys, and the options the benchmark's kind understands."""
    keys = {k for k in flatten(top_defaults()) if not k.startswith(("method", "benchmark"))}
    keys |= {k.split(".")[0] for k in keys}
    method = group_defaults("method", method_choice)
    keys |= {"method", "method.name", "method.label", "method.settings"}
    keys |= {f"method.{k}" for k in flatten(method)}
    keys |= {f"method.settings.{k}" for k in method_setting_names(method_choice)}
    benchmark = group_defaults("benchmark", benchmark_choice)
    kind = kind if kind is not None else benchmark.get("kind")
    keys |= {"benchmark", *(f"benchmark.{k}" for k in benchmark)}
    keys |= {f"benchmark.{k}" for k in (*KIND_KEYS.get(str(kind), ()), *PROBLEM_KEYS)}
    return keys


def method_setting_names(name: str) -> list[str]:
    """The settings the method's factory accepts ([] for an unknown method, or ``custom``, whose
    factory is named by ``method.target``)."""
    try:
        return list(method_settings(name))
    except (UnknownMethodError, MethodError):
        return []


def check_keys(container: Mapping[str, Any], method_choice: str, benchmark_choice: str) -> None:
    """Refuse a key no part of tunebench reads (``+budget.tme=5`` would be ignored), with the
    closest valid key."""
    kind = (container.get("benchmark") or {}).get("kind")
    valid = known_keys(method_choice, benchmark_choice, kind)
    for key in flatten(container):
        if key in valid or key.startswith(OPEN_KEYS):
            continue
        raise ConfigError(unknown_key_message(key, valid))


# method settings are checked (with their own message) by check_method_settings
OPEN_KEYS = ("method.settings.", "benchmark.objectives.", "benchmark.constraints.")


def unknown_key_message(key: str, valid: Iterable[str]) -> str:
    """'unknown key K; did you mean ...?' (difflib's closest match among the keys beside it,
    else among all keys), listing the valid keys beside it."""
    valid = sorted(valid)
    parent, _, tail = key.rpartition(".")
    siblings = sorted(v.rpartition(".")[2] for v in valid if v.rpartition(".")[0] == parent)
    close = [f"{parent}.{c}" if parent else c
             for c in difflib.get_close_matches(tail, siblings, n=2, cutoff=0.6)]
    if not close:
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.75)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = f" under {parent}" if parent else ""
    listing = f" (valid keys{where}: {', '.join(siblings)})" if siblings else ""
    return f"unknown key '{key}'{hint}{listing}"


def check_method_settings(name: str, settings: dict[str, Any], choice: str | None = None
                          ) -> dict[str, Any]:
    """Check the method's settings against its factory: known names, and values of the type
    its annotations (else its defaults) give; ints pass where a float is expected."""
    try:
        accepted = method_settings(name)
    except (UnknownMethodError, MethodError):
        return settings  # the registry names the valid methods, or checks custom's target
    unknown = sorted(set(settings) - set(accepted))
    if unknown and not takes_any_setting(name):
        valid = [f"method.settings.{k}" for k in accepted]
        close = difflib.get_close_matches(f"method.settings.{unknown[0]}", valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"method '{name}' has no setting(s) {unknown}{hint} "
            f"(its settings: {', '.join(accepted) or 'none'})"
        )
    hints = _setting_types(name)
    out = {}
    for key, value in settings.items():
        expected = hints.get(key)
        if expected is None and accepted[key] is not None:
            expected = type(accepted[key])
        out[key] = _check_type(f"method.settings.{key}", value, expected)
    return out


def check_benchmark_values(benchmark: Mapping[str, Any], choice: str) -> None:
    """A benchmark key holds a value of the type its YAML default (or its kind's option) has:
    ``benchmark.noise=maybe`` is not a bool, ``benchmark.n_train=1e3`` not an integer."""
    defaults = group_defaults("benchmark", choice)
    for key, value in benchmark.items():
        expected = OPTION_TYPES.get(key)
        default = defaults.get(key)
        if expected is None and isinstance(default, bool | int | float | str):
            expected = type(default)
        if expected is not None and value is not None:
            _check_type(f"benchmark.{key}", value, expected)


# Options whose type is fixed whatever a benchmark's YAML says.
OPTION_TYPES = {"noise": bool, "download": bool, "cost_metrics": bool, "epoch_time": float,
                "budget_time": float}
# Options each benchmark kind reads (besides objectives, constraints and budget_time).
KIND_KEYS = {
    "tabular": ("name", "kind", "table", "timing", "cost_table", "surrogate"),
    "surrogate": ("name", "kind", "model", "table", "noise"),
    "synthetic": ("name", "kind", "function", "epoch_time"),
    "real": ("kind", *REAL_SPEC_KEYS),
}


def _setting_types(name: str) -> dict[str, Any]:
    try:
        factory = registry.factory(name)
        hints = typing.get_type_hints(factory)
    except Exception:  # annotations are a help, never a requirement
        return {}
    return {k: v for k, v in hints.items() if k not in ("problem", "seed", "return")}


def _check_type(key: str, value: Any, expected: Any) -> Any:
    """``value`` if it fits ``expected`` (a type, ``X | None``, a Literal), else ConfigError;
    an int where a float is expected becomes a float."""
    if expected is None or expected is Any:
        return value
    options = typing.get_args(expected) if typing.get_origin(expected) in (
        typing.Union, types.UnionType) else (expected,)
    if value is None:
        if type(None) in options:
            return value
        raise ConfigError(f"{key} must not be null")
    literal = [o for o in options if typing.get_origin(o) is typing.Literal]
    if literal and any(value in typing.get_args(o) for o in literal):
        return value
    for option in options:
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if isinstance(value, int) else value
        if option is str and isinstance(value, str):
            return value
        if option in (list, tuple) and isinstance(value, list):
            return value
        if option is dict and isinstance(value, dict):
            return value
        if typing.get_origin(option) in (list, tuple) and isinstance(value, list):
            return value
    names = [_type_name(o) for o in options if o is not type(None)]
    if not names:
        return value
    return _raise_type(key, value, names)


def _raise_type(key: str, value: Any, names: list[str]) -> Any:
    article = "an" if names[0][0] in "aeiou" else "a"
    wanted = " or ".join(names)
    if names == ["true or false"]:
        raise ConfigError(f"{key} must be true or false (got {value!r})")
    raise ConfigError(f"{key} must be {article} {wanted} (got {value!r})")


def _type_name(option: Any) -> str:
    return {bool: "true or false", int: "integer", float: "number", str: "string",
            list: "list", dict: "mapping"}.get(option, str(option))


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
