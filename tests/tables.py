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


NOISY_SPACE_SPEC = {
    **SPACE_SPEC,
    "weight_decay": {"type": "loguniform", "low": 1e-9, "high": 1e-2},
}
_ACTIVATION = {"ReLU": (0.0, 1.0), "LeakyReLU": (-0.02, 1.05), "Softplus": (0.05, 1.2)}


def noisy_synthetic_table(
    path: Path,
    n_configs: int = 60,
    max_epochs: int = 12,
    repeated: int = 10,
    seeds: int = 3,
    rng_seed: int = 0,
) -> Table:
    """Harder curves for surrogate work: the first ``repeated`` configurations have ``seeds``
    seeds, the others one. Seed noise is a per-curve offset plus AR(1) jitter; low weight decay
    overfits (curves rise again); the activation shifts error and epoch time; epoch times vary
    per curve and per epoch (epoch 1 slower); very high learning rates diverge (train_loss NaN).
    """
    rng = np.random.default_rng(rng_seed)
    space = SearchSpace.from_spec(NOISY_SPACE_SPEC)
    rows = []
    for cid in range(n_configs):
        c = space.sample(rng)
        lr, mom, bs = c["learning_rate"], c["momentum"], c["batch_size"]
        shift, slow = _ACTIVATION[c["activation"]]
        best_lr = -2.3 + 0.5 * np.log10(bs / 32)
        floor = 0.15 + 0.05 * (np.log10(lr) - best_lr) ** 2 + 0.15 * (mom - 0.9) ** 2 + shift
        floor = min(floor, 0.85)
        speed = 0.05 + 0.8 * lr / (lr + 3e-4) * (0.5 + mom)
        overfit = 0.006 * max(0.0, 1.0 - np.log10(c["weight_decay"] / 1e-9) / 5)
        diverged = lr * (1 + 10 * mom) > 0.6
        base_time = (2.0 + 200.0 / bs) * slow
        for seed in range(seeds if cid < repeated else 1):
            offset, jitter = rng.normal(0, 0.015), 0.0
            curve_time = base_time * np.exp(rng.normal(0, 0.04))
            cumulative = 0.0
            for epoch in range(1, max_epochs + 1):
                jitter = 0.7 * jitter + rng.normal(0, 0.007)
                epoch_time = curve_time * np.exp(rng.normal(0, 0.02)) * (1.3 if epoch == 1 else 1)
                cumulative += epoch_time
                t_min = 3.0 / speed
                error = (
                    floor
                    + (0.9 - floor) * np.exp(-speed * epoch)
                    + overfit * max(0.0, epoch - t_min)
                    + offset
                    + jitter
                )
                loss = 2.3 * np.exp(-1.2 * speed * epoch) + 0.05 + abs(rng.normal(0, 0.01))
                if diverged:
                    error, loss = 0.9 + rng.normal(0, 0.005), np.nan
                rows.append(
                    {
                        "config_id": cid,
                        "seed": seed,
                        "epoch": epoch,
                        **c,
                        "val_error": float(np.clip(error, 0.0, 1.0)),
                        "train_loss": float(loss),
                        "epoch_time": float(epoch_time),
                        "cumulative_time": float(cumulative),
                    }
                )
    meta = {
        "name": "noisy_synthetic",
        "search_space": NOISY_SPACE_SPEC,
        "max_epochs": max_epochs,
        "metric": "val_error",
        "metrics": ["val_error", "train_loss"],
        "provenance": {"command": "tests/tables.py noisy_synthetic_table", "synthetic": True},
    }
    return write_table(path, pd.DataFrame(rows), meta)
