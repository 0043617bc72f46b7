"""Command-line sugar on top of Hydra: ``key=A..B`` ranges and sweeps without ``-m``.

``seed=0..9`` becomes Hydra's ``seed=range(0,10)`` (inclusive on both ends), and any override
that sweeps (a comma list such as ``method=asha,random``, or ``range(...)``, ``choice(...)``,
``glob(...)``) switches Hydra to ``--multirun`` so that one command launches every combination.
``benchmark.objectives=...`` and ``benchmark.constraints=...`` work whether or not the chosen
benchmark's YAML has those keys (they become Hydra's ``++`` add-or-override), and a constraint
written ``metric<=bound`` (or ``>=``) is quoted for Hydra, whose override grammar does not accept
``<`` or ``>`` unquoted (the shell still needs the whole argument in quotes; ``metric:le:bound``
needs no quotes anywhere).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from benchmarks.errors import UserError
from hpo_methods.registry import CUSTOM, plugin_names

RANGE = re.compile(r"^(?P<key>[^=\s]+)=(?P<low>-?\d+)\.\.(?P<high>-?\d+)$")
SWEEP_FUNCTIONS = ("range(", "choice(", "glob(")
MULTIRUN_FLAGS = ("-m", "--multirun")
PROBLEM_KEY = re.compile(r"^benchmark\.(objectives|constraints)=")
CONSTRAINT_KEY = re.compile(r"^[+~]*benchmark\.constraints=")
UNQUOTED_CONSTRAINT = re.compile(r"(?<![\w.'\"])([A-Za-z_][\w.]*\s*[<>]=\s*[^,\]\s'\"]+)")


class ArgumentError(UserError):
    """A command-line override that cannot work; the message says which and why."""


def expand_ranges(arg: str) -> str:
    """``k=A..B`` -> ``k=range(A,B+1)``; other arguments unchanged."""
    match = RANGE.match(arg)
    if match is None:
        if re.match(r"^[^=\s]+=.*\.\.", arg) and not arg.split("=", 1)[1].startswith(("/", ".")):
            raise ArgumentError(f"'{arg}': a range is written key=A..B with integers A <= B")
        return arg
    key, low, high = match["key"], int(match["low"]), int(match["high"])
    if low > high:
        raise ArgumentError(f"'{arg}': empty range ({low} > {high}); write {key}={high}..{low}")
    return f"{key}=range({low},{high + 1})"


def is_sweep(arg: str) -> bool:
    """Whether an override asks for several values."""
    if arg.startswith("-") or "=" not in arg:
        return False
    key, value = arg.split("=", 1)
    if key.lstrip("+~").startswith("hydra."):
        return False
    if value.startswith(SWEEP_FUNCTIONS):
        return True
    depth = 0
    for ch in value:
        if ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("method", "benchmark")


def group_choices(group: str) -> list[str]:
    """The names a config group offers: the YAML files in ``conf/<group>/``."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_group_choices(args: list[str]) -> None:
    """Refuse an unknown ``method=`` or ``benchmark=`` name, listing the valid ones (for
    ``method``, the methods installed packages register as plugins count too)."""
    for arg in args:
        key, _, value = arg.partition("=")
        if key not in GROUPS or not value or value.startswith(SWEEP_FUNCTIONS):
            continue
        valid = group_choices(key)
        if key == "method":
            valid = sorted({*valid, *plugin_names()})
        for name in value.split(","):
            if name not in valid:
                raise ArgumentError(f"unknown {key} '{name}'; valid {key}s: {', '.join(valid)}")


def check_results_dir(args: list[str], default: str = "results") -> None:
    """Refuse a ``results_dir`` that is empty, is (or lies under) a file, or cannot be created,
    before Hydra tries to use it."""
    values = [a.split("=", 1)[1] for a in args if a.startswith("results_dir=")]
    for value in values or [default]:
        if "${" in value:
            continue  # an interpolation: checked once resolved
        for one in _sweep_values(value):
            _check_folder(one)


def _sweep_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(",")] if is_sweep(f"results_dir={value}") else [value]


def _check_folder(value: str) -> None:
    if not value.strip() or value.strip() in ("null", "None", "~"):
        raise ArgumentError(f"results_dir must name a folder (got '{value}')")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ArgumentError(f"results_dir '{value}' exists and is not a folder")
    blocking = next((p for p in path.absolute().parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ArgumentError(f"results_dir '{value}': '{blocking}' is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)  # what Hydra does next, with a clear error
    except OSError as err:
        raise ArgumentError(f"results_dir '{value}' cannot be created: "
                            f"{err.strerror or err}") from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise ArgumentError(f"results_dir '{value}' is not writable")


def check_override_keys(args: list[str]) -> None:
    """Refuse an override of a key the config does not have (Hydra would advise ``+key``,
    which tunebench would then refuse too), with the closest valid key."""
    from benchmarks.settings import known_keys, unknown_key_message

    methods = _choices(args, "method") or [_default_choice("method")]
    benchmarks = _choices(args, "benchmark") or [_default_choice("benchmark")]
    for arg in args:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        key = arg.split("=", 1)[0]
        if key in GROUPS or key.startswith(("hydra.", "hydra/")) or "/" in key or "@" in key:
            continue
        open_settings = {CUSTOM, *plugin_names()}  # settings checked by the registry
        for method in methods:
            if method in open_settings and key.startswith("method.settings."):
                continue
            for benchmark in benchmarks:
                valid = known_keys(method, benchmark)
                added = PROBLEM_KEY.match(arg) is not None  # rewrite() adds its ++
                if key in valid and not added and key not in _in_yaml(method, benchmark):
                    group = (f"benchmark '{benchmark}'" if key.startswith("benchmark.")
                             else f"method '{method}'")  # fmt: skip
                    raise ArgumentError(f"{group} does not set '{key}' in its config (it is a "
                                        f"valid key): add it with +{arg}")
                if key in valid:
                    continue
                prefix = (f"benchmark '{benchmark}': " if key.startswith("benchmark.")
                          else f"method '{method}': " if key.startswith("method.") else "")
                raise ArgumentError(prefix + unknown_key_message(key, valid))


def _in_yaml(method: str, benchmark: str) -> set[str]:
    """The keys Hydra lets a plain ``key=value`` override (the composed config's own)."""
    from benchmarks.identity import flatten, group_defaults, top_defaults

    keys = set(flatten(top_defaults()))
    keys |= {f"method.{k}" for k in flatten(group_defaults("method", method))}
    keys |= {f"benchmark.{k}" for k in group_defaults("benchmark", benchmark)}
    return keys | {k.rsplit(".", 1)[0] for k in keys} | {"method.label", "method.settings"}


def _choices(args: list[str], group: str) -> list[str]:
    out: list[str] = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key == group and value and not value.startswith(SWEEP_FUNCTIONS):
            out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def _default_choice(group: str) -> str:
    import yaml

    defaults = yaml.safe_load((CONF_DIR / "config.yaml").read_text())["defaults"]
    for item in defaults:
        if isinstance(item, dict) and group in item:
            return str(item[group])
    raise ArgumentError(f"conf/config.yaml has no default {group}")


def check_arguments(args: list[str]) -> None:
    """Every check of the command line that can be made before Hydra composes the config."""
    check_group_choices(args)
    check_override_keys(args)
    if not any(a.startswith("-") and a not in MULTIRUN_FLAGS for a in args):  # not --help etc.
        check_results_dir(args)


def problem_override(arg: str) -> str:
    """``benchmark.constraints=[m<=1]`` -> ``++benchmark.constraints=['m<=1']`` (a bare
    ``benchmark.constraints=m<=1`` becomes a one-element list; ``benchmark.objectives=`` gets the
    ``++`` too); other arguments unchanged."""
    if PROBLEM_KEY.match(arg):
        arg = "++" + arg
    match = CONSTRAINT_KEY.match(arg)
    if match is None:
        return arg
    key, value = arg[: match.end()], arg[match.end() :]
    quoted = UNQUOTED_CONSTRAINT.sub(r"'\1'", value)
    if quoted != value and not value.lstrip().startswith("["):
        quoted = f"[{quoted}]"
    return key + quoted


def rewrite(args: list[str]) -> list[str]:
    """Expand ranges, quote constraints, and add ``--multirun`` when an override sweeps."""
    out = [problem_override(expand_ranges(a)) for a in args]
    if any(is_sweep(a) for a in out) and not any(a in MULTIRUN_FLAGS for a in out):
        out.insert(0, "--multirun")
    return out
