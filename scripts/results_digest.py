"""A digest of every method's results, to check that a refactoring changed no decision.

    python scripts/results_digest.py [--benchmarks resnet8_cifar10,resnet8_cifar10_tabular]
        [--methods a,b] [--seeds 2] [--budget 600] > digest.txt

Runs each method in-process on the simulated backend (4 workers) and prints one line per
(benchmark, method, seed): the sha256 of its report and trial rows. Two digests of the same
arguments are identical exactly when every run made the same decisions at the same times.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.registry import make_objective
from benchmarks.simulated import SimulatedBackend
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method, method_names


def benchmark_spec(name: str) -> dict:
    import yaml

    path = Path(__file__).resolve().parents[1] / "conf" / "benchmark" / f"{name}.yaml"
    spec = yaml.safe_load(path.read_text())
    spec.pop("budget_time", None)
    return spec


def digest(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).values.tobytes()
                          + ",".join(frame.columns).encode()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="resnet8_cifar10,resnet8_cifar10_tabular")
    parser.add_argument("--methods", default=",".join(method_names()))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget", type=float, default=600.0)
    args = parser.parse_args()
    for benchmark in args.benchmarks.split(","):
        objective = make_objective(benchmark_spec(benchmark))
        for name in args.methods.split(","):
            for seed in range(args.seeds):
                method = make_method(name, objective.problem(), seed)
                result = SimulatedBackend(method, objective, 4, Budget(args.budget), seed).run()
                print(f"{benchmark} {name} seed={seed} reports={digest(result.reports)} "
                      f"trials={digest(result.trials)}", flush=True)


if __name__ == "__main__":
    main()
