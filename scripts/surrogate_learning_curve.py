"""Learning curve of the surrogate: held-out accuracy against the number of training configurations.

    python scripts/surrogate_learning_curve.py TABLE_DIR [--sizes 50 100 150 0] [--folds 5]
        [--fold-seeds 0 1 2] [--out FILE.json]

For every fold seed, a GroupKFold by configuration (as ``surrogates.validate``); in every fold the
surrogate (the shipped XGBoost settings) is fitted on a seeded random subset of ``size`` of the
training fold's configurations (0 = all of them) and scored on the whole held-out fold. Scores are
pooled over the folds of a seed (observed = mean over seeds, as in the validation report), then
averaged over the fold seeds. Prints one JSON line per size: final R^2, Spearman and Kendall, the
lowest checkpoint Spearman, and epoch-time R^2 (rows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from surrogates.fit import fit_model, load_params
from surrogates.model import TIME_TARGET
from surrogates.table import load_table
from surrogates.validate import _observed, checkpoint_epochs, fold_assignment, rank_scores


def learning_point(table, settings, size: int, n_folds: int, fold_seed: int) -> dict[str, float]:
    """Scores of one fold seed with ``size`` training configurations per fold (0 = all)."""
    frame, configs = table.frame, table.configs
    ids = configs.index.to_numpy()
    pred = None
    rng = np.random.default_rng([fold_seed, size])
    for train_ids, test_ids in fold_assignment(ids, n_folds, fold_seed):
        if 0 < size < len(train_ids):
            train_ids = rng.choice(train_ids, size, replace=False)
        model = fit_model(table, frame[frame["config_id"].isin(train_ids)], settings)
        out = model.mean_curves(configs.loc[test_ids])
        if pred is None:
            pred = np.full((len(ids), table.max_epochs, out.shape[2]), np.nan)
            outputs = model.target_names
        pred[np.searchsorted(ids, test_ids)] = out
    observed, _ = _observed(table, outputs)
    m, t = outputs.index(table.metric), outputs.index(TIME_TARGET)
    checks = {name: rank_scores(observed[:, e - 1, m], pred[:, e - 1, m], None)
              for name, e in checkpoint_epochs(table.max_epochs).items()}
    time_rows = rank_scores(observed[:, :, t].ravel(), pred[:, :, t].ravel(), None)
    return {"final_r2": checks["final"]["r2"], "final_spearman": checks["final"]["spearman"],
            "final_kendall": checks["final"]["kendall"],
            "min_checkpoint_spearman": min(c["spearman"] for c in checks.values()),
            "epoch_time_r2": time_rows["r2"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 150, 0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", help="XGBoost settings file (default: the shipped one)")
    parser.add_argument("--out", help="also write the rows as JSON here")
    args = parser.parse_args()
    table = load_table(args.table)
    settings = load_params(args.params)
    rows = []
    for size in args.sizes:
        start = time.perf_counter()
        points = [learning_point(table, settings, size, args.folds, s) for s in args.fold_seeds]
        train = size or round(len(table.configs) * (args.folds - 1) / args.folds)
        row = {"train_configs": train, "fold_seeds": args.fold_seeds,
               **{k: round(float(np.mean([p[k] for p in points])), 4) for k in points[0]},
               "final_r2_sd_over_seeds": round(float(np.std([p["final_r2"] for p in points])), 4),
               "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
