"""A run's identity: its results folder, its method label, and whether a stored run matches.

A run's folder is ``<results_dir>/<benchmark>/<method label>/seed=<k>``. The *method label* is
the method's name when every method setting is its default (``conf/method/<name>.yaml``, else
the factory's signature, as for a plugin), else the name followed by the non-default settings,
sorted by key, each as ``-key=value`` (``method=custom`` is named ``custom.<attribute>`` after
its ``method.target``):
``asha-variant=promotion``, ``hyperband-grace_period=3-reduction_factor=2``. A user may name a
variant with ``method.label=NAME``. Analysis groups and names methods by this label, so two
variants of one method are two lines in figures and two rows in tables.

Everything else that defines a run (budget, n_workers, backend, the benchmark's keys, ...) is
not in the folder name: before a stored run is skipped (or rerun), its ``config.yaml`` is
compared with the new configuration and a difference refuses the run
(:func:`config_differences`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from benchmarks.errors import UserError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
SAFE_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+,-]*$")
UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.=+,-]")
MAX_LABEL = 80
# Keys of a run's config that do not change what the run computes (the label is the folder's
# name, so two configs of one folder share it; runs written before labels existed lack it).
NOT_IDENTITY = ("overwrite", "results_dir", "method.label")
# method keys that are not settings
METHOD_META = ("name", "label", "settings")


@lru_cache(maxsize=64)
def _group_yaml(group: str, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """``conf/<group>/<name>.yaml`` composed as Hydra composes it: the configs of the same group
    its ``defaults`` list names, then its own values (at ``_self_``, else last)."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file() or name in seen:
        return {}
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        return {}
    entries = data.pop("defaults", None) or []
    if "_self_" not in entries:
        entries = [*entries, "_self_"]
    composed: dict[str, Any] = {}
    for entry in entries:
        if entry == "_self_":
            composed = _merged(composed, data)
        elif isinstance(entry, str):
            composed = _merged(composed, _group_yaml(group, entry, (*seen, name)))
    return composed


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: nested mappings merge, anything else is replaced."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def top_defaults() -> dict[str, Any]:
    """``conf/config.yaml`` without its ``defaults`` list and ``hydra`` node."""
    data = yaml.safe_load((CONF_DIR / "config.yaml").read_text())
    return {k: v for k, v in data.items() if k not in ("defaults", "hydra")}


def group_defaults(group: str, name: str) -> dict[str, Any]:
    """The values ``conf/<group>/<name>.yaml`` sets ({} when there is no such file)."""
    return json.loads(json.dumps(_group_yaml(group, name)))


def method_options(method: Mapping[str, Any]) -> dict[str, Any]:
    """A method config's options as flat keys: ``settings.k`` as ``k``, other keys (but
    ``name`` and ``label``) by their dotted path."""
    out = dict(_flatten(method.get("settings") or {}))
    for key, value in _flatten({k: v for k, v in method.items() if k not in METHOD_META}):
        out[key] = value
    return out


def method_label(method: Mapping[str, Any], choice: str | None = None) -> str:
    """The label of a method config (see the module docstring); ``choice`` is the name of the
    YAML file its defaults come from (default: ``method.name``)."""
    name = str(method.get("name"))
    user = method.get("label")
    if user is not None:
        return check_label(user)
    defaults = method_options(group_defaults("method", choice or name))
    target = method.get("target")
    if name == "custom" and target:  # named by the target's attribute: custom.StopEarly
        name = f"custom.{str(target).rpartition(':')[2]}"
        defaults = {**_factory_defaults(str(target), custom=True), **defaults, "target": target}
    else:
        defaults = {**_factory_defaults(choice or name), **defaults}
    changed = sorted(
        (key, value)
        for key, value in method_options(method).items()
        if key not in defaults
        or not (same_value(defaults[key], value) or is_interpolation(defaults[key]))
    )
    if not changed:
        return name
    suffix = "".join(f"-{key}={_text(value)}" for key, value in changed)
    label = name + suffix
    cleaned = UNSAFE_CHARS.sub("_", label)
    if cleaned != label or len(cleaned) > MAX_LABEL:
        digest = hashlib.sha256(json.dumps(changed, default=str).encode()).hexdigest()[:8]
        cleaned = f"{cleaned[: MAX_LABEL - 9]}-{digest}"
    return cleaned


def _factory_defaults(name: str, custom: bool = False) -> dict[str, Any]:
    """The defaults in a method factory's signature (a plugin or a ``custom`` target has no YAML
    file to hold them); ``name`` is the ``method.target`` when ``custom``."""
    import inspect

    from hpo_methods.registry import (
        MethodError,
        UnknownMethodError,
        factory_settings,
        load_target,
        method_settings,
    )

    try:
        settings = factory_settings(load_target(name)) if custom else method_settings(name)
    except (UnknownMethodError, MethodError, TypeError, ValueError):
        return {}
    return {k: v for k, v in settings.items() if v is not inspect.Parameter.empty}


def check_label(label: Any) -> str:
    """A user's ``method.label``: a non-empty name made of letters, digits and ``_.=+,-``."""
    if not isinstance(label, str) or not SAFE_LABEL.match(label) or len(label) > MAX_LABEL:
        raise UserError(
            f"method.label must be a folder name of letters, digits and _ . = + , - "
            f"(at most {MAX_LABEL} characters, not starting with . or -); got {label!r}"
        )
    return label


def run_folder(results_dir: str | Path, benchmark: str, label: str, seed: int) -> Path:
    """Where a run's results go."""
    return Path(results_dir) / benchmark / label / f"seed={seed}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def is_interpolation(value: Any) -> bool:
    """A YAML default such as ``${budget.time}``: the value follows another setting of the run
    (which the run's identity compares already), so it never names a variant."""
    return isinstance(value, str) and value.strip().startswith("${")


def same_value(a: Any, b: Any) -> bool:
    """Equal as settings: numbers by value (3 == 3.0), but a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or (isinstance(a, float) and isinstance(b, float)
                          and math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, Mapping) and data:
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out += _flatten(value, f"{prefix}{key}.")
        return out
    return [(prefix.rstrip("."), data)] if prefix else []


def flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings as ``{dotted.key: value}`` (an empty mapping is a value)."""
    return dict(_flatten(data))


def config_differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ between a stored run's config and a new one, each as
    ``key: old -> new`` (a key the stored config lacks counts only if its new value is set)."""
    def kept(key: str) -> bool:
        return not any(key == k or key.startswith(k + ".") for k in NOT_IDENTITY)

    old_flat = {k: v for k, v in flatten(stored).items() if kept(k)}
    new_flat = {k: v for k, v in flatten(new).items() if kept(k)}
    missing = object()
    diffs = []
    for key in sorted(set(old_flat) | set(new_flat)):
        old, now = old_flat.get(key, missing), new_flat.get(key, missing)
        if (old is missing and now is None) or (now is missing and old is None):
            continue
        if old is missing or now is missing or not same_value(old, now):
            shown_old = "(absent)" if old is missing else _text(old)
            shown_new = "(absent)" if now is missing else _text(now)
            diffs.append(f"{key}: {shown_old} -> {shown_new}")
    return diffs
