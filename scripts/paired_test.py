"""One method against another on one benchmark: a paired one-sided Wilcoxon test over seeds.

    python scripts/paired_test.py RESULTS_DIR --benchmark resnet8_cifar10_mo \
        --method moasha --baseline morandom [--fractions 0.25,0.5,1] [--score true|observed]

At each fraction of the benchmark's time budget it compares the runs' scores on the seeds both
methods have, lower is better: the incumbent (single objective), the feasible incumbent
(constraints) or ``1 - hypervolume`` (several objectives; hypervolume is printed too), as
:mod:`analysis.multiobjective` defines them, from the noise-free values where the results carry
them (``--score``, as ``python -m analysis.figures``). The p-value is that of "``--method`` is
better" (scipy's exact Wilcoxon signed-rank test for 10 seeds), not corrected for multiple
comparisons.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.load import ResultsError, load_results
from analysis.multiobjective import HV_SCORE
from analysis.stats import wilcoxon_greater
from analysis.trajectories import SCORES, choose_scores, incumbent_grid, references


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--fractions", default="0.25,0.5,1")
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="incumbent score (default: true where the results carry it)")
    args = parser.parse_args()
    try:
        results = choose_scores(load_results(args.results), args.score)
        ref = references(results).get(args.benchmark)
        if ref is None:
            raise ResultsError(f"no runs of benchmark '{args.benchmark}'")
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    fractions = [float(f) for f in args.fractions.split(",")]
    curves = incumbent_grid(results, args.benchmark, np.array(fractions) * ref.horizon)
    runs = results.runs[results.runs["benchmark"] == args.benchmark]
    score = str(runs["metric"].iloc[0])
    hv = score == HV_SCORE
    print(f"{args.benchmark}: {args.method} vs {args.baseline}, score {score} "
          f"({results.score(args.benchmark)} values; lower is better)"
          + ("; hypervolume = 1 - score" if hv else ""))
    for j, fraction in enumerate(fractions):
        table = curves.iloc[:, j].unstack("method")[[args.method, args.baseline]].dropna()
        a, b = table[args.method].to_numpy(), table[args.baseline].to_numpy()
        p = wilcoxon_greater(b, a)
        shown = (lambda v: 1.0 - v) if hv else (lambda v: v)
        label = "hypervolume" if hv else score
        print(f"  {fraction:.0%} of {ref.horizon:g} s: {label} {args.method} "
              f"{shown(a.mean()):.4f} ± {a.std(ddof=1) / np.sqrt(len(a)):.4f}, {args.baseline} "
              f"{shown(b.mean()):.4f} ± {b.std(ddof=1) / np.sqrt(len(b)):.4f} "
              f"({len(a)} seeds; {args.method} better on {int(np.sum(a < b))}); "
              f"one-sided paired Wilcoxon p = {p:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
