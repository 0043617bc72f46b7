"""Incumbent trajectories: the best value found so far, against (simulated) wall-clock time.

Definitions used throughout :mod:`analysis`:

- **Incumbent** of a run at time ``t``: the report with the lowest finite metric value among its
  reports whose ``time`` (the end of the epoch) is ``<= t`` (the earliest of equal ones): the
  configuration, at that epoch, that the method would return. Before a run's first report it is
  undefined: **NaN** on a grid. Aggregations over seeds are NaN at a time where any run is still
  NaN, so an aggregated curve starts once every seed has reported; ranks treat NaN as worse than
  any value. After a run ends (budget spent, or the method had nothing left) it stays constant.
- **Score** of the incumbent (``--score``, :func:`choose_scores`): ``observed``, its reported
  value (the best value reported so far: the classic best-so-far curve), or ``true``, the
  noise-free value of the same report (column ``true_<metric>`` of reports.parquet: the
  surrogate's mean curve, the table's seed mean; see :mod:`benchmarks.objective`). The observed
  score is biased low on noisy benchmarks (the winner's curse: the minimum of many noisy reports
  is lucky, and a method that reports more often, or restarts more configurations, collects more
  luck); the true score judges the configuration a method would actually return, by what it is
  worth, without crediting luck and without oracle knowledge (the choice itself is still the
  method's, made on observed values). It need not decrease: a lucky new report can displace a
  truly better incumbent. The default is ``true`` wherever every run of a benchmark carries
  noise-free values, ``observed`` elsewhere (real training, older results).
- **Horizon** ``T`` of a benchmark: the largest ``budget.time`` of its runs' config.yaml, or the
  latest report time when no run has a time budget.
- **Normalised regret**: ``(v - best) / (worst - best)``. ``best`` is run.json's
  ``best_known_value`` (for a table: its lowest recorded value); ``worst`` is run.json's
  ``worst_known_value`` where the objective provides one, else the worst (highest) *first*
  report of any run of the benchmark in the analysed set: the value of an uninformed first guess
  at its worst. So regret 0 = the best known value, 1 = no better than that first guess. Regret is
  not clipped (it is below 0 if a run beats the best known value). Since the fallback ``worst``
  depends on the runs analysed, :mod:`analysis.regression` stores the references it used.
- **Area under the curve** (AUC): the time average over ``[0, T]`` of a run's normalised regret,
  counting regret 1 before its first report; computed exactly from the step function. In [0, 1]
  when no value beats the best known one; lower is better (good values found early).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.load import Results, ResultsError


@dataclass(frozen=True)
class Reference:
    """What normalises a benchmark: best and worst reference values and the time horizon."""

    best: float
    worst: float
    horizon: float

    def regret(self, values: np.ndarray | pd.DataFrame | float) -> np.ndarray | pd.DataFrame:
        """Normalised regret of ``values`` (see the module docstring)."""
        return (values - self.best) / (self.worst - self.best)

    def to_dict(self) -> dict[str, float]:
        return {"best": self.best, "worst": self.worst, "horizon": self.horizon}


SCORES = ("true", "observed")
TRUE_PREFIX = "true_"  # reports.parquet: true_<metric> holds the noise-free value of <metric>


def true_column(metric: str) -> str:
    """The reports.parquet column of ``metric``'s noise-free value."""
    return f"{TRUE_PREFIX}{metric}"


def run_steps(
    reports: pd.DataFrame, metric: str, score: str = "observed"
) -> tuple[np.ndarray, np.ndarray]:
    """One run's incumbent as a step function: report times (sorted) and the incumbent's score
    (``observed``: best-so-far values; ``true``: the noise-free value of the best-so-far report).

    Reports with a non-finite metric are ignored (a failed epoch improves nothing).
    """
    values = reports[metric].to_numpy(dtype=float)
    times = reports["time"].to_numpy(dtype=float)
    keep = np.isfinite(values)
    times, values = times[keep], values[keep]
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    if not len(values):
        return times, values
    best = np.minimum.accumulate(values)
    if score == "observed":
        return times, best
    if score != "true":
        raise ResultsError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    true = reports[true_column(metric)].to_numpy(dtype=float)[keep][order]
    improved = values < np.concatenate([[np.inf], best[:-1]])  # a new incumbent (strictly better)
    incumbent = np.maximum.accumulate(np.where(improved, np.arange(len(values)), 0))
    return times, true[incumbent]


def has_true_values(reports: pd.DataFrame, metric: str) -> bool:
    """Whether every report with a finite ``metric`` carries a finite noise-free value."""
    column = true_column(metric)
    if column not in reports.columns:
        return not len(reports)
    finite = np.isfinite(reports[metric].to_numpy(dtype=float))
    return bool(np.isfinite(reports[column].to_numpy(dtype=float)[finite]).all())


def choose_scores(results: Results, score: str | None = None) -> Results:
    """Set how each benchmark's incumbents are scored (``results.scores``); returns ``results``.

    ``score`` None (the default): ``true`` for every benchmark whose runs all carry noise-free
    values, ``observed`` for the others. ``"true"`` refuses (:class:`ResultsError`) a benchmark
    whose runs lack them; ``"observed"`` scores every benchmark by reported values.
    """
    if score is not None and score not in SCORES:
        raise ResultsError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    scores = {}
    for benchmark, runs in results.runs.groupby("benchmark"):
        metric = runs["metric"].iloc[0]
        reports = results.reports[results.reports["benchmark"] == benchmark]
        lacking = [
            f"{method}/seed={seed}"
            for (method, seed), part in reports.groupby(["method", "seed"])
            if not has_true_values(part, metric)
        ]
        if score == "true" and lacking:
            raise ResultsError(
                f"benchmark '{benchmark}': {len(lacking)} run(s) carry no noise-free values "
                f"({true_column(metric)}), e.g. {lacking[0]}; use --score observed"
            )
        scores[str(benchmark)] = score or ("observed" if lacking else "true")
    results.scores = scores
    return results


def value_at(times: np.ndarray, incumbent: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step function (``times``, ``incumbent``) at ``grid``: forward-filled, NaN before."""
    idx = np.searchsorted(times, grid, side="right") - 1
    out = np.full(len(grid), np.nan)
    ok = idx >= 0
    out[ok] = incumbent[idx[ok]]
    return out


def references(results: Results) -> dict[str, Reference]:
    """The :class:`Reference` of every benchmark in ``results``."""
    refs = {}
    for benchmark, runs in results.runs.groupby("benchmark"):
        reports = results.reports[results.reports["benchmark"] == benchmark]
        metric = runs["metric"].iloc[0]
        best = _agreed(runs["best_known_value"])
        if math.isnan(best):  # no known best: the best any analysed run found
            best = float(np.nanmin(reports[metric].to_numpy(dtype=float)))
        worst = _agreed(runs["worst_known_value"])
        if math.isnan(worst):
            worst = _worst_first_report(reports, metric)
        if not worst > best:
            raise ResultsError(
                f"benchmark '{benchmark}': the worst reference {worst:.6g} is not above the best "
                f"known value {best:.6g}, so regret cannot be normalised"
            )
        budgets = runs["budget_time"].to_numpy(dtype=float)
        horizon = (
            float(np.nanmax(budgets))
            if np.isfinite(budgets).any()
            else float(reports["time"].max())
        )
        refs[str(benchmark)] = Reference(best, worst, horizon)
    return refs


def _agreed(column: pd.Series) -> float:
    values = column.dropna().unique()
    return float(min(values)) if len(values) else math.nan


def _worst_first_report(reports: pd.DataFrame, metric: str) -> float:
    finite = reports[np.isfinite(reports[metric].to_numpy(dtype=float))]
    if finite.empty:
        return math.nan
    first = finite.sort_values("time", kind="stable").groupby(["method", "seed"]).first()
    return float(first[metric].max())


def time_grid(first_time: float, horizon: float, n: int = 200, log: bool = True) -> np.ndarray:
    """``n`` times up to ``horizon``: log-spaced from ``first_time`` (> 0), or linear from 0."""
    if not horizon > 0:
        raise ResultsError(f"the time horizon must be positive (got {horizon})")
    if not log:
        return np.linspace(0.0, horizon, n)
    start = first_time if 0 < first_time < horizon else horizon * 1e-4
    return np.geomspace(start, horizon, n)


def benchmark_grid(
    results: Results, benchmark: str, ref: Reference, n: int = 200, log: bool = True
) -> np.ndarray:
    """A common time grid for ``benchmark``; a log grid starts at its earliest report."""
    times = results.reports.loc[results.reports["benchmark"] == benchmark, "time"]
    positive = times[times > 0]
    first = float(positive.min()) if len(positive) else 0.0
    return time_grid(first, ref.horizon, n, log)


def incumbent_grid(results: Results, benchmark: str, grid: np.ndarray) -> pd.DataFrame:
    """Incumbents of every run of ``benchmark`` on ``grid``: rows (method, seed), columns grid."""
    runs = results.runs[results.runs["benchmark"] == benchmark]
    if runs.empty:
        raise ResultsError(f"no runs of benchmark '{benchmark}'")
    metric = runs["metric"].iloc[0]
    reports = results.reports[results.reports["benchmark"] == benchmark]
    groups = dict(iter(reports.groupby(["method", "seed"])))
    rows, index = [], []
    for method, seed in zip(runs["method"], runs["seed"], strict=True):
        run_reports = groups.get((method, seed))
        if run_reports is None:
            rows.append(np.full(len(grid), np.nan))
        else:
            rows.append(value_at(*run_steps(run_reports, metric, results.score(benchmark)),
                                 grid))
        index.append((method, seed))
    return pd.DataFrame(
        np.vstack(rows),
        index=pd.MultiIndex.from_tuples(index, names=["method", "seed"]),
        columns=pd.Index(grid, name="time"),
    )


def area_under_regret(times: np.ndarray, incumbent: np.ndarray, ref: Reference) -> float:
    """Exact time average over [0, horizon] of normalised regret (1 before the first report)."""
    horizon = ref.horizon
    keep = times <= horizon
    times, regret = times[keep], np.asarray(ref.regret(incumbent[keep]), dtype=float)
    if len(times) == 0:
        return 1.0
    edges = np.append(times, horizon)
    area = times[0] * 1.0 + float(np.sum(regret * np.diff(edges)))
    return area / horizon


def run_metrics(results: Results, refs: dict[str, Reference] | None = None) -> pd.DataFrame:
    """Per run: final incumbent (at the horizon), its normalised regret, and the regret AUC."""
    refs = refs if refs is not None else references(results)
    groups = dict(iter(results.reports.groupby(["benchmark", "method", "seed"])))
    rows = []
    for run in results.runs.itertuples(index=False):
        if run.benchmark not in refs:
            raise ResultsError(f"no reference values for benchmark '{run.benchmark}'")
        ref = refs[run.benchmark]
        reports = groups.get((run.benchmark, run.method, run.seed))
        if reports is None:
            times, inc = np.empty(0), np.empty(0)
        else:
            times, inc = run_steps(reports, run.metric, results.score(run.benchmark))
        final = value_at(times, inc, np.array([ref.horizon]))[0]
        rows.append(
            {
                "benchmark": run.benchmark,
                "method": run.method,
                "seed": run.seed,
                "final": float(final),
                "regret": float(ref.regret(final)),
                "auc": area_under_regret(times, inc, ref),
            }
        )
    return pd.DataFrame(rows)
