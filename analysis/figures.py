"""Paper figures and a Markdown summary from results folders.

    python -m analysis.figures RESULTS_DIR [RESULTS_DIR ...] --out FIGDIR [--run RUN_FOLDER]
        [--stat mean|median|iqm] [--alpha 0.05] [--time-axis log|linear] [--include-incomplete]
        [--score true|observed]

Writes into FIGDIR, each as PDF and PNG: ``anytime_<benchmark>`` (incumbent against log time,
shaded band), ``regret_<benchmark>`` (normalised regret, log-log), ``regret_all`` (mean over
benchmarks, when there are several), ``rank_over_time``, ``cd_diagram`` (Friedman/Nemenyi on the
final normalised regret; needs the ``stats`` extra), ``learning_curves`` (every trial of one run:
``--run``, else the first ASHA run), plus ``summary.md`` (tables and definitions) and
``tables.tex``. It prints what it wrote and why a figure was not drawn. Multi-objective benchmarks
add ``hypervolume_<benchmark>`` (hypervolume over time) and ``pareto_<benchmark>`` (median
attainment surfaces); constrained ones ``feasible_<benchmark>`` (feasible incumbents and the share
of feasible reports): see :mod:`analysis.multiobjective`.

Methods are named by their label (``asha-variant=promotion``: see :mod:`analysis.load`). Runs
of one benchmark under different settings (budget, n_workers, backend, the objective itself)
are never pooled: the benchmark is split into one per setting, named with the differing values.

Incumbents are scored by their noise-free value (``--score true``, the default where the results
carry it) or by the reported value (``--score observed``); see :mod:`analysis.trajectories`.
Hypervolume and feasible incumbents are computed from reported values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import multiobjective, plots, tables
from analysis.aggregate import STAT_LABELS, STATISTICS, rank_over_time, summarise_curves
from analysis.load import Results, ResultsError, load_results
from analysis.stats import RankTest, friedman_nemenyi
from analysis.style import OKABE_ITO, RC, MethodStyle, save
from analysis.trajectories import (
    SCORES,
    Reference,
    benchmark_grid,
    choose_scores,
    incumbent_grid,
    references,
    run_metrics,
)

OUTCOME_COLORS = {
    "completed": OKABE_ITO[0],
    "stopped": OKABE_ITO[1],
    "paused": OKABE_ITO[3],
    "failed": OKABE_ITO[4],
    "running at the end": OKABE_ITO[5],
}
GRID_POINTS = 200


def make_figures(
    results: Results,
    out_dir: Path,
    stat: str = "mean",
    alpha: float = 0.05,
    run_folder: Path | None = None,
    log_time: bool = True,
    score: str | None = None,
) -> tuple[list[Path], list[str]]:
    """Write every figure, ``summary.md`` and ``tables.tex`` into ``out_dir``; return the files
    and the notes on figures that were not drawn (and why).

    ``log_time=False`` draws the per-benchmark anytime and regret curves on a linear time axis.
    ``score``: how incumbents are scored (:func:`~analysis.trajectories.choose_scores`).
    """
    import matplotlib.pyplot as plt

    _make_folder(out_dir)
    chosen = _pick_run(results, run_folder)  # a bad --run fails before any drawing
    notes: list[str] = []
    results = _with_reports(results, notes)
    choose_scores(results, score)
    refs = references(results)
    style = MethodStyle(results.methods)
    metrics = run_metrics(results, refs)
    written: list[Path] = []
    with plt.rc_context(RC):
        for benchmark in sorted(refs):
            written += _benchmark_figures(
                results, benchmark, refs[benchmark], style, stat, out_dir, log_time
            )
        written += multiobjective.make_figures(results, refs, style, stat, out_dir, log_time)
        if len(refs) > 1:
            written += _regret_all(results, refs, style, stat, out_dir)
        fractions = _fraction_grid(results, refs)
        mean_ranks = rank_over_time(results, refs, fractions)
        fig = plots.ranks(mean_ranks, style, mean_ranks.attrs["blocks"], len(refs))
        written += save(fig, out_dir, "rank_over_time")
        test = _rank_test(metrics, alpha, notes)
        if test is not None:
            written += save(plots.cd_diagram(test, style, "final normalised regret"), out_dir,
                            "cd_diagram")
        written += _learning_curves(results, chosen, out_dir, notes)
        if len(refs) == 1:
            notes.append("No regret_all: one benchmark (it averages over several).")
    sections = multiobjective.summary_lines(results, refs, alpha)  # hypervolume, feasibility
    final = tables.final_performance(results, refs, alpha=alpha)
    auc = tables.per_benchmark(metrics, "auc", alpha, "area under the regret curve")
    regret = tables.per_benchmark(metrics, "regret", alpha, "final normalised regret")
    summary = _summary(results, refs, stat, alpha, final, auc, regret, test,
                       [*sections, *notes], written)
    (out_dir / "summary.md").write_text(summary)
    tex = "\n".join(
        [
            tables.to_latex(final, title="incumbent at a fraction of the budget: "),
            tables.to_latex(auc),
            tables.to_latex(regret),
        ]
    )
    (out_dir / "tables.tex").write_text(tex)
    return [*written, out_dir / "summary.md", out_dir / "tables.tex"], notes


def _make_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ResultsError(f"--out '{out_dir}' is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ResultsError(f"--out '{out_dir}' cannot be created: {err.strerror or err}") from err


def _with_reports(results: Results, notes: list[str]) -> Results:
    """``results`` without the benchmarks none of whose runs reported anything (their curves,
    regret and ranks are undefined), with a note for each."""
    empty = []
    for benchmark, runs in results.runs.groupby("benchmark", sort=True):
        reports = results.reports[results.reports["benchmark"] == benchmark]
        metric = runs["metric"].iloc[0]
        if reports.empty or not np.isfinite(reports[metric].to_numpy(dtype=float)).any():
            empty.append(str(benchmark))
    for benchmark in empty:
        n = int((results.runs["benchmark"] == benchmark).sum())
        notes.append(f"No figures or tables for benchmark {benchmark}: none of its {n} runs "
                     "reported a value within its budget.")
    keep = [b for b in results.benchmarks if b not in empty]
    if not keep:
        raise ResultsError("no run reported any value within its budget: nothing to draw "
                           f"({len(results.runs)} runs, every one without reports)")
    if not empty:
        return results

    def part(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["benchmark"].isin(keep)] if len(frame) else frame

    return Results(part(results.runs), part(results.reports), part(results.trials),
                   results.skipped, results.notes, results.scores)


def _time_label(results: Results, benchmark: str | None = None) -> str:
    runs = results.runs if benchmark is None else results.runs[results.runs.benchmark == benchmark]
    simulated = (runs["backend"] == "simulated").all()
    return "simulated wall-clock time (s)" if simulated else "wall-clock time (s)"


def _benchmark_figures(
    results: Results,
    benchmark: str,
    ref: Reference,
    style: MethodStyle,
    stat: str,
    out: Path,
    log_time: bool,
) -> list[Path]:
    grid = benchmark_grid(results, benchmark, ref, GRID_POINTS, log=log_time)
    curves = incumbent_grid(results, benchmark, grid)
    metric = results.runs.loc[results.runs.benchmark == benchmark, "metric"].iloc[0]
    xlabel = _time_label(results, benchmark)
    name = benchmark_title(benchmark, results)
    true = results.score(benchmark) == "true"
    label = metric_label(metric)
    title = f"true {label} of the incumbent" if true else f"best {label} so far"
    fig = plots.anytime(
        summarise_curves(curves, stat), style, f"{name}: {title}",
        f"incumbent {label} ({results.score(benchmark)})", xlabel, stat, best_known=ref.best,
        log_x=log_time,
    )
    paths = save(fig, out, f"anytime_{_safe(benchmark)}")
    regret = ref.regret(curves)
    fig = plots.anytime(
        summarise_curves(regret, stat), style, f"{name}: normalised regret",
        f"normalised regret of the best {label}", xlabel, stat, log_y=True, log_x=log_time,
    )
    return paths + save(fig, out, f"regret_{_safe(benchmark)}")


def _fraction_grid(results: Results, refs: dict[str, Reference]) -> np.ndarray:
    firsts = []
    for benchmark, ref in refs.items():
        times = results.reports.loc[results.reports.benchmark == benchmark, "time"]
        positive = times[times > 0]
        if len(positive):
            firsts.append(float(positive.min()) / ref.horizon)
    start = min(firsts) if firsts else 1e-4
    return np.geomspace(min(max(start, 1e-6), 0.5), 1.0, GRID_POINTS)


def _regret_all(
    results: Results, refs: dict[str, Reference], style: MethodStyle, stat: str, out: Path
) -> list[Path]:
    """Normalised regret averaged over benchmarks (per seed), against the budget fraction."""
    fractions = _fraction_grid(results, refs)
    parts = []
    for benchmark, ref in sorted(refs.items()):
        curves = ref.regret(incumbent_grid(results, benchmark, fractions * ref.horizon))
        curves.columns = pd.Index(fractions, name="fraction")
        parts.append(curves)
    per_seed = pd.concat(parts).groupby(level=["method", "seed"]).mean()
    fig = plots.anytime(
        summarise_curves(per_seed, stat), style,
        f"Normalised regret, mean over {len(refs)} benchmarks",
        "normalised regret", "fraction of the time budget", stat, log_y=True,
    )
    return save(fig, out, "regret_all")


def _rank_test(metrics: pd.DataFrame, alpha: float, notes: list[str]) -> RankTest | None:
    table = metrics.pivot_table(index=["benchmark", "seed"], columns="method", values="regret")
    try:
        return friedman_nemenyi(table, alpha)
    except ImportError:
        notes.append("No cd_diagram (critical-difference diagram): install the stats extra "
                     "(pip install -e \".[stats]\": autorank, scikit-posthocs).")
    except ValueError as err:
        notes.append(f"No cd_diagram (critical-difference diagram): {err}.")
    return None


def _pick_run(results: Results, run_folder: Path | None) -> pd.Series:
    runs = results.runs
    if run_folder is not None:
        match = runs[runs["path"].map(lambda p: Path(p).resolve()) == run_folder.resolve()]
        if match.empty:
            raise ResultsError(f"--run '{run_folder}' is not one of the loaded runs")
        return match.iloc[0]
    asha = runs[runs["method"] == "asha"]
    return (asha if len(asha) else runs).sort_values(["seed", "benchmark"]).iloc[0]


def _learning_curves(results: Results, run: pd.Series, out: Path, notes: list[str]
                     ) -> list[Path]:  # fmt: skip
    r = results.reports
    reports = r[(r.benchmark == run.benchmark) & (r.method == run.method) & (r.seed == run.seed)]
    if reports.empty:
        notes.append(f"No learning_curves: the run '{run.path}' has no reports.")
        return []
    n_trials = reports["trial_id"].nunique()
    title = (f"{run.method} on {benchmark_title(run.benchmark, results)}, seed {run.seed}: "
             f"{n_trials} trials")  # fmt: skip
    metric = run.get("raw_metric")  # a derived score (analysis.multiobjective): plot its metric
    metric = metric if isinstance(metric, str) else run.metric
    fig = plots.learning_curves(
        reports, metric, title, _time_label(results, run.benchmark), OUTCOME_COLORS,
        ylabel=metric_label(metric),
    )  # fmt: skip
    return save(fig, out, "learning_curves")


METRIC_LABELS = {"val_error": "validation error", "train_loss": "training loss",
                 "epoch_time": "epoch time (s)"}  # fmt: skip
KIND_LABELS = {"surrogate": "surrogate", "tabular": "table", "real": "real training",
               "synthetic": "synthetic"}  # fmt: skip


def metric_label(metric: str) -> str:
    """A metric's name as words (``val_error`` -> validation error)."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def benchmark_title(benchmark: str, results: Results) -> str:
    """A benchmark's name for titles: its name and what kind of objective it is
    (``resnet8_cifar10 (surrogate)``), keeping the name users type."""
    runs = results.runs[results.runs["benchmark"] == benchmark]
    kinds = {str((o or {}).get("kind", "")) for o in runs["objective"]} - {""}
    kind = KIND_LABELS.get(kinds.pop(), "") if len(kinds) == 1 else ""
    return f"{benchmark} ({kind})" if kind and kind not in benchmark else benchmark


def _summary(
    results: Results,
    refs: dict[str, Reference],
    stat: str,
    alpha: float,
    final: pd.DataFrame,
    auc: pd.DataFrame,
    regret: pd.DataFrame,
    test: RankTest | None,
    notes: list[str],
    written: list[Path],
) -> str:
    runs = results.runs
    lines = ["# tunebench results summary", ""]
    lines.append(
        f"{len(runs)} complete runs: {len(results.benchmarks)} benchmark(s) "
        f"({', '.join(results.benchmarks)}), methods {', '.join(results.methods)}; "
        f"seeds per method and benchmark: "
        + ", ".join(
            f"{b}/{m} {n}" for (b, m), n in runs.groupby(["benchmark", "method"]).size().items()
        )
        + "."
    )
    if results.skipped:
        lines.append(f"Skipped {len(results.skipped)} incomplete or unreadable run(s): "
                     + "; ".join(f"`{p}` ({why})" for p, why in results.skipped[:10])
                     + (" ..." if len(results.skipped) > 10 else ""))
    lines += [f"Note: {n}." for n in results.notes]
    revisions = sorted({str(r) for r in runs["git_revision"]})
    lines.append(f"Code revision(s): {', '.join(revisions)}.")
    lines += ["", "## References", "",
              "| benchmark | best known | worst reference | time budget (s) | n_workers |",
              "|---|---|---|---|---|"]
    for benchmark, ref in sorted(refs.items()):
        workers = sorted({str(w) for w in runs.loc[runs.benchmark == benchmark, "n_workers"]})
        lines.append(f"| {benchmark} | {ref.best:.6g} | {ref.worst:.6g} | {ref.horizon:g} | "
                     f"{', '.join(workers)} |")
    lines += [
        "",
        "Normalised regret = (v - best known) / (worst reference - best known); the worst "
        "reference is run.json's `worst_known_value` if given, else the highest first report "
        "of any run of the benchmark. The incumbent (best value so far) is undefined before a "
        "run's first report; aggregated curves start once every seed has reported; AUC is the "
        "time average of normalised regret over the budget, counting 1 before the first report.",
        f"Curves show the {STAT_LABELS[stat]} over seeds.",
        "",
        "Incumbent score per benchmark: "
        + ", ".join(f"{b} {results.score(b)}" for b in sorted(refs))
        + ". The incumbent is the report with the lowest reported value so far (what the method "
        "would return); `true` scores it by its noise-free value at that epoch (the surrogate's "
        "mean curve, the table's mean over seeds), `observed` by the reported value (biased low "
        "on noisy benchmarks: the winner's curse).",
        "",
        "## Final performance",
        "",
        f"Bold: best mean. {tables.MARK}: not significantly worse than the best (one-sided "
        f"paired Wilcoxon over seeds, Holm-corrected, α = {alpha:g}).",
        "",
        tables.to_markdown(final, title="incumbent at a fraction of the budget: "),
        "## Area under the normalised-regret curve (lower is better)",
        "",
        tables.to_markdown(auc, digits=4),
        "## Final normalised regret",
        "",
        tables.to_markdown(regret, digits=4),
    ]
    if test is not None:
        cd = (f", critical difference {test.critical_difference:.3f}"
              if test.critical_difference else "")
        lines += [
            "## Rank test",
            "",
            f"{test.omnibus.capitalize()} test over {test.n_blocks} blocks (benchmark × seed) "
            f"on the final normalised regret: p = {test.pvalue:.3g}{cd} (α = {alpha:g}). "
            "Mean ranks: "
            + ", ".join(f"{m} {r:.2f}" for m, r in test.mean_ranks.items())
            + ".",
            "",
        ]
    lines += [*notes, "", "## Figures", ""]
    lines += [f"- `{p.name}`" for p in written if p.suffix == ".pdf"]
    return "\n".join(lines) + "\n"


def _safe(name: str) -> str:
    """A file-name part: ``tabular [n_workers=8]`` -> ``tabular-n_workers=8``."""
    name = name.replace(" [", "-").replace("]", "").replace(", ", "-")
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.figures", description="Paper figures from results folders."
    )
    parser.add_argument("results", nargs="+", type=Path, help="results folder(s), searched "
                        "recursively for run.json")
    parser.add_argument("--out", type=Path, required=True, help="folder for figures and tables")
    parser.add_argument("--run", type=Path, default=None,
                        help="the run whose learning curves to draw (default: first ASHA run)")
    parser.add_argument("--stat", choices=STATISTICS, default="mean",
                        help="aggregate over seeds (default: mean ± standard error)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument("--time-axis", choices=("log", "linear"), default="log",
                        help="time axis of the per-benchmark curves (default: log)")
    parser.add_argument("--include-incomplete", action="store_true",
                        help="also analyse runs that did not finish")
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="score incumbents by their noise-free value (true) or by the "
                        "reported one (observed); default: true where the results carry it")
    args = parser.parse_args(argv)
    try:
        _make_folder(args.out)  # before any work
        results = load_results(args.results, include_incomplete=args.include_incomplete,
                               split_settings=True)  # fmt: skip
        if results.skipped:
            print(f"note: {results.skipped_note()}", file=sys.stderr)
        for note in results.notes:
            print(f"note: {note}", file=sys.stderr)
        files, notes = make_figures(
            results, args.out, args.stat, args.alpha, args.run, args.time_axis == "log",
            args.score,
        )
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = sorted({p.stem for p in files if p.suffix in (".pdf", ".png")})
    print(f"wrote {len(files)} files to {args.out}: {', '.join(names)} (PDF and PNG), "
          "summary.md, tables.tex")
    for note in notes:
        print(f"not drawn: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
