"""The surrogate objective: learning curves predicted by a fitted XGBoost surrogate of a table.

Its search space is continuous (the table's domains, not its recorded configurations). A trial's
whole curve (every metric and every epoch time) is predicted at ``start_trial`` in one query
(:meth:`surrogates.model.SurrogateModel.curve`: one walk of the trees, ~20 microseconds);
``next_epoch`` replays it. With ``noise=True`` the curve carries seed noise that is consistent
along the curve, drawn from the trial's seed (which the backend derives from the run seed and the
trial id); ``noise=False`` gives the deterministic mean curve. Epoch times are positive, so
cumulative time strictly increases. The metrics are the surrogate's outputs: the table's metrics
and, where its table or timing table recorded them, the per-configuration ``peak_memory_mb`` and
``latency_ms`` (one value per trial, reported at every epoch; see :mod:`surrogates.timing`).
Every epoch also carries the mean curve's values as its noise-free metrics
(``EpochResult.true_metrics``; equal to the reported ones without noise).

Benchmark config keys (kind ``surrogate``): ``model`` (a surrogate folder), ``table`` (its table:
checked against the model's checksum and schema; without ``model`` the table is fitted on first
use and cached, see :func:`surrogates.fit.cached_surrogate`), ``noise`` (default true). Relative
paths that do not exist from the working directory are looked up from the package root.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.objective import CurveRun, Objective, TrialRun, resolve_path
from hpo_methods.space import Config
from surrogates.model import SurrogateModel
from surrogates.table import Table, load_table


class SurrogateObjective(Objective):
    """Predicted learning curves of a fitted surrogate (see the module docstring)."""

    def __init__(
        self,
        model: SurrogateModel | str | Path,
        table: Table | str | Path | None = None,
        noise: bool = True,
        name: str | None = None,
    ) -> None:
        if table is not None and not isinstance(table, Table):
            table = load_table(table)
        if not isinstance(model, SurrogateModel):
            model = SurrogateModel.load(model, table)
        elif table is not None:
            model.check_table(table)
        self.model = model
        self.noise = bool(noise)
        self.name = name or f"{model.manifest['table']['name']}_surrogate"
        self.space = model.space
        self.max_epochs = model.max_epochs
        self.metric = model.metric
        self.metric_names = model.metric_names

    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        self.space.validate(config)
        rng = np.random.default_rng(seed) if self.noise else None
        metrics, times, mean = self.model.curve_and_mean(config, rng)
        return CurveRun(self.metric_names, metrics, times, true_metrics=mean)

    def best_known_value(self) -> float:
        """The lowest observed value in the table: no mean curve goes below it (a noisy report
        may: the table's lowest value is itself one lucky draw)."""
        return self.model.best_observed

    def worst_known_value(self) -> float:
        """The highest observed value in the table: no mean curve goes above it."""
        return self.model.worst_observed

    def metric_range(self, metric: str) -> tuple[float, float] | None:
        """The table's observed range of ``metric``: mean predictions are clipped into it."""
        for target in self.model.targets:
            if target.name == metric:
                return float(target.lo), float(target.hi)
        return None

    def describe(self) -> dict:
        manifest = self.model.manifest
        return {
            **super().describe(),
            "kind": "surrogate",
            "model": str(self.model.folder) if self.model.folder else None,
            "model_sha256": manifest.get("model_sha256"),
            "noise_sha256": hashlib.sha256(
                json.dumps(manifest.get("noise"), sort_keys=True).encode()
            ).hexdigest(),
            "table": manifest["table"]["name"],
            "table_sha256": manifest["table"]["sha256"],
            "noise": self.noise,
        }


def from_spec(spec: dict[str, Any]) -> SurrogateObjective:
    """Build from a benchmark config (``model``, ``table``, ``noise``, ``name``)."""
    from surrogates.model import SurrogateError

    model_path, table_path = spec.get("model"), spec.get("table")
    table = load_table(resolve_path(table_path)) if table_path else None
    if model_path:
        model: SurrogateModel | Path = resolve_path(model_path)
    elif table is not None:
        from surrogates.fit import cached_surrogate

        model = cached_surrogate(table)
    else:
        raise SurrogateError(
            f"benchmark '{spec.get('name')}' (kind surrogate) needs benchmark.model "
            f"(a surrogate folder) or benchmark.table (fitted on first use)"
        )
    return SurrogateObjective(model, table, noise=spec.get("noise", True), name=spec.get("name"))
