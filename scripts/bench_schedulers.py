"""Real seconds per simulated run of the multi-fidelity schedulers (sh, hyperband, ..., dehb).

Each method on a synthetic table of 200 configurations x 27 epochs, 4 workers, 3 simulated
hours; random search and ASHA as reference rows. A run is building the method plus the event
loop (no results folder). Also prints what the runs did: epochs, trials, how they ended, and the
mean final best validation error.

    python scripts/bench_schedulers.py [--repeats 20] [--methods sh hyperband ...]

The default methods are model-free (target: < 0.3 s per run). Model-based methods run with
``--methods``, e.g. ``--methods hypertune --repeats 5`` (target: < 20 s per run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.tabular import TabularObjective
from hpo_methods.registry import make_method
from tests.tables import synthetic_table

METHODS = ["sh", "hyperband", "async_hyperband", "median_stopping", "dehb", "random", "asha"]


def one_run(objective: TabularObjective, method_name: str, seed: int) -> dict:
    method = make_method(method_name, objective.problem(), seed)
    return SimulatedBackend(method, objective, 4, Budget(time=3 * 3600), seed).run().summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        objective = TabularObjective(synthetic_table(Path(tmp) / "t", 200, 27, seeds=1))
        metric = f"best_{objective.metric}"
        print(
            "| method | runs | median s/run | max s/run | epochs/run | trials/run "
            f"| ended by | mean {metric} |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name in args.methods:
            one_run(objective, name, 999)  # warm-up: imports, caches
            times, summaries = [], []
            for seed in range(args.repeats):
                start = time.perf_counter()
                summaries.append(one_run(objective, name, seed))
                times.append(time.perf_counter() - start)
            ended = Counter(s["ended_by"] for s in summaries)
            print(
                f"| {name} | {args.repeats} | {statistics.median(times):.3f} | {max(times):.3f} "
                f"| {statistics.mean(s['epochs'] for s in summaries):.0f} "
                f"| {statistics.mean(s['trials'] for s in summaries):.0f} "
                f"| {', '.join(f'{k} {v}' for k, v in sorted(ended.items()))} "
                f"| {statistics.mean(s[metric] for s in summaries):.4f} |"
            )


if __name__ == "__main__":
    main()
