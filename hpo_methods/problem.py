"""What a method is asked to do: the search space, the fidelity, the objectives and constraints.

A :class:`Problem` is handed to every method when it is built. It names the objectives (each a
metric with a direction), the constraints (a metric and a bound) and the metric that measures an
epoch's cost. Every epoch report carries *all* metrics of the epoch as a mapping (the cost metric,
``epoch_time``, included); a problem turns such a mapping into what a method compares:

- :meth:`Problem.value`: the first objective, as a number to minimise (a maximised metric is
  negated; a missing or non-finite value is ``+inf``). Single-objective methods see only this.
- :meth:`Problem.values`: every objective, each to minimise (multi-objective methods).
- :meth:`Problem.feasible` / :meth:`Constraint.violation`: whether the constraints hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpo_methods.space import SearchSpace

MODES = ("min", "max")
SENSES = ("<=", ">=")
COST_METRIC = "epoch_time"
_CONSTRAINT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<sense><=|>=|:le:|:ge:)\s*(?P<bound>\S+)\s*$"
)
_WORD_SENSES = {":le:": "<=", ":ge:": ">="}


class ProblemError(ValueError):
    """An objective or constraint that cannot work; the message says which and why."""


@dataclass(frozen=True)
class Goal:
    """One objective: a metric and whether it is minimised or maximised."""

    metric: str
    mode: str = "min"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ProblemError(
                f"objective '{self.metric}': mode must be min or max (got {self.mode!r})"
            )

    def minimised(self, metrics: Mapping[str, float]) -> float:
        """The metric as a number to minimise; ``+inf`` where it is missing or not finite."""
        value = metrics.get(self.metric, math.nan)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            return math.inf
        return float(value) if self.mode == "min" else -float(value)

    def __str__(self) -> str:
        return f"{self.mode} {self.metric}"


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` (or ``>=``): a configuration is feasible where it holds."""

    metric: str
    bound: float
    sense: str = "<="

    def __post_init__(self) -> None:
        if self.sense not in SENSES:
            raise ProblemError(
                f"constraint on '{self.metric}': sense must be <= or >= (got {self.sense!r})"
            )
        if isinstance(self.bound, bool) or not isinstance(self.bound, int | float) or not (
            math.isfinite(self.bound)
        ):
            raise ProblemError(
                f"constraint on '{self.metric}': the bound must be a finite number "
                f"(got {self.bound!r})"
            )

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> Constraint:
        """``"peak_memory_mb<=120"`` or ``{metric: peak_memory_mb, bound: 120, sense: "<="}``.

        ``peak_memory_mb:le:120`` (``:ge:`` for ``>=``) is the same constraint written without
        ``<``/``>``, which a shell and Hydra's override grammar would otherwise need quoted.
        """
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"metric", "bound", "sense"})
            if unknown or "metric" not in spec or "bound" not in spec:
                raise ProblemError(
                    f"a constraint is 'metric<=bound' or {{metric, bound, sense}} "
                    f"(got {dict(spec)})"
                )
            return cls(str(spec["metric"]), spec["bound"], str(spec.get("sense", "<=")))
        match = _CONSTRAINT.match(str(spec))
        if match is None:
            raise ProblemError(
                f"constraint {spec!r}: write it as metric<=bound or metric>=bound "
                f"(or metric:le:bound, metric:ge:bound), e.g. peak_memory_mb<=120"
            )
        try:
            bound = float(match["bound"])
        except ValueError as err:
            raise ProblemError(f"constraint {spec!r}: the bound is not a number") from err
        return cls(match["metric"], bound, _WORD_SENSES.get(match["sense"], match["sense"]))

    def violation(self, metrics: Mapping[str, float]) -> float:
        """How far the constraint is broken: 0.0 where it holds, ``+inf`` where the metric is
        missing or not finite."""
        value = metrics.get(self.metric, math.nan)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            return math.inf
        excess = value - self.bound if self.sense == "<=" else self.bound - value
        return max(0.0, float(excess))

    def __str__(self) -> str:
        bound = f"{self.bound:g}"  # exact: run.json records it and analysis reads it back
        if float(bound) != self.bound:
            bound = repr(float(self.bound))
        return f"{self.metric}{self.sense}{bound}"


@dataclass(frozen=True)
class Problem:
    """A tuning problem as methods see it (module docstring).

    ``metrics`` lists every metric an epoch reports (``epoch_time`` included); objectives and
    constraints must name some of them.
    """

    space: SearchSpace
    max_epochs: int
    objectives: tuple[Goal, ...] = (Goal("val_error"),)
    constraints: tuple[Constraint, ...] = ()
    metrics: tuple[str, ...] = ("val_error", COST_METRIC)
    cost_metric: str = COST_METRIC

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise ProblemError(f"max_epochs must be >= 1 (got {self.max_epochs})")
        if not self.objectives:
            raise ProblemError("a problem needs at least one objective")
        names = [g.metric for g in self.objectives]
        if len(set(names)) != len(names):
            raise ProblemError(f"an objective is named twice: {names}")
        for kind, metric in [("objective", m) for m in names] + [
            ("constraint", c.metric) for c in self.constraints
        ] + [("cost metric", self.cost_metric)]:
            if metric not in self.metrics:
                raise ProblemError(
                    f"{kind} '{metric}' is not a metric of this benchmark; "
                    f"its metrics: {', '.join(self.metrics)}"
                )

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def metric(self) -> str:
        """The first objective's metric."""
        return self.objectives[0].metric

    def value(self, metrics: Mapping[str, float]) -> float:
        """The first objective, to minimise (``+inf`` where missing or not finite)."""
        return self.objectives[0].minimised(metrics)

    def values(self, metrics: Mapping[str, float]) -> tuple[float, ...]:
        """Every objective, each to minimise."""
        return tuple(goal.minimised(metrics) for goal in self.objectives)

    def violation(self, metrics: Mapping[str, float]) -> float:
        """The summed violation of every constraint (0.0: feasible)."""
        return sum(c.violation(metrics) for c in self.constraints)

    def feasible(self, metrics: Mapping[str, float]) -> bool:
        return self.violation(metrics) == 0.0

    def cost(self, metrics: Mapping[str, float]) -> float:
        """The epoch's observed cost (seconds); ``nan`` where it is missing."""
        return float(metrics.get(self.cost_metric, math.nan))

    def describe(self) -> dict[str, Any]:
        """What results files record about the problem."""
        return {
            "objectives": [{"metric": g.metric, "mode": g.mode} for g in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "cost_metric": self.cost_metric,
        }
