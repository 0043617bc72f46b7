"""Real seconds per simulated run: the backend's own cost, after start-up.

``--benchmark synthetic`` (default): random search and ASHA on a synthetic table of 200
configurations x 27 epochs, 4 workers, 3 simulated hours (the settings Syne Tune's simulator needs
1.5-5 s for). ``--benchmark default``: the default benchmark (the shipped resnet8_cifar10 surrogate,
noisy curves), 4 workers, its default budget (1,800 simulated seconds), every model-free method.
Each run includes building the method, the event loop and writing the results folder (Parquet +
JSON). Prints a Markdown table (wall-clock seconds, and this process's CPU seconds, which other
processes on a busy machine do not inflate) and the 1-minute load average.

    python scripts/bench_simulator.py [--benchmark synthetic|default] [--repeats 20]
        [--methods random,asha]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.objective import Objective, resolve_path
from benchmarks.results import ResultsWriter
from benchmarks.simulated import SimulatedBackend
from benchmarks.surrogate import SurrogateObjective
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method
from tests.tables import synthetic_table

MODEL_FREE = "random,asha,sh,hyperband,async_hyperband,median_stopping"


def one_run(objective: Objective, method_name: str, seed: int, folder: Path, budget: float) -> dict:
    method = make_method(method_name, objective.problem(), seed)
    result = SimulatedBackend(method, objective, 4, Budget(time=budget), seed).run()
    writer = ResultsWriter(folder)
    writer.start("{}\n", {"seed": seed})
    writer.reports = result.reports
    writer.finish(result.trials, result.summary, "complete")
    return result.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--benchmark", choices=("synthetic", "default"), default="synthetic")
    parser.add_argument("--methods", help=f"comma-separated (default: random,asha; {MODEL_FREE} "
                        "with --benchmark default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.benchmark == "synthetic":
            objective: Objective = TabularObjective(
                synthetic_table(Path(tmp) / "t", 200, 27, seeds=1)
            )
            budget, methods = 3 * 3600.0, args.methods or "random,asha"
        else:
            objective = SurrogateObjective(
                resolve_path("surrogates/data/resnet8_cifar10/surrogate"),
                resolve_path("surrogates/data/resnet8_cifar10"),
            )
            budget, methods = 1800.0, args.methods or MODEL_FREE
        print(f"{args.benchmark}: {objective.name}, 4 workers, budget {budget:.0f} s")
        print("| method | runs | median s/run | max s/run | median CPU s/run | epochs/run "
              "| trials/run |")
        print("|---|---|---|---|---|---|---|")
        for name in methods.split(","):
            one_run(objective, name, 999, Path(tmp) / "warm", budget)  # warm-up: imports, caches
            times, cpu_times, summaries = [], [], []
            for seed in range(args.repeats):
                start, cpu_start = time.perf_counter(), time.process_time()
                folder = Path(tmp) / f"{name}{seed}"
                summaries.append(one_run(objective, name, seed, folder, budget))
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
            print(
                f"| {name} | {args.repeats} | {statistics.median(times):.3f} | {max(times):.3f} "
                f"| {statistics.median(cpu_times):.3f} "
                f"| {statistics.mean(s['epochs'] for s in summaries):.0f} "
                f"| {statistics.mean(s['trials'] for s in summaries):.0f} |"
            )
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
