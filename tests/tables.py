"""Small synthetic tables of learning curves that tests build for themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hpo_methods.space import SearchSpace
from surrogates.table import Table, write_table

SPACE_SPEC = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
}


def synthetic_table(
    path: Path,
    n_configs: int = 20,
    max_epochs: int = 9,
    seeds: int = 1,
    rng_seed: int = 0,
) -> Table:
    """Curves that fall towards a configuration-dependent floor; epoch time grows with 1/batch."""
    rng = np.random.default_rng(rng_seed)
    space = SearchSpace.from_spec(SPACE_SPEC)
    rows = []
    for cid in range(n_configs):
        config = space.sample(rng)
        floor = 0.1 + 0.6 * abs(np.log10(config["learning_rate"]) + 2.5) / 3
        speed = 0.2 + config["momentum"]
        epoch_time = 10.0 + 600.0 / config["batch_size"]
        for seed in range(seeds):
            noise = rng.normal(0, 0.01)
            cumulative = 0.0
            for epoch in range(1, max_epochs + 1):
                cumulative += epoch_time
                error = floor + (0.9 - floor) * np.exp(-speed * epoch) + noise
                rows.append(
                    {
                        "config_id": cid,
                        "seed": seed,
                        "epoch": epoch,
                        **config,
                        "val_error": float(np.clip(error, 0.0, 1.0)),
                        "train_loss": float(2.3 * np.exp(-speed * epoch)),
                        "epoch_time": epoch_time,
                        "cumulative_time": cumulative,
                    }
                )
    meta = {
        "name": "synthetic",
        "search_space": SPACE_SPEC,
        "max_epochs": max_epochs,
        "metric": "val_error",
        "metrics": ["val_error", "train_loss"],
        "provenance": {"command": "tests/tables.py synthetic_table", "synthetic": True},
    }
    return write_table(path, pd.DataFrame(rows), meta)
