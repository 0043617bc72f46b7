"""The tabular objective: exact replay of the learning curves a table recorded.

Its search space is finite: the configurations the table holds. Methods sample from it through
:class:`~hpo_methods.space.SearchSpace` candidates: random draws pick a recorded configuration
uniformly (random search without repeats until all are used), and model-based searchers score the
recorded configurations instead of optimising over the continuous space. A configuration outside
the table is refused with an error.

A configuration recorded with several seeds replays one of them, chosen by the trial's seed, so
repeated runs with different seeds see the seed-to-seed noise of the real objective. Its
noise-free value at an epoch (``EpochResult.true_metrics``) is the mean over the seeds the table
recorded for it: the recorded value itself for a configuration with one seed.

``timing`` (benchmark key ``timing``: a timing table of the same configurations, see
:mod:`surrogates.timing`) replaces the recorded epoch times: every epoch of a configuration then
takes its mean epoch time in the timing table, as the surrogate fitted with that table predicts.
The per-configuration metrics the timing table records (its ``config_metrics``:
``peak_memory_mb``, ``latency_ms``) become metrics of the benchmark the same way: every epoch
reports the configuration's mean over the timing table's curves. ``cost_table`` (benchmark key
``cost_table``: a cost-metrics table of the same configurations) does the same for the metrics it
records, in preference to the timing table's, as the surrogate fitted with it does.
Per-configuration metrics of the table itself are replayed as recorded.

A timing or cost-metrics table may hold only some of the table's configurations (clean epoch times
need a quiet machine; see :mod:`surrogates.timing`). The others then take the mean prediction of
``surrogate`` (benchmark key ``surrogate``: a surrogate folder fitted to this table with the same
timing and cost-metrics tables, whose epoch-time and cost outputs were fitted on the measured
configurations only): their learning curves are still replayed as recorded, only their epoch times
and cost metrics are modelled, and ``describe()`` says how many are. Without ``surrogate`` such a
benchmark is refused, so no replayed time is ever made up silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.objective import CurveRun, Objective, TrialRun, resolve_path
from hpo_methods.space import Config
from surrogates.table import Table, load_table


class TabularObjective(Objective):
    """Replays a table of recorded learning curves (see the module docstring)."""

    def __init__(
        self,
        table: Table | str | Path,
        name: str | None = None,
        timing: Table | str | Path | None = None,
        cost_table: Table | str | Path | None = None,
        surrogate: str | Path | None = None,
    ) -> None:
        from surrogates.timing import check_cost_table, check_timing, config_metric_sources

        self.table = table if isinstance(table, Table) else load_table(resolve_path(table))
        self.timing = self._measured_table(timing, check_timing)
        self.costs = self._measured_table(cost_table, check_cost_table)
        self.name = name or self.table.name
        self.space = self.table.space(finite=True)
        self.max_epochs = self.table.max_epochs
        self.metric = self.table.metric
        sources = {  # per-configuration metric -> the table measured apart that gives it
            m: source for m, source in
            config_metric_sources(self.table, self.timing, self.costs).items()
            if source is not self.table
        }
        self.metric_names = (*self.table.metric_names,
                             *[m for m in sources if m not in self.table.metric_names])
        df = self.table.frame.sort_values(["config_id", "seed", "epoch"])
        apart = {**({"epoch_time": self.timing} if self.timing is not None else {}), **sources}
        self.surrogate_sha256, modelled = self._modelled_values(surrogate, apart)
        self.modelled_configs = len(modelled) // self.max_epochs  # one row per epoch
        cell = pd.MultiIndex.from_arrays([df["config_id"], df["epoch"]])

        def fill(measured: pd.Series, metric: str) -> pd.Series:
            """``measured`` (per row of ``df``), modelled where the configuration has none."""
            if metric not in modelled.columns:
                return measured
            return measured.fillna(
                pd.Series(modelled[metric].reindex(cell).to_numpy(), index=measured.index)
            )
        keys = {
            cid: self.space.key(c)
            for cid, c in zip(self.table.configs.index, self.table.config_dicts(), strict=True)
        }
        self._config_ids = {key: cid for cid, key in keys.items()}
        self._curves: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._means: dict[int, np.ndarray] = {}
        n = self.max_epochs
        if sources:
            columns = [
                fill(df["config_id"].map(sources[m].frame.groupby("config_id")[m].mean()), m)
                if m in sources else df[m]
                for m in self.metric_names
            ]
            metric_values = np.column_stack([c.to_numpy(dtype=float) for c in columns])
        else:
            metric_values = df[list(self.metric_names)].to_numpy(dtype=float)
        times = df["epoch_time"].to_numpy(dtype=float)
        if self.timing is not None:
            timed = self.timing.frame.groupby("config_id")["epoch_time"].mean()
            times = fill(df["config_id"].map(timed), "epoch_time").to_numpy(dtype=float)
        cids = df["config_id"].to_numpy()
        self._ranges = {
            name: (float(np.nanmin(column)), float(np.nanmax(column)))
            for name, column in zip(self.metric_names, metric_values.T, strict=True)
            if np.isfinite(column).any()
        }
        self._ranges["epoch_time"] = (float(np.nanmin(times)), float(np.nanmax(times)))
        for start in range(0, len(df), n):
            cid = int(cids[start])
            self._curves.setdefault(cid, []).append(
                (metric_values[start : start + n], times[start : start + n])
            )
        with np.errstate(invalid="ignore"):  # a metric that is NaN for every seed stays NaN
            for cid, curves in self._curves.items():
                stacked = np.stack([m for m, _ in curves])
                finite = np.isfinite(stacked).sum(axis=0)
                total = np.where(np.isfinite(stacked), stacked, 0.0).sum(axis=0)
                self._means[cid] = np.where(finite > 0, total / np.maximum(finite, 1), np.nan)

    def _measured_table(self, table: Table | str | Path | None,
                        check: Callable[[Table, Table], None]) -> Table | None:
        """A timing or cost-metrics table (loaded where a path is given), ``check``-ed against
        the table."""
        if table is None:
            return None
        table = table if isinstance(table, Table) else load_table(resolve_path(table))
        check(self.table, table)
        return table

    def _modelled_values(self, surrogate: str | Path | None,
                         apart: dict[str, Table]) -> tuple[str | None, pd.DataFrame]:
        """The surrogate's mean prediction of each metric in ``apart`` (metric -> the timing or
        cost-metrics table that measures it) for the configurations those tables do not hold:
        (its model sha256, a frame indexed by (config_id, epoch), one column per metric)."""
        from surrogates.model import SurrogateError, SurrogateModel
        from surrogates.timing import missing

        gaps = {name: missing(self.table, source) for name, source in apart.items()}
        ids = sorted({int(c) for gap in gaps.values() for c in gap})
        if surrogate is None:
            for name, source in apart.items():
                if n_missing := len(gaps[name]):
                    total = len(self.table.configs)
                    raise SurrogateError(
                        f"{source.path} measures {name} for {total - n_missing} of the {total} "
                        f"configurations of {self.table.path}; give the benchmark key "
                        f"'surrogate' (a surrogate of this table fitted with the same timing and "
                        f"cost-metrics tables) to model the others, or a table that measures "
                        f"them all"
                    )
            return None, pd.DataFrame()
        model = SurrogateModel.load(resolve_path(surrogate), self.table)
        fitted_with = {"epoch_time": (model.manifest.get("timing") or {}).get("sha256"),
                       **{m: d.get("sha256")
                          for m, d in model.manifest.get("config_metrics", {}).items()}}
        for name, source in apart.items():
            if fitted_with.get(name) != source.checksum:
                raise SurrogateError(
                    f"surrogate {surrogate}: its {name} was not fitted to {source.path} "
                    f"(sha256 {source.checksum[:12]}...); refit it with that table"
                )
        if not ids:
            return model.manifest["model_sha256"], pd.DataFrame()
        pred = model.mean_curves(self.table.configs.loc[ids])
        epochs = np.arange(1, self.max_epochs + 1)
        index = pd.MultiIndex.from_product([ids, epochs], names=["config_id", "epoch"])
        frame = pd.DataFrame(
            {m: pred[:, :, model.target_names.index(m)].ravel() for m in apart}, index=index
        )
        return model.manifest["model_sha256"], frame

    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        key = self.space.key(config)
        if key not in self._config_ids:
            raise KeyError(f"configuration {config} is not recorded in table '{self.table.name}'")
        cid = self._config_ids[key]
        curves = self._curves[cid]
        metrics, times = curves[int(np.random.default_rng(seed).integers(len(curves)))]
        return CurveRun(self.metric_names, metrics, times, true_metrics=self._means[cid])

    def best_known_value(self) -> float:
        return float(self.table.frame[self.metric].min())

    def worst_known_value(self) -> float:
        return float(self.table.frame[self.metric].max())

    def metric_range(self, metric: str) -> tuple[float, float] | None:
        """The range of ``metric`` over the replayed curves (epoch times from the timing table
        where one is given)."""
        return self._ranges.get(metric)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "kind": "tabular",
            "table": str(self.table.path),
            "table_sha256": self.table.checksum,
            "timing_sha256": self.timing.checksum if self.timing is not None else None,
            "cost_table_sha256": self.costs.checksum if self.costs is not None else None,
            "surrogate_sha256": self.surrogate_sha256,
            "modelled_configs": self.modelled_configs,
        }
