"""When does each method run out of a finite table? The simulated time at which a run on a tabular
benchmark has tried every recorded configuration (so it cannot go on), per method over seeds.

    python scripts/table_exhaustion.py [--benchmark resnet8_cifar10_tabular] [--seeds 10]
        [--workers 4] [--methods asha,random,...]

Each run gets a budget far beyond what the table holds (``--cap``, default 20,000 s: about three
times what random search needs to try all 600 configurations of the shipped table on 4 workers,
6,450 s); a run ends by ``table_exhausted`` when every configuration was tried, by ``method``
when the method stopped earlier, or by ``time`` at the cap. Prints, per method, the end time
(min / median / max over seeds) and how its runs ended: a benchmark's default ``budget_time``
should lie below the earliest end of the methods that use configurations fastest, so that no run
ends early.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.registry import make_objective
from benchmarks.simulated import SimulatedBackend
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method, method_names

CONF = Path(__file__).resolve().parents[1] / "conf"


def end_of_run(benchmark: str, method: str, seed: int, workers: int, cap: float
               ) -> tuple[float, str, int]:  # fmt: skip
    spec = yaml.safe_load((CONF / "benchmark" / f"{benchmark}.yaml").read_text())
    spec = {k: v for k, v in spec.items() if k not in ("budget_time", "objectives", "constraints")}
    objective = make_objective(spec)
    settings = (yaml.safe_load((CONF / "method" / f"{method}.yaml").read_text()) or {}).get(
        "settings") or {}
    problem = objective.problem()
    result = SimulatedBackend(make_method(method, problem, seed, **settings), objective, workers,
                              Budget(time=cap), seed, problem=problem).run()  # fmt: skip
    tried = {tuple(sorted((k, v) for k, v in t.items() if k.startswith("config_")))
             for t in result.trials}  # fmt: skip
    exhausted = len(tried) >= len(objective.space.candidates)
    how = result.ended_by if result.ended_by != "method" else (
        "table_exhausted" if exhausted else "method")
    if how == "time" and exhausted:
        how = "time (every configuration tried, repeats at other budgets)"
    return result.summary["elapsed_time"], how, len(tried)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="resnet8_cifar10_tabular")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--methods", default=",".join(method_names()))
    parser.add_argument("--cap", type=float, default=20000.0, help="budget.time of each run")
    args = parser.parse_args()
    print(f"{args.benchmark}, {args.workers} workers, {args.seeds} seeds: simulated seconds until "
          "the run ended (min / median / max), and how")
    print("| method | min | median | max | ended by | configurations tried (median) |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        ends = [end_of_run(args.benchmark, method, s, args.workers, args.cap)
                for s in range(args.seeds)]
        times = [e[0] for e in ends]
        how = ", ".join(f"{k} {sum(e[1] == k for e in ends)}" for k in sorted({e[1] for e in ends}))
        print(f"| {method} | {min(times):.0f} | {statistics.median(times):.0f} | "
              f"{max(times):.0f} | {how} | {statistics.median(e[2] for e in ends):.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
