"""Learning curve of the surrogate: held-out accuracy against the number of training configurations.

    python scripts/surrogate_learning_curve.py TABLE_DIR [--sizes 50 100 150 0] [--folds 5]
        [--fold-seeds 0 1 2] [--timing TIMING_DIR] [--out FILE.json] [--markdown FILE.md]

For every fold seed, a GroupKFold by configuration (as ``surrogates.validate``); in every fold the
surrogate (the shipped XGBoost settings) is fitted on a seeded random subset of ``size`` of the
training fold's configurations (0 = all of them) and scored on the whole held-out fold. Scores are
pooled over the folds of a seed (observed = mean over seeds, as in the validation report), then
averaged over the fold seeds. Prints one JSON line per size: final R^2, Spearman and Kendall,
Spearman at epoch 1 and at 25% and 50% of the epochs, the lowest checkpoint Spearman, and
epoch-time R^2 (rows; against the timing table with ``--timing``, as the shipped surrogate is
fitted), then a Markdown table of the same (how fidelity grows with the number of training
configurations; also written to ``--markdown``) with the goals of the validation report.
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
from surrogates.timing import measured_ids, rows_of
from surrogates.validate import (
    TARGETS,
    _observed,
    checkpoint_epochs,
    fold_assignment,
    observed_epoch_times,
    rank_scores,
)

COLUMNS = (  # (key, Markdown header)
    ("final_r2", "final R²"),
    ("final_spearman", "final ρ"),
    ("final_kendall", "final τ"),
    ("epoch_25pct_spearman", "epoch-25% ρ"),
    ("epoch_1_spearman", "epoch-1 ρ"),
    ("min_checkpoint_spearman", "lowest checkpoint ρ"),
    ("epoch_time_r2", "epoch-time R²"),
)
GOALS = {key: TARGETS[key] for key, _ in COLUMNS if key in TARGETS}  # surrogates.validate


def learning_point(
    table, settings, size: int, n_folds: int, fold_seed: int, timing=None
) -> dict[str, float]:
    """Scores of one fold seed with ``size`` training configurations per fold (0 = all)."""
    frame, configs = table.frame, table.configs
    ids = configs.index.to_numpy()
    pred = None
    rng = np.random.default_rng([fold_seed, size])
    for train_ids, test_ids in fold_assignment(ids, n_folds, fold_seed):
        if 0 < size < len(train_ids):
            train_ids = rng.choice(train_ids, size, replace=False)
        model = fit_model(table, frame[frame["config_id"].isin(train_ids)], settings,
                          timing=timing)
        out = model.mean_curves(configs.loc[test_ids])
        if pred is None:
            pred = np.full((len(ids), table.max_epochs, out.shape[2]), np.nan)
            outputs = model.target_names
        pred[np.searchsorted(ids, test_ids)] = out
    observed, _ = _observed(table, outputs)
    m, t = outputs.index(table.metric), outputs.index(TIME_TARGET)
    checks = {name: rank_scores(observed[:, e - 1, m], pred[:, e - 1, m], None)
              for name, e in checkpoint_epochs(table.max_epochs).items()}
    timed = measured_ids(ids, timing)  # every configuration without a timing table
    if timing is not None:
        times = observed_epoch_times(rows_of(timing, timed), timed)
    else:
        times = observed[:, :, t]
    predicted_times = pred[np.searchsorted(ids, timed), : times.shape[1], t]
    time_rows = rank_scores(times.ravel(), predicted_times.ravel(), None)
    return {"final_r2": checks["final"]["r2"], "final_spearman": checks["final"]["spearman"],
            "final_kendall": checks["final"]["kendall"],
            "epoch_1_spearman": checks["epoch_1"]["spearman"],
            "epoch_25pct_spearman": checks["epoch_25pct"]["spearman"],
            "epoch_50pct_spearman": checks["epoch_50pct"]["spearman"],
            "min_checkpoint_spearman": min(c["spearman"] for c in checks.values()),
            "epoch_time_r2": time_rows["r2"]}


def markdown(rows: list[dict], table, args) -> str:
    """The rows as a Markdown table (mean over fold seeds; ± sd over them for the final rho)
    with the goals (:data:`GOALS`)."""
    multi = int((table.frame.groupby("config_id")["seed"].nunique() >= 2).sum())
    lines = [
        f"Held-out fidelity against training-set size: table {table.name} "
        f"({len(table.configs)} configurations, {multi} with several seeds, sha256 "
        f"{table.checksum[:12]}...), {args.folds}-fold grouped CV, fold seeds "
        f"{' '.join(map(str, args.fold_seeds))}.",
        "",
        "| training configs | " + " | ".join(h for _, h in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for row in rows:
        spread = len(args.fold_seeds) > 1
        cells = [f"{row[k]:.3f}" + (f" ± {row['final_spearman_sd_over_seeds']:.3f}"
                                    if k == "final_spearman" and spread else "")
                 for k, _ in COLUMNS]
        lines.append(f"| {row['train_configs']} | " + " | ".join(cells) + " |")
    lines.append("| goal | " + " | ".join(
        f"≥ {GOALS[k]:.2f}" if k in GOALS else "—" for k, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 150, 0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", help="XGBoost settings file (default: the shipped one)")
    parser.add_argument("--timing", help="timing table: epoch times fitted to and scored on it")
    parser.add_argument("--out", help="also write the rows as JSON here")
    parser.add_argument("--markdown", help="also write the Markdown table here")
    args = parser.parse_args()
    table = load_table(args.table)
    timing = load_table(args.timing) if args.timing else None
    settings = load_params(args.params)
    rows = []
    for size in args.sizes:
        start = time.perf_counter()
        points = [learning_point(table, settings, size, args.folds, s, timing)
                  for s in args.fold_seeds]
        train = size or round(len(table.configs) * (args.folds - 1) / args.folds)
        row = {"train_configs": train, "fold_seeds": args.fold_seeds,
               **{k: round(float(np.mean([p[k] for p in points])), 4) for k in points[0]},
               "final_r2_sd_over_seeds": round(float(np.std([p["final_r2"] for p in points])), 4),
               "final_spearman_sd_over_seeds": round(
                   float(np.std([p["final_spearman"] for p in points])), 4),
               "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    text = markdown(rows, table, args)
    print("\n" + text, end="")
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
