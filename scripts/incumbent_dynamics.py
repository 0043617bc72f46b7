"""How the observed incumbent of noisy runs moves: the winner's curse and frozen incumbents.

    python scripts/incumbent_dynamics.py RESULTS [--metric val_error]

Per run (benchmark, method, seed): the number of reports, the lowest observed report and how
many reports tie at it, when the observed incumbent (best-so-far report) last changed and how
often it changed, and the noise-free value (``true_<metric>``, where the results carry it) of the
final incumbent next to the best noise-free value among everything the run reported. Then the
per-method medians. Incumbents that stop changing early while many ties sit at the lowest value
point to a floor in the noise; a lowest report far below the incumbent's true value is the
winner's curse that ``--score true`` leaves out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.load import load_results


def dynamics(reports: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per run (see the module docstring)."""
    rows = []
    true_column = f"true_{metric}"
    for (benchmark, method, seed), run in reports.groupby(["benchmark", "method", "seed"]):
        run = run.sort_values("time", kind="stable")
        values = run[metric].to_numpy(dtype=float)
        ok = np.isfinite(values)
        values, times = values[ok], run["time"].to_numpy(dtype=float)[ok]
        if not len(values):
            continue
        best = np.minimum.accumulate(values)
        changed = np.r_[True, best[1:] < best[:-1]]
        truth = (run[true_column].to_numpy(dtype=float)[ok] if true_column in run
                 else np.full(len(values), np.nan))
        rows.append({
            "benchmark": benchmark, "method": method, "seed": seed, "reports": len(values),
            "lowest_report": values.min(), "ties_at_lowest": int((values == values.min()).sum()),
            "last_change_s": times[changed][-1], "changes": int(changed.sum()),
            "incumbent_true": truth[int(np.argmin(values))], "best_true": np.nanmin(truth)
            if np.isfinite(truth).any() else np.nan,
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--metric", default="val_error")
    args = parser.parse_args(argv)
    table = dynamics(load_results(args.results).reports, args.metric)
    if table.empty:
        raise SystemExit(f"error: no reports of '{args.metric}' under {args.results}")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(3).to_string(index=False))
        columns = ["lowest_report", "ties_at_lowest", "last_change_s", "changes",
                   "incumbent_true", "best_true"]
        print("\nmedians per method")
        print(table.groupby(["benchmark", "method"])[columns].median().round(3).to_string())


if __name__ == "__main__":
    main()
