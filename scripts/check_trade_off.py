"""Is a multi-objective or constrained benchmark definition worth running? Check it on the data.

    python scripts/check_trade_off.py [--table surrogates/data/resnet8_cifar10]
        [--timing surrogates/data/resnet8_cifar10_timing]
        [--cost-table surrogates/data/resnet8_cifar10_costs]
        [--surrogate surrogates/data/resnet8_cifar10/surrogate] [--samples 20000]
        [--objectives val_error,epoch_time] [--constraint epoch_time<=1.75]

Each configuration is summarised by its metrics at the last epoch (mean over seeds), its
mean epoch time (from the timing table where given) and its mean peak memory and latency (from
the cost-metrics table where given); a recorded configuration counts where every metric used is
measured (a timing table may time only part of the table). For
the table's recorded configurations, and for ``--samples`` random configurations on the
surrogate's mean curves, it prints how many
are on the Pareto front of the objectives (all minimised), and, for the constraint, the share of
configurations that violate it and the best feasible value of the first objective against the
best overall.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpo_methods.pareto import pareto_ranks
from hpo_methods.problem import Constraint
from surrogates.model import SurrogateModel
from surrogates.table import load_table


def recorded(table_path: Path, timing_path: Path | None,
             costs_path: Path | None = None) -> pd.DataFrame:
    """One row per recorded configuration: last-epoch metrics (seed mean), mean epoch time, mean
    per-configuration metrics of the cost-metrics table."""
    frame = load_table(table_path).frame
    last = frame[frame["epoch"] == frame["epoch"].max()]
    numeric = last.select_dtypes("number").drop(columns=["seed", "epoch"], errors="ignore")
    out = numeric.groupby("config_id").mean()
    timing = load_table(timing_path).frame if timing_path is not None else frame
    out["epoch_time"] = timing.groupby("config_id")["epoch_time"].mean()
    if costs_path is not None:
        costs = load_table(costs_path)
        for name in costs.config_metrics:
            out[name] = costs.frame.groupby("config_id")[name].mean()
    return out


def sampled(model_path: Path, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` random configurations on the surrogate's mean curves, summarised the same way."""
    model = SurrogateModel.load(model_path)
    rng = np.random.default_rng(seed)
    curves = model.mean_curves([model.space.sample(rng) for _ in range(n)])
    names = model.target_names
    out = pd.DataFrame(curves[:, -1, :], columns=names)
    out["epoch_time"] = curves[:, :, names.index("epoch_time")].mean(axis=1)
    return out


def report(name: str, data: pd.DataFrame, objectives: list[str], constraint: Constraint | None):
    used = [*objectives, *([constraint.metric] if constraint is not None else [])]
    data = data.dropna(subset=used)
    front = int(np.sum(pareto_ranks(data[objectives].to_numpy(dtype=float)) == 0))
    print(f"{name}: {len(data)} configurations, {front} on the Pareto front of "
          f"{' vs '.join(objectives)}")
    if constraint is not None:
        values = data[constraint.metric].to_numpy(dtype=float)
        ok = values <= constraint.bound if constraint.sense == "<=" else values >= constraint.bound
        first = data[objectives[0]]
        print(f"  {constraint}: {1 - ok.mean():.1%} infeasible; best {objectives[0]} feasible "
              f"{first[ok].min():.4f}, overall {first.min():.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=Path("surrogates/data/resnet8_cifar10"))
    parser.add_argument("--timing", type=Path,
                        default=Path("surrogates/data/resnet8_cifar10_timing"))
    parser.add_argument("--cost-table", type=Path,
                        default=Path("surrogates/data/resnet8_cifar10_costs"))
    parser.add_argument("--surrogate", type=Path,
                        default=Path("surrogates/data/resnet8_cifar10/surrogate"))
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--objectives", default="val_error,epoch_time")
    parser.add_argument("--constraint", default="epoch_time<=1.75")
    args = parser.parse_args()
    objectives = args.objectives.split(",")
    constraint = Constraint.parse(args.constraint) if args.constraint else None
    costs = args.cost_table if args.cost_table.exists() else None
    report("recorded", recorded(args.table, args.timing, costs), objectives, constraint)
    if args.samples:
        report("surrogate", sampled(args.surrogate, args.samples), objectives, constraint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
