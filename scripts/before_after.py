"""Two results folders of the same benchmarks side by side (e.g. before and after a change).

    python scripts/before_after.py BEFORE AFTER \
        [--horizons resnet8_cifar10=1800,resnet8_cifar10_tabular=180]

Per benchmark and method: the observed best val_error at 25/50/100% of the horizon (mean ± s.e. over
seeds; a run longer than the horizon is cut there, valid for methods that do not read their budget),
worker utilisation (busy epoch seconds / (n_workers x elapsed simulated time)) and real seconds per
run (run.json ``finished_at - started_at``). Reads results folders only, so runs written by an older
tunebench (without ``worker_utilisation`` in run.json) compare too. Method labels are cut at
``-budget_time`` (older cabo labels carried their interpolated settings).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

FRACTIONS = (0.25, 0.5, 1.0)


def load(root: Path, benchmark: str) -> dict[str, list[tuple[pd.DataFrame, float, float]]]:
    """Per method label: (reports, real seconds, utilisation) of every complete run."""
    out: dict[str, list[tuple[pd.DataFrame, float, float]]] = {}
    for path in sorted((root / benchmark).glob("*/seed=*/run.json")):
        info = json.loads(path.read_text())
        if info.get("status") != "complete":
            continue
        method = path.parent.parent.name.split("-budget_time")[0]
        reports = pd.read_parquet(path.parent / "reports.parquet",
                                  columns=["time", "val_error", "epoch_time"])  # fmt: skip
        seconds = (datetime.fromisoformat(info["finished_at"])
                   - datetime.fromisoformat(info["started_at"])).total_seconds()  # fmt: skip
        busy = reports["epoch_time"].sum() / (info["n_workers"] * info["summary"]["elapsed_time"])
        out.setdefault(method, []).append((reports, seconds, float(busy)))
    return out


def best_until(reports: pd.DataFrame, t: float) -> float:
    values = reports.loc[reports["time"] <= t, "val_error"]
    return float(values.min()) if len(values) else np.nan


def cell(values: list[float]) -> str:
    x = np.asarray([v for v in values if np.isfinite(v)])
    return f"{x.mean():.4f} ± {x.std(ddof=1) / np.sqrt(len(x)):.4f}" if len(x) > 1 else "n/a"


def mean_cell(values: list[float], digits: int) -> str:
    return f"{np.mean(values):.{digits}f}" if values else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--horizons", default="resnet8_cifar10=1800,resnet8_cifar10_tabular=180",
                        help="benchmark=seconds,... (the time the fractions refer to)")
    args = parser.parse_args()
    for item in args.horizons.split(","):
        benchmark, _, horizon = item.partition("=")
        before, after = load(args.before, benchmark), load(args.after, benchmark)
        print(f"\n### {benchmark}: observed best val_error, mean ± s.e. over seeds, "
              f"horizon {float(horizon):.0f} s\n")  # fmt: skip
        head = [f"{int(f * 100)}% {side}" for f in FRACTIONS for side in ("before", "after")]
        head += ["util before", "util after", "s/run before", "s/run after"]
        print("| method | " + " | ".join(head) + " |")
        print("|---|" + "---|" * len(head))
        for method in sorted(set(before) | set(after)):
            row = [method]
            for f in FRACTIONS:
                for side in (before, after):
                    row.append(cell([best_until(r, f * float(horizon)) for r, _, _ in
                                     side.get(method, [])]))  # fmt: skip
            for side in (before, after):
                row.append(mean_cell([u for _, _, u in side.get(method, [])], 3))
            for side in (before, after):
                row.append(mean_cell([s for _, s, _ in side.get(method, [])], 1))
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
