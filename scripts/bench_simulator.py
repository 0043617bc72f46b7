"""Real seconds per simulated run: the backend's own cost, after start-up.

Random search and ASHA on a synthetic table of 200 configurations x 27 epochs, 4 workers,
3 simulated hours (the settings Syne Tune's simulator needs 1.5-5 s for). Each run includes
building the method, the event loop and writing the results folder (Parquet + JSON).

    python scripts/bench_simulator.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results import ResultsWriter
from benchmarks.simulated import SimulatedBackend
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method
from tests.tables import synthetic_table


def one_run(objective: TabularObjective, method_name: str, seed: int, folder: Path) -> dict:
    method = make_method(method_name, objective.space, objective.max_epochs, seed)
    result = SimulatedBackend(method, objective, 4, Budget(time=3 * 3600), seed).run()
    writer = ResultsWriter(folder)
    writer.start("{}\n", {"seed": seed})
    writer.reports = result.reports
    writer.finish(result.trials, result.summary, "complete")
    return result.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        objective = TabularObjective(synthetic_table(Path(tmp) / "t", 200, 27, seeds=1))
        print("| method | runs | median s/run | max s/run | epochs/run | trials/run |")
        print("|---|---|---|---|---|---|")
        for name in ("random", "asha"):
            one_run(objective, name, 999, Path(tmp) / "warm")  # warm-up: imports, caches
            times, summaries = [], []
            for seed in range(args.repeats):
                start = time.perf_counter()
                summaries.append(one_run(objective, name, seed, Path(tmp) / f"{name}{seed}"))
                times.append(time.perf_counter() - start)
            print(
                f"| {name} | {args.repeats} | {statistics.median(times):.3f} | {max(times):.3f} "
                f"| {statistics.mean(s['epochs'] for s in summaries):.0f} "
                f"| {statistics.mean(s['trials'] for s in summaries):.0f} |"
            )


if __name__ == "__main__":
    main()
