"""Timing tables: epoch times of a table's configurations measured apart, on a quiet machine.

A table's own epoch times are only as good as the machine was quiet while it was collected: the
shipped resnet8 table was collected by two processes on two busy cores, so its epoch times mostly
record the load of the moment (their seed-vs-seed R^2 is negative). A *timing table* is a second
table of the same design, collected by the same command with only a few epochs per curve while
nothing else runs (``python -m surrogates.collect run ... --epochs 2``; same ``--configs`` and
``--design-seed``, so the same configurations with the same ``config_id``). Given one,
``python -m surrogates.fit TABLE --timing TIMING`` takes the epoch-time target from it:

- label: each configuration's mean log epoch time over the timing table's curves (all seeds,
  all epochs), the same for every epoch of its curve (an epoch costs the same work at any epoch);
- bounds of the time target: the timing table's observed epoch times;
- noise of the time output: from the timing table's repeated configurations, on the log scale:
  sigma is the pooled seed-to-seed standard deviation (constant over epochs); the share ``rho``
  of it that persists along a curve is the correlation of residuals between epochs (clipped to
  [0, 1]), the rest is independent per epoch (``phi`` 0).

Validation then scores predicted epoch times against the timing table.

A timing table may time only part of the table (it was collected on fewer configurations of the
same design, e.g. before the table grew, because clean epoch times need a quiet machine that a
long collection does not always get). The epoch-time output is then fitted on the timed
configurations only: the others give it no gradient (:func:`surrogates.fit.masked_squared_error`),
so no epoch time is ever made up for them; validation scores it on the timed held-out
configurations. The same holds for a cost-metrics table.

*Per-configuration metrics* (a table's ``config_metrics``: ``peak_memory_mb``, ``latency_ms``,
measured once per curve, see :mod:`benchmarks.real.measure`) are modelled the same way: label the
configuration's mean log value over its curves, bounds the observed values, noise from the
repeated configurations on the log scale (constant along a curve, as the values are). Each comes
from the first of these that records it: a *cost-metrics table* (``--cost-table TABLE``: a
collection of the same design made with ``--cost-metrics``, used only for these metrics), the
timing table, the table itself; without any, they are not outputs of the surrogate. A separate
cost-metrics table exists because the two kinds of measurement need different things of the
machine: memory and latency are repeatable on a busy host (seed-vs-seed R^2 of the per-configuration
means 1.000 and 0.69 in the shipped cost-metrics table), an epoch time is not (0.22 in that same
collection, 0.97 in the shipped timing table, collected on a quieter day of the same VM), so
clean epoch times need not be thrown away to add the cost metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hpo_methods.space import SearchSpace
from surrogates.model import TIME_TARGET, SurrogateError, Target
from surrogates.noise import CurveNoise, residual_curves
from surrogates.table import Table


def check_timing(table: Table, timing: Table) -> None:
    """Refuse a timing table that times none of ``table``'s configurations, or other ones."""
    check_same_design(table, timing, "timing table", "timed")
    if TIME_TARGET not in timing.frame.columns:
        raise SurrogateError(f"timing table {timing.path}: no '{TIME_TARGET}' column")
    times = timing.frame[TIME_TARGET].to_numpy(dtype=float)
    if not (np.isfinite(times) & (times > 0)).all():
        raise SurrogateError(f"timing table {timing.path}: epoch times must be finite and > 0")


def check_cost_table(table: Table, costs: Table) -> None:
    """Refuse a cost-metrics table that is not of ``table``'s design or records no cost metric."""
    check_same_design(table, costs, "cost-metrics table", "measured")
    if not costs.config_metrics:
        raise SurrogateError(
            f"cost-metrics table {costs.path}: it records no per-configuration metric (collect "
            f"it with 'python -m surrogates.collect run ... --cost-metrics')"
        )


def check_same_design(table: Table, other: Table, what: str, verb: str) -> None:
    """Refuse ``other`` unless it is of ``table``'s design (same search space; every configuration
    both hold has the same values) and holds at least one of ``table``'s configurations.

    It may hold only some of them (a timing table collected on fewer configurations than a table
    that grew): the surrogate then fits those outputs on the configurations it holds
    (:func:`surrogates.fit.masked_squared_error`), and :func:`missing` lists the others.
    """
    where = f"{what} {other.path}"
    if SearchSpace.from_spec(other.meta["search_space"]).spec() != table.space(False).spec():
        raise SurrogateError(f"{where}: its search space is not the one of {table.path}")
    shared = table.configs.index.intersection(other.configs.index)
    if not len(shared):
        raise SurrogateError(
            f"{where}: none of the {len(table.configs)} configurations of {table.path} is {verb}"
        )
    mine = other.configs.loc[shared]
    for name in table.hyperparameters:
        a, b = table.configs.loc[shared, name], mine[name]
        same = (
            np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=0.0)
            if pd.api.types.is_numeric_dtype(a)
            else (a.to_numpy() == b.to_numpy())
        )
        if not same.all():
            cid = a.index[np.flatnonzero(~same)[0]]
            raise SurrogateError(
                f"{where}: config_id {cid} has {name}={b[cid]!r}, but {table.path} has "
                f"{name}={a[cid]!r} (not the same design)"
            )


def missing(table: Table, other: Table) -> pd.Index:
    """The config_ids of ``table`` that ``other`` (a timing or cost-metrics table) does not hold."""
    return table.configs.index.difference(other.configs.index)


def measured_ids(config_ids: np.ndarray, source: Table | None) -> np.ndarray:
    """The sorted ``config_ids`` that ``source`` (a timing or cost-metrics table; None: the table
    itself) measured."""
    if source is None:
        return config_ids
    return np.intersect1d(config_ids, source.configs.index.to_numpy())


def rows_of(timing: Table, config_ids: np.ndarray) -> pd.DataFrame:
    """The timing rows of ``config_ids`` (the training configurations of a fit)."""
    return timing.frame[timing.frame["config_id"].isin(config_ids)]


def config_metric_sources(table: Table, timing: Table | None,
                          costs: Table | None = None) -> dict[str, Table]:
    """Each per-configuration metric a surrogate of ``table`` predicts, and the table its values
    come from: the first of ``costs``, ``timing``, ``table`` that records it (module docstring)."""
    sources: dict[str, Table] = {}
    for source in (costs, timing, table):
        if source is None:
            continue
        for name in source.config_metrics:
            if name not in (table.metric, TIME_TARGET):
                sources.setdefault(name, source)
    return sources


def log_target(rows: pd.DataFrame, column: str = TIME_TARGET) -> Target:
    """A log-scale target (epoch time, a per-configuration metric) fitted to ``rows``."""
    return Target.fitted(column, rows[column].to_numpy(dtype=float), "log")


def mean_log(rows: pd.DataFrame, column: str = TIME_TARGET) -> pd.Series:
    """Each configuration's mean log value of ``column`` (index config_id): the training label."""
    return np.log(rows[column].astype(float)).groupby(rows["config_id"]).mean()


def log_noise(rows: pd.DataFrame, timing_epochs: int, max_epochs: int,
              column: str = TIME_TARGET) -> CurveNoise:
    """Noise of log ``column`` from the repeated configurations (see the module docstring)."""
    scaled = rows[["config_id", "seed", "epoch"]].copy()
    scaled["z"] = np.log(rows[column].astype(float))
    residuals, dof = residual_curves(scaled, "z", timing_epochs)
    if dof <= 0:
        return CurveNoise([0.0] * max_epochs)
    sigma = float(np.sqrt((residuals**2).sum() / (dof * timing_epochs)))
    rho = 1.0
    if timing_epochs >= 2 and sigma > 0:
        pairs = [(residuals[:, i], residuals[:, i + 1]) for i in range(timing_epochs - 1)]
        lag1 = np.mean([np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)) for a, b in pairs])
        rho = float(np.clip(lag1, 0.0, 1.0))
    return CurveNoise([sigma] * max_epochs, rho, 0.0)


def describe(timing: Table, rows: pd.DataFrame, column: str = TIME_TARGET) -> dict[str, Any]:
    """What a surrogate's manifest records about the table a log-scale target came from."""
    return {
        "name": timing.name,
        "path": str(timing.path),
        "sha256": timing.checksum,
        "configs": int(rows["config_id"].nunique()),  # of the fit's configurations
        "curves": int(rows.groupby(["config_id", "seed"]).ngroups),
        "epochs": timing.max_epochs,
        "label": "mean log epoch time of each configuration over the timing table's curves"
        if column == TIME_TARGET else f"mean log {column} of each configuration over its curves",
    }
