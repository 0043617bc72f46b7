"""Every method on one or more benchmarks: anytime tables and surrogate-vs-table ranking fidelity.

    python scripts/compare_methods.py --benchmarks resnet8_cifar10,resnet8_cifar10_tabular \
        --seeds 10 --results results/compare [--methods a,b,...] [-- more overrides]

Runs ``python -m benchmarks method=<all> seed=0..<seeds-1> benchmark=<b>`` for each benchmark
(complete runs are reused: the sweep resumes), then prints, per benchmark, every method's mean
best validation error +- standard error at 25%, 50% and 100% of the time budget, its mean worker
utilisation (``run.json``'s summary) and real seconds per run (start to finish), and — when two
benchmarks are given — Kendall's tau between their method rankings at each of those points
(the surrogate's ranking fidelity against exact replay of the table it was fitted on).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.load import load_results
from hpo_methods.registry import method_names

FRACTIONS = (0.25, 0.5, 1.0)


def best_at(reports: pd.DataFrame, runs: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Best val_error reported up to ``fraction`` of each run's time budget, one row per run."""
    budget = runs.set_index(["benchmark", "method", "seed"])["budget_time"]
    limit = reports.set_index(["benchmark", "method", "seed"]).index.map(budget) * fraction
    within = reports[reports["time"].to_numpy() <= np.asarray(limit)]
    best = within.groupby(["benchmark", "method", "seed"])["val_error"].min()
    full = runs.set_index(["benchmark", "method", "seed"]).index
    return best.reindex(full).rename("best").reset_index()


def run_figures(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: worker utilisation (NaN where run.json has none) and real seconds it took."""
    rows = []
    for _, run in runs.iterrows():
        info = json.loads((Path(run["path"]) / "run.json").read_text())
        summary = info.get("summary") or {}
        started, finished = info.get("started_at"), info.get("finished_at")
        seconds = np.nan
        if started and finished:
            seconds = (
                datetime.fromisoformat(finished) - datetime.fromisoformat(started)
            ).total_seconds()
        utilisation = summary.get("worker_utilisation")
        rows.append({
            "benchmark": run["benchmark"], "method": run["method"], "seed": run["seed"],
            "utilisation": np.nan if utilisation is None else float(utilisation),
            "seconds": seconds,
        })  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", required=True)
    parser.add_argument("--methods", default=",".join(method_names()))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--results", default="results/compare")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    benchmarks = args.benchmarks.split(",")
    for benchmark in benchmarks:
        subprocess.run(
            [sys.executable, "-m", "benchmarks", f"benchmark={benchmark}",
             f"method={args.methods}", f"seed=0..{args.seeds - 1}",
             f"results_dir={args.results}", *args.extra],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    results = load_results([Path(args.results) / b for b in benchmarks])
    reports = results.reports.dropna(subset=["val_error"])
    means: dict[tuple[str, float], pd.Series] = {}
    figures = run_figures(results.runs)
    for benchmark in benchmarks:
        print(f"\n### {benchmark}: mean best val_error +- s.e. over {args.seeds} seeds\n")
        print("| method | " + " | ".join(f"{int(f * 100)}% of budget" for f in FRACTIONS)
              + " | worker utilisation | s per run |")  # fmt: skip
        print("|---|" + "---|" * (len(FRACTIONS) + 2))
        cells: dict[str, list[str]] = {}
        for fraction in FRACTIONS:
            best = best_at(reports, results.runs, fraction)
            best = best[best["benchmark"] == benchmark]
            stats = best.groupby("method")["best"].agg(["mean", "sem", "count"])
            means[(benchmark, fraction)] = stats["mean"]
            for method, row in stats.iterrows():
                cells.setdefault(method, []).append(f"{row['mean']:.4f} +- {row['sem']:.4f}")
        per_run = figures[figures["benchmark"] == benchmark].groupby("method")
        use = per_run["utilisation"].agg(["mean", "sem"])
        seconds = per_run["seconds"].mean()
        for method in sorted(cells, key=lambda m: means[(benchmark, 1.0)][m]):
            u = use.loc[method]
            cells[method].append(
                "n/a" if np.isnan(u["mean"]) else f"{u['mean']:.3f} +- {u['sem']:.3f}"
            )
            cells[method].append(f"{seconds.loc[method]:.1f}")
            print(f"| {method} | " + " | ".join(cells[method]) + " |")
    if len(benchmarks) == 2:
        a, b = benchmarks
        print(f"\n### Ranking fidelity: Kendall tau of method rankings, {a} vs {b}\n")
        print("| budget | tau | p |")
        print("|---|---|---|")
        for fraction in FRACTIONS:
            x, y = means[(a, fraction)].align(means[(b, fraction)], join="inner")
            tau, p = kendalltau(x, y)
            print(f"| {int(fraction * 100)}% | {tau:.3f} | {p:.3g} |")


if __name__ == "__main__":
    main()
