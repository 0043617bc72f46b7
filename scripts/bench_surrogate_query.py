"""Time one whole-curve query of the surrogate objective (``start_trial``), mean over 1000 configs.

    python scripts/bench_surrogate_query.py [MODEL_DIR] [--configs 1000] [--repeats 5]

Without MODEL_DIR it fits a development surrogate of a noisy synthetic table (250 configurations,
20 epochs) with the shipped XGBoost settings in a temporary folder first. Prints JSON: per query
(mean and median over the configurations, best of ``repeats`` passes, in microseconds) for mean
and noisy curves read to the last epoch, for the tree walk alone (``CurveForest.curve``, what a
query uses) and for XGBoost's ``inplace_predict`` on the same rows (the same numbers, for
comparison), plus the 1-minute load average (wall-clock figures are only comparable on a quiet
machine; ``cpu_mean`` is this process's CPU time per query, which preemption by other processes
does not inflate).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.objective import TrialRun
from benchmarks.surrogate import SurrogateObjective
from surrogates.fit import fit_surrogate


def _time_per_call(fn, items: list, repeats: int) -> dict[str, float]:
    """Microseconds per call, best of ``repeats`` passes over ``items``: mean and median wall
    time, and mean CPU time of this process (what a query costs when the machine is not shared).
    """
    best = {"mean": float("inf"), "median": float("inf"), "cpu_mean": float("inf")}
    for _ in range(repeats):
        times = np.empty(len(items))
        cpu_start = time.process_time()
        for i, item in enumerate(items):
            start = time.perf_counter()
            fn(i, item)
            times[i] = time.perf_counter() - start
        cpu = (time.process_time() - cpu_start) / len(items)
        best["mean"] = min(best["mean"], times.mean() * 1e6)
        best["median"] = min(best["median"], float(np.median(times)) * 1e6)
        best["cpu_mean"] = min(best["cpu_mean"], cpu * 1e6)
    return {k: round(v, 1) for k, v in best.items()}


def read_whole(run: TrialRun, epochs: int) -> None:
    """Read every epoch of a trial (a surrogate trial predicts its curve as it is read)."""
    for _ in range(epochs):
        run.next_epoch()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="surrogate folder (default: a dev fit)")
    parser.add_argument("--configs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from tests.tables import noisy_synthetic_table

            table = noisy_synthetic_table(Path(tmp) / "table", 250, 20, repeated=25)
            model_dir = Path(tmp) / "surrogate"
            fit_surrogate(table, model_dir)
        objective = SurrogateObjective(model_dir)
        rng = np.random.default_rng(0)
        configs = [objective.space.sample(rng) for _ in range(args.configs)]
        model = objective.model
        rows = [model.encoder.curve_rows(c, model.max_epochs) for c in configs]
        result = {
            "model": str(model_dir),
            "epochs_per_curve": model.max_epochs,
            "trees": model.booster.num_boosted_rounds() * len(model.targets),
            "configs": len(configs),
        }
        for noise in (False, True):
            objective.noise = noise
            key = "noisy" if noise else "mean"
            result[f"start_trial_{key}_us"] = _time_per_call(
                lambda i, c: read_whole(objective.start_trial(i, c, i), model.max_epochs),
                configs,
                args.repeats,
            )
        features = [model.encoder.encode_config(c) for c in configs]
        epochs = np.arange(1, model.max_epochs + 1, dtype=float)
        result["forest_curve_only_us"] = _time_per_call(
            lambda i, f: model.forest.curve(f, epochs), features, args.repeats
        )
        result["xgboost_inplace_predict_us"] = _time_per_call(
            lambda i, x: model.booster.inplace_predict(x, validate_features=False), rows,
            args.repeats,
        )
        result["machine"] = {"cpu": platform.processor() or platform.machine(),
                             "cores": os.cpu_count(), "load_1min": os.getloadavg()[0]}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
