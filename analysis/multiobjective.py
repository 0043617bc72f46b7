"""Multi-objective and constrained runs: hypervolume, attained fronts, feasible incumbents.

A run's problem is what its run.json records (``problem``: objectives with their directions,
constraints as ``metric<=bound``; ``metric_ranges``: each metric's range on the benchmark).
:func:`derive_scores` (applied by :func:`analysis.load.load_results`) turns the runs of a
multi-objective or constrained problem into a single score per report, so that every figure,
table and regression check of :mod:`analysis` works on them unchanged:

- **Feasibility.** A report is feasible when its own metrics satisfy every constraint (a metric
  that varies by epoch, such as ``epoch_time``, is judged per report). Infeasible reports never
  count as incumbents.
- **Constrained, one objective**: the score is ``feasible_<metric>``: the metric where the report
  is feasible, else the benchmark's worst known value (so the feasible incumbent is the worst
  reference, normalised regret 1, until the first feasible report; NaN where no worst value is
  known). Normalised regret is measured against the unconstrained best known value, a lower bound
  on the feasible optimum.
- **Several objectives**: each objective ``v`` is normalised by its benchmark range
  ``[lo, hi]`` (run.json's ``metric_ranges``: for a table or surrogate, the recorded range, so
  the same for every run of the benchmark) to ``(v - lo) / (hi - lo)`` (``(hi - v) / (hi - lo)``
  where maximised), and the **hypervolume** of the feasible reports so far is computed by
  moocore with the **reference point (1, ..., 1)**, the worst recorded value of every objective:
  the share of the normalised box ``[0, 1]^k`` that the attained front dominates (0: nothing
  reported yet; 1: the utopia point). The score is ``hv_regret = 1 - hypervolume`` with best known
  value 0 and worst 1, so normalised regret is ``1 - HV`` and the area under it is the time
  average of ``1 - HV``. Where run.json records no range for an objective (real training), the
  range over every analysed report of the benchmark is used instead, and the summary says so.

The derived runs keep their objective's own metric in ``raw_metric`` (learning curves plot it),
and record the problem and ranges in their ``objective`` so that a regression baseline refuses
to compare runs of different problems.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.load import ResultsError

if TYPE_CHECKING:
    from analysis.load import Results
    from analysis.style import MethodStyle

HV_SCORE = "hv_regret"
FEASIBLE_PREFIX = "feasible_"
_CONSTRAINT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<sense><=|>=|:le:|:ge:)\s*(?P<bound>\S+)\s*$"
)
_SENSES = {"<=": "<=", ">=": ">=", ":le:": "<=", ":ge:": ">="}


@dataclass(frozen=True)
class RunProblem:
    """The problem a run solved, as its run.json records it."""

    objectives: tuple[tuple[str, str], ...]  # (metric, mode)
    constraints: tuple[tuple[str, str, float], ...]  # (metric, sense, bound)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    def feasible(self, reports: pd.DataFrame) -> np.ndarray:
        """Per report: every constraint holds (a missing metric fails it)."""
        ok = np.ones(len(reports), dtype=bool)
        for metric, sense, bound in self.constraints:
            if metric not in reports.columns:
                return np.zeros(len(reports), dtype=bool)
            values = reports[metric].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                ok &= values <= bound if sense == "<=" else values >= bound
        return ok


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``"epoch_time<=1.75"`` -> ``("epoch_time", "<=", 1.75)`` (``:le:``/``:ge:`` too)."""
    match = _CONSTRAINT.match(str(text))
    if match is None:
        raise ValueError(f"not a constraint: {text!r}")
    return match["metric"], _SENSES[match["sense"]], float(match["bound"])


def run_problem(info: dict[str, Any]) -> RunProblem | None:
    """The problem of a run.json, or None where it records none (older runs)."""
    problem = info.get("problem")
    if not isinstance(problem, dict):
        return None
    objectives = tuple(
        (str(g["metric"]), str(g.get("mode", "min"))) for g in problem.get("objectives") or []
    )
    constraints = tuple(parse_constraint(c) for c in problem.get("constraints") or [])
    ranges = {
        str(k): (float(v[0]), float(v[1])) for k, v in (info.get("metric_ranges") or {}).items()
    }
    return RunProblem(objectives, constraints, ranges)


# -- scores -------------------------------------------------------------------------------------


def normalise(values: np.ndarray, objectives, ranges) -> np.ndarray:
    """Rows of raw objective values -> minimised values scaled by the ranges (module docstring)."""
    out = np.empty(values.shape, dtype=float)
    for j, (metric, mode) in enumerate(objectives):
        low, high = ranges[metric]
        span = high - low if high > low else 1.0
        out[:, j] = (values[:, j] - low) / span if mode == "min" else (high - values[:, j]) / span
    # a noisy report may beat the range's best end (the table's best value is one lucky draw):
    # it counts as reaching it, so the hypervolume stays a share of the box
    return np.maximum(out, 0.0, out=out)


def hypervolume(points: np.ndarray, reference: float = 1.0) -> float:
    """Hypervolume (moocore) of normalised, minimised points; reference point ``(1, ..., 1)``."""
    import moocore

    points = np.asarray(points, dtype=float)
    if points.size == 0:
        return 0.0
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        return 0.0
    return float(moocore.hypervolume(points, ref=np.full(points.shape[1], reference)))


def running_hypervolume(points: np.ndarray) -> np.ndarray:
    """The hypervolume of the first ``i + 1`` points, for each ``i`` (NaN rows are skipped)."""
    import moocore

    out = np.zeros(len(points))
    front = np.zeros((0, points.shape[1]))
    current = 0.0
    for i, point in enumerate(points):
        if np.isfinite(point).all() and not (
            len(front) and np.any(np.all(front <= point, axis=1))
        ):
            front = moocore.filter_dominated(np.vstack([front, point]))
            current = hypervolume(front)
        out[i] = current
    return out


def _score_multi_objective(
    reports: pd.DataFrame, problem: RunProblem, ranges: dict[str, tuple[float, float]]
) -> pd.DataFrame:
    reports = reports.sort_values("time", kind="stable")
    metrics = [m for m, _ in problem.objectives]
    values = reports[metrics].to_numpy(dtype=float)
    points = normalise(values, problem.objectives, ranges)
    points[~problem.feasible(reports)] = np.nan
    hv = running_hypervolume(points)
    return reports.assign(feasible=problem.feasible(reports), hypervolume=hv,
                          **{HV_SCORE: 1.0 - hv})  # fmt: skip


def derive_scores(results: Results) -> Results:
    """Give multi-objective and constrained runs a single score (module docstring)."""
    from analysis.load import Results

    runs = results.runs
    if "problem" not in runs.columns or not len(runs):
        return results
    problems = {i: runs.at[i, "problem"] for i in runs.index}
    derived = {i: p for i, p in problems.items() if p is not None and
               (p.multi_objective or p.constrained)}  # fmt: skip
    if not derived:
        return results
    runs = runs.copy()
    runs["raw_metric"] = runs["metric"]
    keys = ["benchmark", "method", "seed"]
    parts = dict(iter(results.reports.groupby(keys, sort=False)))
    ranges = hv_ranges(results)
    new_parts = []
    for i in runs.index:
        key = tuple(runs.loc[i, keys])
        part = parts.pop(key, None)
        problem = derived.get(i)
        if problem is None:
            if part is not None:
                new_parts.append(part)
            continue
        benchmark = runs.at[i, "benchmark"]
        identity = {"objectives": [list(g) for g in problem.objectives],
                    "constraints": [f"{m}{s}{b:g}" for m, s, b in problem.constraints]}
        if problem.multi_objective:
            used = {m: (lo, hi) for m, (lo, hi, _) in ranges[benchmark].items()}
            identity["hv_ranges"] = {m: list(used[m]) for m, _ in problem.objectives}
            runs.at[i, "metric"] = HV_SCORE
            runs.at[i, "best_known_value"] = 0.0
            runs.at[i, "worst_known_value"] = 1.0
            if part is not None:
                part = _score_multi_objective(part, problem, used)
        else:
            metric = runs.at[i, "metric"]
            worst = float(runs.at[i, "worst_known_value"])
            runs.at[i, "metric"] = FEASIBLE_PREFIX + metric
            if part is not None:
                feasible = problem.feasible(part)
                score = np.where(feasible, part[metric].to_numpy(dtype=float), worst)
                part = part.assign(feasible=feasible, **{FEASIBLE_PREFIX + metric: score})
        runs.at[i, "objective"] = {**runs.at[i, "objective"], "problem": identity}
        if part is not None:
            new_parts.append(part)
    new_parts += list(parts.values())
    reports = pd.concat(new_parts, ignore_index=True) if new_parts else results.reports
    order = [k for k in ["benchmark", "method", "seed", "time", "trial_id", "epoch"]
             if k in reports.columns]  # fmt: skip
    reports = reports.sort_values(order, kind="stable", ignore_index=True)
    return Results(runs=runs, reports=reports, trials=results.trials, skipped=results.skipped,
                   notes=results.notes, scores=results.scores)


def hv_ranges(results: Results) -> dict[str, dict[str, tuple[float, float, str]]]:
    """Per multi-objective benchmark: each objective's normalisation range and its source:
    ``recorded`` (run.json's ``metric_ranges``), else ``observed in the analysed runs``."""
    out: dict[str, dict[str, tuple[float, float, str]]] = {}
    for _, run in results.runs.iterrows():
        problem = run.get("problem")
        if problem is None or not problem.multi_objective:
            continue
        benchmark = str(run["benchmark"])
        found = out.setdefault(benchmark, {})
        for metric, _ in problem.objectives:
            if metric in found:
                continue
            if metric in problem.ranges:
                found[metric] = (*problem.ranges[metric], "recorded")
                continue
            reports = results.reports[results.reports["benchmark"] == benchmark]
            if metric not in reports.columns:
                raise ResultsError(f"benchmark '{benchmark}': reports have no objective '{metric}'")
            values = reports[metric].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values) == 0:
                raise ResultsError(f"benchmark '{benchmark}': no finite value of '{metric}'")
            found[metric] = (float(values.min()), float(values.max()),
                             "observed in the analysed runs")  # fmt: skip
    return out


# -- figures and summary ------------------------------------------------------------------------


def benchmarks_of(results: Results, kind: str) -> list[str]:
    """Benchmarks whose runs are multi-objective (``kind='mo'``) or constrained single-objective
    (``'constrained'``)."""
    runs = results.runs
    if "problem" not in runs.columns:
        return []
    out = set()
    for _, run in runs.iterrows():
        p = run["problem"]
        if p is None:
            continue
        if (kind == "mo" and p.multi_objective) or (
            kind == "constrained" and p.constrained and not p.multi_objective
        ):
            out.add(str(run["benchmark"]))
    return sorted(out)


def make_figures(
    results: Results, refs: dict, style: MethodStyle, stat: str, out_dir: Path, log_time: bool
) -> list[Path]:
    """Hypervolume over time and attained fronts per multi-objective benchmark; feasible
    incumbents and the feasible share per constrained benchmark."""
    from analysis import plots
    from analysis.aggregate import summarise_curves
    from analysis.style import save
    from analysis.trajectories import benchmark_grid, incumbent_grid

    written: list[Path] = []
    xlabel = "simulated wall-clock time (s)"
    for benchmark in benchmarks_of(results, "mo"):
        grid = benchmark_grid(results, benchmark, refs[benchmark], 200, log=log_time)
        hv = 1.0 - incumbent_grid(results, benchmark, grid)
        fig = plots.anytime(
            summarise_curves(hv, stat), style, f"{benchmark}: hypervolume of the attained front",
            "hypervolume (normalised objectives)", xlabel, stat, log_x=log_time,
        )  # fmt: skip
        written += save(fig, out_dir, f"hypervolume_{_safe(benchmark)}")
        written += save(attainment_figure(results, benchmark, style), out_dir,
                        f"pareto_{_safe(benchmark)}")  # fmt: skip
    for benchmark in benchmarks_of(results, "constrained"):
        written += save(feasible_figure(results, benchmark, refs[benchmark], style, stat,
                                        log_time), out_dir, f"feasible_{_safe(benchmark)}")
    return written


def final_points(results: Results, benchmark: str, horizon: float) -> dict[str, pd.DataFrame]:
    """Per method: the feasible reports of every seed up to ``horizon`` (objective columns,
    raw units, plus ``seed``)."""
    runs = results.runs[results.runs["benchmark"] == benchmark]
    problem = runs["problem"].iloc[0]
    metrics = [m for m, _ in problem.objectives]
    reports = results.reports[(results.reports["benchmark"] == benchmark)
                              & (results.reports["time"] <= horizon)]  # fmt: skip
    out = {}
    for method, block in reports.groupby("method"):
        keep = block["feasible"].to_numpy(dtype=bool) if "feasible" in block else True
        out[str(method)] = block.loc[keep, [*metrics, "seed"]]
    return out


def attainment_figure(results: Results, benchmark: str, style: MethodStyle):
    """The median (50%) empirical attainment surface of each method at the end of the budget
    (moocore's EAF over seeds), in the objectives' own units; the first two objectives."""
    import moocore

    from analysis.style import new_figure

    runs = results.runs[results.runs["benchmark"] == benchmark]
    problem = runs["problem"].iloc[0]
    (m0, mode0), (m1, mode1) = problem.objectives[:2]
    horizon = float(np.nanmax(runs["budget_time"])) if runs["budget_time"].notna().any() \
        else float(results.reports["time"].max())  # fmt: skip
    sign = np.array([1.0 if mode0 == "min" else -1.0, 1.0 if mode1 == "min" else -1.0])
    fig, ax = new_figure(height=2.6)
    for method, points in final_points(results, benchmark, horizon).items():
        values = points[[m0, m1]].to_numpy(dtype=float) * sign
        keep = np.isfinite(values).all(axis=1)
        if not keep.any():
            continue
        seeds = points["seed"].to_numpy()[keep]
        _, sets = np.unique(seeds, return_inverse=True)
        n_sets = len(np.unique(seeds))
        n_runs = int((runs["method"] == method).sum())
        if n_sets < n_runs:  # a seed with no feasible report attains nothing
            continue
        front = moocore.filter_dominated_within_sets(np.column_stack([values[keep], sets + 1]))
        surface = moocore.eaf(front[:, :2], front[:, 2], percentiles=[50])
        xy = surface[:, :2] * sign
        order = np.argsort(xy[:, 0] * sign[0])
        ax.plot(xy[order, 0], xy[order, 1], drawstyle="steps-post" if sign[0] > 0 else
                "steps-pre", **style.line(method))  # fmt: skip
    ax.set_xlabel(f"{m0} ({mode0}imised)")
    ax.set_ylabel(f"{m1} ({mode1}imised)")
    ax.set_title(f"{benchmark}: median attainment surface at the end\n"
                 f"(50% empirical attainment over seeds)")  # fmt: skip
    ax.grid(True, which="major")
    _legend(ax, -0.2)
    return fig


def feasible_figure(results, benchmark, ref, style, stat, log_time):
    """Two panels: the best feasible value so far, and the share of reports that were feasible
    so far (infeasible incumbents never count)."""
    import matplotlib.pyplot as plt

    from analysis.aggregate import STAT_LABELS, summarise_curves
    from analysis.style import COLUMN_WIDTH
    from analysis.trajectories import benchmark_grid, incumbent_grid

    grid = benchmark_grid(results, benchmark, ref, 200, log=log_time)
    incumbents = incumbent_grid(results, benchmark, grid)
    shares = feasible_share_grid(results, benchmark, grid)
    runs = results.runs[results.runs["benchmark"] == benchmark]
    metric = str(runs["raw_metric"].iloc[0])
    constraints = ", ".join(f"{m}{s}{b:g}" for m, s, b in runs["problem"].iloc[0].constraints)
    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_WIDTH, 4.2), sharex=True)
    for ax, curves, label in ((axes[0], incumbents, f"best feasible {metric}"),
                              (axes[1], shares, "share of reports feasible")):
        for method, s in summarise_curves(curves, stat).items():
            x = s.index.to_numpy(dtype=float)
            ax.plot(x, s["centre"], drawstyle="steps-post", **style.line(method))
            ax.fill_between(x, s["low"], s["high"], color=style.color(method), alpha=0.2, lw=0,
                            step="post")  # fmt: skip
        ax.set_ylabel(label)
        ax.grid(True, which="major")
        if log_time:
            ax.set_xscale("log")
    axes[0].set_title(f"{benchmark}: feasible incumbents ({constraints})\n({STAT_LABELS[stat]})")
    axes[1].set_xlabel("simulated wall-clock time (s)")
    _legend(axes[1], -0.32)
    return fig


def _legend(ax, offset: float) -> None:
    """The legend under the axes (``offset``: in axes heights), clear of the curves."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, offset),
              ncol=min(3, len(labels)), handlelength=2.0, columnspacing=1.0)


def feasible_share_grid(results: Results, benchmark: str, grid: np.ndarray) -> pd.DataFrame:
    """Per run: the share of its reports up to each grid time that were feasible (NaN before
    its first report)."""
    runs = results.runs[results.runs["benchmark"] == benchmark]
    reports = results.reports[results.reports["benchmark"] == benchmark]
    groups = dict(iter(reports.groupby(["method", "seed"])))
    rows, index = [], []
    for method, seed in zip(runs["method"], runs["seed"], strict=True):
        part = groups.get((method, seed))
        row = np.full(len(grid), np.nan)
        if part is not None and len(part):
            part = part.sort_values("time", kind="stable")
            times = part["time"].to_numpy(dtype=float)
            share = np.cumsum(part["feasible"].to_numpy(dtype=float)) / np.arange(1, len(part) + 1)
            idx = np.searchsorted(times, grid, side="right") - 1
            row[idx >= 0] = share[idx[idx >= 0]]
        rows.append(row)
        index.append((method, seed))
    return pd.DataFrame(np.vstack(rows), columns=pd.Index(grid, name="time"),
                        index=pd.MultiIndex.from_tuples(index, names=["method", "seed"]))


def summary_lines(results: Results, refs: dict, alpha: float) -> list[str]:
    """Markdown: hypervolume at 25/50/100% of the budget per multi-objective benchmark, with the
    normalisation it used; feasible share per constrained benchmark."""
    from analysis.tables import FRACTIONS, compare_methods
    from analysis.trajectories import incumbent_grid

    lines: list[str] = []
    ranges = hv_ranges(results)
    for benchmark in benchmarks_of(results, "mo"):
        ref = refs[benchmark]
        lines += [f"## Hypervolume: {benchmark}", "",
                  "Objectives normalised to [0, 1] by "
                  + "; ".join(f"{m} [{lo:.6g}, {hi:.6g}] ({source})"
                              for m, (lo, hi, source) in ranges[benchmark].items())
                  + "; reference point (1, ..., 1): the worst recorded value of every objective. "
                  "Hypervolume of the feasible reports so far (higher is better); bold: best "
                  f"mean; {MARK_TEXT} (one-sided paired Wilcoxon, Holm, α = {alpha:g}).", "",
                  "| method | " + " | ".join(f"{f:.0%} ({f * ref.horizon:.0f} s)"
                                             for f in FRACTIONS) + " |",
                  "|---" * (len(FRACTIONS) + 1) + "|"]  # fmt: skip
        curves = incumbent_grid(results, benchmark, np.asarray(FRACTIONS) * ref.horizon)
        cells: dict[str, list[str]] = {}
        for j in range(len(FRACTIONS)):
            table = compare_methods(curves.iloc[:, j].unstack("method"), alpha)
            for _, row in table.iterrows():
                text = f"{1.0 - row['mean']:.4f} ± {row['se']:.4f}"
                if row["best"]:
                    text = f"**{text}**"
                elif row["not_worse"]:
                    text += " †"
                cells.setdefault(row["method"], []).append(text)
        lines += [f"| {m} | " + " | ".join(c) + " |" for m, c in sorted(cells.items())]
        lines.append("")
    for benchmark in benchmarks_of(results, "constrained"):
        runs = results.runs[results.runs["benchmark"] == benchmark]
        constraints = ", ".join(f"{m}{s}{b:g}" for m, s, b in runs["problem"].iloc[0].constraints)
        reports = results.reports[results.reports["benchmark"] == benchmark]
        share = reports.groupby(["method", "seed"])["feasible"].mean().groupby("method")
        lines += [f"## Constraints: {benchmark}", "",
                  f"Constraints {constraints}. Incumbents count feasible reports only (before "
                  "the first one, the worst known value). Share of each method's reports that "
                  "were feasible (mean ± standard error over seeds): "
                  + ", ".join(f"{m} {s.mean():.3f} ± {s.std(ddof=1) / math.sqrt(len(s)):.3f}"
                              for m, s in share) + ".", ""]  # fmt: skip
    return lines


MARK_TEXT = "†: not significantly worse than the best"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
