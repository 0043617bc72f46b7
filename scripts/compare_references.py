"""Our implementations against the field's reference libraries, side by side, paired by seed.

    python scripts/compare_references.py --benchmarks resnet8_cifar10,resnet8_cifar10_tabular \
        --seeds 10 --results results/references [--pairs tpe:optuna_tpe,...] [--no-run]

Runs ``python -m benchmarks benchmark=<b> method=<m> seed=0..<seeds-1>`` for every method of
the pairs (complete runs are reused: rerunning resumes), cheapest methods first, then prints per
benchmark and pair the mean best val_error +- standard error at 25%, 50% and 100% of the time
budget, the paired Wilcoxon signed-rank p-value over seeds (``scipy.stats.wilcoxon``, two-sided;
a seed counts only where both methods have a complete run) and the real seconds per run
(``finished_at - started_at`` of ``run.json``, mean over seeds). Needs the optuna, smac and dehb
extras. Default pairs: tpe vs Optuna's TPE, dehb vs the dehb package, bo vs SMAC3's HPO facade
and Optuna's GP sampler, hyperband and bohb vs SMAC3's Hyperband facade.

Reading the p-values: two methods with the same seed share only the objective's noise streams
(one per trial id); their configurations are drawn independently, so "paired by seed" pairs
little, and with 36 tests per table a p near 0.01 is weak evidence (no multiple-testing
correction is applied). On the tabular benchmark the libraries see the table's recorded
configurations as one categorical (hpo_methods/adapters/common.py), so their models cannot
generalise between configurations while ours score the candidates in the continuous space.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_methods import FRACTIONS, incumbents_at, run_figures

from analysis.load import load_results
from analysis.trajectories import SCORES, choose_scores

PAIRS = (
    "tpe:optuna_tpe,dehb:dehb_pkg,bo:smac_hpo,bo:optuna_gp,"
    "hyperband:smac_hyperband,bohb:smac_hyperband"
)
# Real seconds per run measured here (default benchmark): run the quick ones first.
ORDER = ("hyperband", "smac_hyperband", "tpe", "optuna_tpe", "dehb", "dehb_pkg", "bohb",
         "smac_mf", "bo", "smac_hpo", "optuna_gp")  # fmt: skip
ALPHA = 0.05


def run_methods(benchmarks: list[str], methods: list[str], seeds: int, results: str,
                extra: list[str]) -> None:
    """Every method on every benchmark, ``seeds`` seeds each (the sweep skips complete runs)."""
    ordered = sorted(methods, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER))
    for method in ordered:
        for benchmark in benchmarks:
            print(f"running {method} on {benchmark} ...", file=sys.stderr, flush=True)
            subprocess.run(
                [sys.executable, "-m", "benchmarks", f"benchmark={benchmark}",
                 f"method={method}", f"seed=0..{seeds - 1}", f"results_dir={results}", *extra],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip


def paired_p(ours: pd.Series, ref: pd.Series) -> tuple[float, int]:
    """Two-sided Wilcoxon signed-rank p over the seeds both have; 1.0 if they never differ."""
    a, b = ours.align(ref, join="inner")
    keep = a.notna() & b.notna()
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return float("nan"), 0
    if np.allclose(a.to_numpy(), b.to_numpy()):
        return 1.0, len(a)
    return float(wilcoxon(a.to_numpy(), b.to_numpy()).pvalue), len(a)


def cell(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) == 0:
        return "n/a"
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{values.mean():.4f} ± {sem:.4f}"


def report(benchmarks: list[str], pairs: list[tuple[str, str]], results: str,
           score: str | None) -> None:
    """Print one table per benchmark: each pair at 25/50/100% of the budget, p, seconds/run."""
    folders = [Path(results) / b for b in benchmarks if (Path(results) / b).is_dir()]
    data = load_results(folders)
    choose_scores(data, score)
    seconds = run_figures(data.runs).set_index(["benchmark", "method", "seed"])["seconds"]
    for benchmark in benchmarks:
        if benchmark not in data.benchmarks:
            continue
        best = incumbents_at(data, benchmark)  # rows (method, seed), a column per fraction
        print(f"\n### {benchmark}: incumbent val_error ({data.score(benchmark)}), mean ± s.e. "
              f"over seeds (p: paired Wilcoxon, two-sided)\n")  # fmt: skip
        head = " | ".join(f"{int(f * 100)}%: ours | {int(f * 100)}%: ref | p" for f in FRACTIONS)
        print(f"| ours | reference | n | {head} | s/run ours | s/run ref |")
        print("|---|---|---|" + "---|---|---|" * len(FRACTIONS) + "---|---|")
        for ours, ref in pairs:
            cells, n = [], 0
            for f in FRACTIONS:
                a, b = by_seed(best[f], ours), by_seed(best[f], ref)
                p, n = paired_p(a, b)
                mark = ""
                if p < ALPHA:
                    mark = " (ref better)" if b.mean() < a.mean() else " (ours better)"
                cells += [cell(a), cell(b), f"{p:.3g}{mark}"]
            secs = [cell_seconds(seconds, benchmark, m) for m in (ours, ref)]
            print(f"| {ours} | {ref} | {n} | " + " | ".join(cells) + f" | {secs[0]} | {secs[1]} |")


def by_seed(values: pd.Series, method: str) -> pd.Series:
    """One method's values of a (method, seed)-indexed series, indexed by seed."""
    if method not in values.index.get_level_values(0):
        return pd.Series(dtype=float)
    return values.xs(method, level=0)


def pick(series: pd.Series, benchmark: str, method: str) -> pd.Series:
    """The values of one benchmark and method, indexed by seed."""
    frame = series.rename("value").reset_index()
    frame = frame[(frame["benchmark"] == benchmark) & (frame["method"] == method)]
    return frame.set_index("seed")["value"]


def cell_seconds(seconds: pd.Series, benchmark: str, method: str) -> str:
    values = pick(seconds, benchmark, method)
    return f"{values.mean():.0f}" if len(values) else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="resnet8_cifar10,resnet8_cifar10_tabular")
    parser.add_argument("--pairs", default=PAIRS, help="ours:reference,... ")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--results", default="results/references")
    parser.add_argument("--no-run", action="store_true", help="only report what is there")
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="incumbent score (default: true where the results carry it)")
    parser.add_argument("extra", nargs="*", help="more overrides for every run")
    args = parser.parse_args()
    benchmarks = args.benchmarks.split(",")
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    if not args.no_run:
        methods = sorted({m for pair in pairs for m in pair})
        run_methods(benchmarks, methods, args.seeds, args.results, args.extra)
    report(benchmarks, pairs, args.results, args.score)


if __name__ == "__main__":
    main()
