"""Timing tables: the epoch-time target fitted to (and scored on) separately measured times."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surrogates.fit import fit_surrogate, load_params
from surrogates.model import SurrogateError, SurrogateModel
from surrogates.table import Table, write_table
from surrogates.timing import check_timing, time_noise
from surrogates.validate import cross_validate
from tests.tables import synthetic_table


def clean_time(config: dict) -> float:
    """The 'true' cost of a configuration in the timing table: batch size and activation."""
    slow = 1.7 if config["activation"] == "Softplus" else 1.0
    return (0.5 + 16.0 / config["batch_size"]) * slow


def loaded_table(path: Path) -> Table:
    """A table whose epoch times are load noise only (as on a busy machine)."""
    base = synthetic_table(path / "base", n_configs=40, max_epochs=6)
    frame = base.frame.copy()
    rng = np.random.default_rng(5)
    load = rng.choice([2.0, 5.0], size=frame["config_id"].nunique())  # busy or very busy
    frame["epoch_time"] = load[frame["config_id"]] * np.exp(rng.normal(0, 0.1, len(frame)))
    frame["cumulative_time"] = frame.groupby(["config_id", "seed"])["epoch_time"].cumsum()
    return write_table(path / "table", frame, base.meta)


def timing_table(path: Path, table: Table, drop: int | None = None, bump: int | None = None):
    """Two epochs, two seeds per configuration, times = clean_time * small jitter."""
    rng = np.random.default_rng(9)
    rows = []
    for cid, config in zip(table.configs.index, table.config_dicts(), strict=True):
        if cid == drop:
            continue
        if cid == bump:
            config = {**config, "batch_size": config["batch_size"] + 1}
        for seed in range(2):
            persistent = rng.normal(0, 0.02)
            cumulative = 0.0
            for epoch in (1, 2):
                t = clean_time(config) * math.exp(persistent + rng.normal(0, 0.01))
                cumulative += t
                rows.append({"config_id": cid, "seed": seed, "epoch": epoch, **config,
                             "val_error": 0.9, "train_loss": 2.3, "epoch_time": t,
                             "cumulative_time": cumulative})
    meta = {**table.meta, "name": "synthetic_timing", "max_epochs": 2}
    return write_table(path, pd.DataFrame(rows), meta)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[Table, Table]:
    path = tmp_path_factory.mktemp("timing")
    table = loaded_table(path)
    return table, timing_table(path / "timing", table)


def test_the_epoch_time_target_comes_from_the_timing_table(tables, tmp_path) -> None:
    table, timing = tables
    model = fit_surrogate(table, tmp_path / "s", timing=timing)
    assert model.manifest["timing"]["sha256"] == timing.checksum
    assert model.manifest["timing"]["configs"] == 40
    loaded = SurrogateModel.load(tmp_path / "s", table)
    curves = loaded.mean_curves(table.configs)
    predicted = curves[:, :, -1].mean(axis=1)
    truth = np.array([clean_time(c) for c in table.config_dicts()])
    assert np.allclose(predicted, truth, rtol=0.15)
    target = next(t for t in loaded.targets if t.name == "epoch_time")
    assert target.lo >= truth.min() * 0.9 and target.hi <= truth.max() * 1.1


def test_validation_scores_epoch_time_against_the_timing_table(tables) -> None:
    table, timing = tables
    settings = load_params()
    with_timing = cross_validate(table, settings, n_folds=4, noisy=False, timing=timing)
    without = cross_validate(table, settings, n_folds=4, noisy=False)
    assert "timing table synthetic_timing" in with_timing["epoch_time"]["observed"]
    # 30 training configurations per fold: good, not perfect (measured R^2 0.78, rho 0.94)
    assert with_timing["epoch_time"]["per_config_mean"]["r2"] > 0.7
    assert with_timing["epoch_time"]["per_config_mean"]["spearman"] > 0.9
    assert without["epoch_time"]["per_config_mean"]["r2"] < 0.0  # load noise is not learnable
    ceiling = with_timing["epoch_time"]["noise_ceiling"]
    assert ceiling["configs"] == 40 and len(ceiling["pairs"]) == 2


def test_time_noise_by_hand() -> None:
    # residuals from the per-configuration mean over 2 seeds, log scale: +-d per epoch
    rows = []
    for cid, (d1, d2) in enumerate([(0.1, 0.1), (0.2, -0.2)]):
        for seed, sign in ((0, 1), (1, -1)):
            for epoch, d in ((1, d1), (2, d2)):
                rows.append({"config_id": cid, "seed": seed, "epoch": epoch,
                             "epoch_time": math.exp(sign * d)})
    noise = time_noise(pd.DataFrame(rows), timing_epochs=2, max_epochs=5)
    # 4 curves, 2 configurations: 2 degrees of freedom; squares 4*0.01 + 4*0.04 over 2 dof x 2
    assert noise.sigma == pytest.approx([math.sqrt(0.2 / 4)] * 5)
    # lag-1: sum(r1 r2) = 2*0.01 - 2*0.04 < 0 -> rho clipped to 0
    assert noise.rho == 0.0 and noise.phi == 0.0


def test_a_timing_table_missing_a_configuration_is_refused(tables, tmp_path) -> None:
    table, _ = tables
    short = timing_table(tmp_path / "t", table, drop=7)
    with pytest.raises(SurrogateError, match=r"1 of 40 configurations .* not timed \(config_id 7"):
        check_timing(table, short)


def test_a_timing_table_of_another_design_is_refused(tables, tmp_path) -> None:
    table, _ = tables
    other = timing_table(tmp_path / "t", table, bump=3)
    with pytest.raises(SurrogateError, match="config_id 3 has batch_size="):
        fit_surrogate(table, tmp_path / "s", timing=other)


def test_the_tabular_benchmark_replays_timing_table_epoch_times(tables) -> None:
    from benchmarks.tabular import TabularObjective

    table, timing = tables
    objective = TabularObjective(table, timing=timing)
    config = table.config_dicts()[4]
    run = objective.start_trial(0, config, seed=0)
    times = [run.next_epoch().epoch_time for _ in range(table.max_epochs)]
    expected = timing.frame[timing.frame["config_id"] == 4]["epoch_time"].mean()
    assert times == [pytest.approx(expected, rel=1e-12)] * table.max_epochs
    assert objective.describe()["timing_sha256"] == timing.checksum
