"""Objectives by kind: ``benchmark.kind`` in ``conf/benchmark/*.yaml`` picks the builder."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from benchmarks.objective import Objective


def _tabular(spec: dict[str, Any]) -> Objective:
    from benchmarks.tabular import TabularObjective

    return TabularObjective(spec["table"], name=spec.get("name"), timing=spec.get("timing"),
                            cost_table=spec.get("cost_table"), surrogate=spec.get("surrogate"))


def _synthetic(spec: dict[str, Any]) -> Objective:
    from benchmarks.synthetic import from_spec

    return from_spec(spec)


def _real(spec: dict[str, Any]) -> Objective:
    from benchmarks.real.objective import from_spec  # imports torch: only for kind real

    return from_spec(spec)


def _surrogate(spec: dict[str, Any]) -> Objective:
    from benchmarks.surrogate import from_spec

    return from_spec(spec)


BUILDERS: dict[str, Callable[[dict[str, Any]], Objective]] = {
    "tabular": _tabular,
    "surrogate": _surrogate,
    "synthetic": _synthetic,
    "real": _real,
}


def make_objective(spec: dict[str, Any]) -> Objective:
    """Build the objective a benchmark config describes (cached: a sweep builds it once)."""
    return _cached(json.dumps(spec, sort_keys=True))


@lru_cache(maxsize=8)
def _cached(spec_json: str) -> Objective:
    spec = json.loads(spec_json)
    kind = spec.get("kind")
    if kind not in BUILDERS:
        raise ValueError(
            f"benchmark '{spec.get('name')}' has unknown kind {kind!r}; "
            f"valid kinds: {', '.join(sorted(BUILDERS))}"
        )
    missing = [k for k, v in spec.items() if v is None and k in ("table", "model")]
    if missing:
        raise ValueError(f"benchmark '{spec.get('name')}' needs benchmark.{missing[0]}")
    return BUILDERS[kind](spec)
