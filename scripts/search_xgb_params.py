"""Choose the surrogate's XGBoost settings by a small search with configuration-grouped CV.

    python scripts/search_xgb_params.py TABLE_DIR [--candidates 10] [--folds 3] [--write]

Every candidate is scored by held-out validation (``surrogates.validate.cross_validate``: whole
learning curves held out, GroupKFold by config_id) with a fold seed (1) different from the one the
validation report uses (0). Score = final-epoch Spearman + Kendall + R^2 + the lowest Spearman over
the checkpoints of the objective metric (the issue's targets, equally weighted); among candidates
within 0.02 of the best score the smallest model (rounds x depth) wins, for query speed.
``--write`` fixes the winner in ``surrogates/xgb_params.json`` with a record of the search;
``surrogates.fit`` reads it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from surrogates.fit import DEFAULT_PARAMS, load_params
from surrogates.table import load_table
from surrogates.validate import cross_validate

GRID = {
    "max_depth": [4, 6, 8],
    "eta": [0.05, 0.1],
    "num_boost_round": [100, 200],
    "min_child_weight": [1, 5],
}
FIXED = {"subsample": 0.8, "colsample_bytree": 1.0, "reg_lambda": 1.0}
TOLERANCE = 0.02  # score differences below this are noise: prefer the smaller, faster model


def candidates(n: int, seed: int = 0) -> list[dict]:
    """The current settings first, then a seeded sample of the grid without repeats."""
    current = load_params()
    first = {**current["params"], "num_boost_round": current["num_boost_round"]}
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    order = np.random.default_rng(seed).permutation(len(grid))
    chosen = [first]
    for i in order:
        c = {**FIXED, **grid[i]}
        if c not in chosen:
            chosen.append(c)
        if len(chosen) >= n:
            break
    return chosen


def score(report: dict) -> float:
    t = report["targets"]
    parts = [t["final_spearman"]["value"], t["final_kendall"]["value"], t["final_r2"]["value"],
             t["min_checkpoint_spearman"]["value"]]
    return float(sum(p if p is not None else -1.0 for p in parts))


def choose(results: list[dict], tolerance: float = TOLERANCE) -> dict:
    """The smallest model (rounds x depth: query time) within ``tolerance`` of the best score."""
    top = max(r["score"] for r in results)
    close = [r for r in results if r["score"] >= top - tolerance]
    return min(close, key=lambda r: (r["settings"]["num_boost_round"]
                                     * r["settings"]["params"]["max_depth"], -r["score"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="fold seed (validation uses 0)")
    parser.add_argument("--write", action="store_true", help=f"fix the winner in {DEFAULT_PARAMS}")
    parser.add_argument("--timing", help="timing table (epoch times; see surrogates/timing.py)")
    parser.add_argument("--cost-table", dest="costs", metavar="TABLE",
                        help="cost-metrics table (peak memory, latency; see surrogates/timing.py)")
    args = parser.parse_args()
    table = load_table(args.table)
    timing = load_table(args.timing) if args.timing else None
    costs = load_table(args.costs) if args.costs else None
    results = []
    for c in candidates(args.candidates):
        settings = {"params": {k: v for k, v in c.items() if k != "num_boost_round"},
                    "num_boost_round": c["num_boost_round"]}
        start = time.perf_counter()
        report = cross_validate(table, settings, args.folds, args.seed, noisy=False,
                                timing=timing, costs=costs)
        t = report["targets"]
        row = {"settings": settings, "score": score(report),
               "final_spearman": t["final_spearman"]["value"],
               "final_kendall": t["final_kendall"]["value"],
               "final_r2": t["final_r2"]["value"],
               "min_checkpoint_spearman": t["min_checkpoint_spearman"]["value"],
               "epoch_time_r2": t["epoch_time_r2"]["value"],
               "seconds": round(time.perf_counter() - start, 1)}
        results.append(row)
        print(json.dumps(row), flush=True)
    best = choose(results)
    print("best:", json.dumps(best))
    if args.write:
        record = {
            **best["settings"],
            "selected_by": {
                "command": "python scripts/search_xgb_params.py " + " ".join(sys.argv[1:]),
                "table": table.name, "table_sha256": table.checksum,
                "folds": args.folds, "fold_seed": args.seed,
                "score": "final spearman + kendall + r2 + min checkpoint spearman",
                "rule": f"smallest rounds x depth within {TOLERANCE} of the best score",
                "results": results,
            },
        }
        Path(DEFAULT_PARAMS).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        print(f"wrote {DEFAULT_PARAMS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
