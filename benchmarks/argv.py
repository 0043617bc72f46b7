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

import re
from pathlib import Path

RANGE = re.compile(r"^(?P<key>[^=\s]+)=(?P<low>-?\d+)\.\.(?P<high>-?\d+)$")
SWEEP_FUNCTIONS = ("range(", "choice(", "glob(")
MULTIRUN_FLAGS = ("-m", "--multirun")
PROBLEM_KEY = re.compile(r"^benchmark\.(objectives|constraints)=")
CONSTRAINT_KEY = re.compile(r"^[+~]*benchmark\.constraints=")
UNQUOTED_CONSTRAINT = re.compile(r"(?<![\w.'\"])([A-Za-z_][\w.]*\s*[<>]=\s*[^,\]\s'\"]+)")


class ArgumentError(ValueError):
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
    """Refuse an unknown ``method=`` or ``benchmark=`` name, listing the valid ones."""
    for arg in args:
        key, _, value = arg.partition("=")
        if key not in GROUPS or not value or value.startswith(SWEEP_FUNCTIONS):
            continue
        valid = group_choices(key)
        for name in value.split(","):
            if name not in valid:
                raise ArgumentError(f"unknown {key} '{name}'; valid {key}s: {', '.join(valid)}")


def check_results_dir(args: list[str], default: str = "results") -> None:
    """Refuse a ``results_dir`` that exists but is not a folder, before Hydra tries to use it."""
    values = [a.split("=", 1)[1] for a in args if a.startswith("results_dir=")]
    for value in values or [default]:
        if Path(value).exists() and not Path(value).is_dir():
            raise ArgumentError(f"results_dir '{value}' exists and is not a folder")


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
