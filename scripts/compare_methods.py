"""Every method on one or more benchmarks: anytime tables and surrogate-vs-table ranking fidelity.

    python scripts/compare_methods.py --benchmarks resnet8_cifar10,resnet8_cifar10_tabular \
        --seeds 10 --results results/compare [--methods a,b,...] [--budget-time 1800] \
        [--n-workers 4] [--score true|observed] [-- more overrides]

Runs ``python -m benchmarks method=<all> seed=0..<seeds-1> benchmark=<b>`` for each benchmark
(complete runs are reused: the sweep resumes; ``--budget-time``/``--n-workers`` become
``budget.time=``/``n_workers=`` overrides), then prints, per benchmark, every method's mean
incumbent +- standard error at 25%, 50% and 100% of the time budget, its mean worker utilisation
(``run.json``'s summary) and real seconds per run (start to finish), and — when two benchmarks
are given — Kendall's tau between their method rankings at each of those points (the surrogate's
ranking fidelity against exact replay of the table it was fitted on), with the agreement of each
benchmark's ranking with itself on even vs odd seeds next to the cross-benchmark agreement on the
same halves (how much of the disagreement the seeds alone explain); ``--out FILE`` also writes
that as JSON, one entry per score (the shipped record, next to the surrogate's validation report:
``surrogates/data/resnet8_cifar10/surrogate/ranking_fidelity.json``).

Incumbents are scored as in :mod:`analysis.trajectories` (``--score``; default: the noise-free
value of the incumbent where the results carry it, i.e. ``true`` on surrogate and tabular runs).
Read the two scores' fidelity together: a table's noise-free value of a configuration with one
seed is that seed's recorded value (the shipped table: 560 of its 600 configurations), so on a
tabular twin ``true`` still rewards lucky draws, which the surrogate's mean curves do not;
``--score observed`` keeps the noise on both sides.
For a tabular benchmark it also reports how much of the table the runs used: the most distinct
configurations any run tried, against the table's size, and how many runs ended because the
method had nothing left to try. A ranking measured on an exhausted table says little about the
methods (they all end up having tried everything), so the script warns when that happens: choose
``--budget-time`` so that no run exhausts the table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.load import Results, load_results
from analysis.trajectories import SCORES, choose_scores, incumbent_grid, references
from benchmarks.objective import resolve_path
from hpo_methods.registry import method_names, multi_objective_names
from surrogates.table import load_table

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.25, 0.5, 1.0)


def incumbents_at(results: Results, benchmark: str, fractions=FRACTIONS) -> pd.DataFrame:
    """Incumbent score of every run at each fraction of the benchmark's time budget:
    rows (method, seed), one column per fraction."""
    horizon = references(results)[benchmark].horizon
    curves = incumbent_grid(results, benchmark, np.asarray(fractions) * horizon)
    curves.columns = list(fractions)
    return curves


def half_seed_taus(a: pd.Series, b: pd.Series) -> tuple[tuple[float, float], float]:
    """Kendall tau of method rankings on even vs odd seeds: within ``a``, within ``b`` (each a
    benchmark's incumbents, index (method, seed)), and across them (mean of the two pairings of
    opposite halves)."""
    def half(values: pd.Series, parity: int) -> pd.Series:
        seeds = values.index.get_level_values("seed")
        return values[seeds % 2 == parity].groupby(level="method").mean()

    def tau(x: pd.Series, y: pd.Series) -> float:
        x, y = x.align(y, join="inner")
        return float(kendalltau(x, y).statistic)

    within = (tau(half(a, 0), half(a, 1)), tau(half(b, 0), half(b, 1)))
    across = (tau(half(a, 0), half(b, 1)) + tau(half(a, 1), half(b, 0))) / 2
    return within, across


def write_fidelity(path: Path, results: Results, benchmarks: list[str], rows: list[dict],
                   seeds: int) -> None:
    """Write (or update under this score) the ranking-fidelity record: the command, the
    benchmarks' identities (checksums of ``run.json``'s objective), and per budget share the
    Kendall tau, its p-value and the half-seed agreements."""
    score = results.score(benchmarks[0])
    data = json.loads(path.read_text()) if path.is_file() else {}
    identity = {}
    for name in benchmarks:
        run = results.runs[results.runs["benchmark"] == name].iloc[0]
        objective = json.loads((Path(run["path"]) / "run.json").read_text())["objective"]
        identity[name] = {k: v for k, v in objective.items() if k.endswith("sha256")}
    data.update({
        "benchmarks": benchmarks, "seeds": seeds,
        "horizon_s": references(results)[benchmarks[0]].horizon, "identity": identity,
    })
    data.setdefault("scores", {})[score] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "rankings": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def table_size(benchmark: str) -> int | None:
    """The number of configurations of a tabular benchmark's table (None for other kinds)."""
    path = ROOT / "conf" / "benchmark" / f"{benchmark}.yaml"
    if not path.is_file():
        return None
    spec = yaml.safe_load(path.read_text())
    if spec.get("kind") != "tabular" or not spec.get("table"):
        return None
    return len(load_table(resolve_path(spec["table"])).configs)


def table_use(results: Results, benchmark: str) -> pd.DataFrame:
    """Per method: the most distinct configurations one run tried, and runs that ran out."""
    reports = results.reports[results.reports["benchmark"] == benchmark]
    config_columns = [c for c in reports.columns if c.startswith("config_")]
    tried = (reports.drop_duplicates(["method", "seed", *config_columns])
             .groupby(["method", "seed"]).size().groupby("method").max())
    runs = results.runs[results.runs["benchmark"] == benchmark]
    exhausted = (runs["ended_by"] == "method").groupby(runs["method"]).sum()
    return pd.DataFrame({"most_configs_tried": tried, "runs_out_of_configs": exhausted})


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", required=True)
    single = [m for m in method_names() if m not in multi_objective_names()]
    parser.add_argument("--methods", default=",".join(single),
                        help="default: every built-in single-objective method")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--results", default="results/compare")
    parser.add_argument("--budget-time", type=float, default=None,
                        help="budget.time in seconds (default: each benchmark's own)")
    parser.add_argument("--n-workers", type=int, default=None, help="n_workers (default 4)")
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="incumbent score (default: true where the results carry it)")
    parser.add_argument("--out", type=Path, default=None,
                        help="with two benchmarks: also write the ranking fidelity as JSON here "
                             "(merged into an existing file under its score)")
    parser.add_argument("extra", nargs="*", help="more overrides for python -m benchmarks")
    args = parser.parse_args()
    benchmarks = args.benchmarks.split(",")
    overrides = list(args.extra)
    if args.budget_time is not None:
        overrides.append(f"budget.time={args.budget_time:g}")
    if args.n_workers is not None:
        overrides.append(f"n_workers={args.n_workers}")
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    for benchmark in benchmarks:
        subprocess.run(
            [sys.executable, "-m", "benchmarks", f"benchmark={benchmark}",
             f"method={args.methods}", f"seed=0..{args.seeds - 1}",
             f"results_dir={args.results}", *overrides],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    results = load_results([Path(args.results) / b for b in benchmarks])
    choose_scores(results, args.score)
    means: dict[tuple[str, float], pd.Series] = {}
    warnings = []
    figures = run_figures(results.runs)
    for benchmark in benchmarks:
        metric = results.runs.loc[results.runs.benchmark == benchmark, "metric"].iloc[0]
        score = results.score(benchmark)
        horizon = references(results)[benchmark].horizon
        print(f"\n### {benchmark}: mean incumbent {metric} ({score}) +- s.e. over "
              f"{args.seeds} seeds, budget {horizon:g} s\n")
        print("| method | " + " | ".join(f"{int(f * 100)}% of budget" for f in FRACTIONS)
              + " | worker utilisation | s per run |")  # fmt: skip
        print("|---|" + "---|" * (len(FRACTIONS) + 2))
        per_run = figures[figures["benchmark"] == benchmark].groupby("method")
        use = per_run["utilisation"].agg(["mean", "sem"])
        seconds = per_run["seconds"].mean()
        values = incumbents_at(results, benchmark)
        for fraction in FRACTIONS:
            means[(benchmark, fraction)] = values[fraction].groupby(level="method").mean()
        stats = {f: values[f].groupby(level="method").agg(["mean", "sem"]) for f in FRACTIONS}
        for method in means[(benchmark, 1.0)].sort_values().index:
            cells = [f"{stats[f].loc[method, 'mean']:.4f} +- {stats[f].loc[method, 'sem']:.4f}"
                     for f in FRACTIONS]
            cells += [f"{use.loc[method, 'mean']:.3f}", f"{seconds.loc[method]:.1f}"]
            print(f"| {method} | " + " | ".join(cells) + " |")
        size = table_size(benchmark)
        if size is not None:
            use = table_use(results, benchmark)
            print(f"\nTable use ({size} configurations): most configurations one run tried "
                  f"{int(use['most_configs_tried'].max())} "
                  f"({use['most_configs_tried'].max() / size:.0%}, "
                  f"{use['most_configs_tried'].idxmax()}); runs that ran out of configurations: "
                  f"{int(use['runs_out_of_configs'].sum())}")
            if use["runs_out_of_configs"].sum():
                out = use[use["runs_out_of_configs"] > 0].index
                warnings.append(f"{benchmark}: runs of {', '.join(out)} exhausted the table; "
                                "lower --budget-time")
    if len(benchmarks) == 2:
        a, b = benchmarks
        print(f"\n### Ranking fidelity: Kendall tau of method rankings, {a} vs {b} "
              f"({results.score(a)} vs {results.score(b)} scores)\n")
        print("| budget | tau | p | methods |")
        print("|---|---|---|---|")
        for fraction in FRACTIONS:
            x, y = means[(a, fraction)].align(means[(b, fraction)], join="inner")
            tau, p = kendalltau(x, y)
            print(f"| {int(fraction * 100)}% | {tau:.3f} | {p:.3g} | {len(x)} |")
        print(f"\nHalf-seed agreement (even vs odd seeds, {args.seeds // 2} or so each): how well "
              "each benchmark's ranking agrees with itself, against the cross-benchmark tau on "
              "the same halves (mean of a-even vs b-odd and a-odd vs b-even). Where the cross tau "
              "reaches the within taus, the remaining disagreement is seed noise.\n")
        print(f"| budget | within {a} | within {b} | across |")
        print("|---|---|---|---|")
        halves = {name: incumbents_at(results, name) for name in benchmarks}
        record = []
        for fraction in FRACTIONS:
            within, across = half_seed_taus(halves[a][fraction], halves[b][fraction])
            print(f"| {int(fraction * 100)}% | {within[0]:.3f} | {within[1]:.3f} | {across:.3f} |")
            x, y = means[(a, fraction)].align(means[(b, fraction)], join="inner")
            tau, p = kendalltau(x, y)
            record.append({"budget_share": fraction, "kendall_tau": float(tau), "p": float(p),
                           "methods": len(x), "half_seed_within": list(within),
                           "half_seed_across": across})
        if args.out is not None:
            write_fidelity(args.out, results, benchmarks, record, args.seeds)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
