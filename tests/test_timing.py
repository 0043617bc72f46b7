"""Timing tables: the epoch-time target fitted to (and scored on) separately measured times."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from surrogates.fit import fit_surrogate, load_params, masked_squared_error
from surrogates.model import SurrogateError, SurrogateModel
from surrogates.table import Table, write_table
from surrogates.timing import check_timing, log_noise
from surrogates.validate import cross_validate
from tests.tables import synthetic_table

COSTS = ("peak_memory_mb", "latency_ms")


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


def clean_memory(config: dict) -> float:
    """The 'true' peak memory (MiB): activations per image, more without in-place activations."""
    per_image = 0.9 if config["activation"] == "Softplus" else 0.65
    return 0.5 + per_image * config["batch_size"]


LATENCY = {"ReLU": 1.0, "LeakyReLU": 1.1, "Softplus": 1.6}  # ms; per curve jitter 5%


def timing_table(path: Path, table: Table, drop: Collection[int] = (), bump: int | None = None,
                 costs: bool = False):
    """Two epochs, two seeds per configuration (but those in ``drop``), times = clean_time *
    small jitter; with ``costs`` the per-configuration metrics too (memory exact, latency with
    seed noise)."""
    rng = np.random.default_rng(9)
    rows = []
    for cid, config in zip(table.configs.index, table.config_dicts(), strict=True):
        if cid in drop:
            continue
        if cid == bump:
            config = {**config, "batch_size": config["batch_size"] + 1}
        for seed in range(2):
            persistent = rng.normal(0, 0.02)
            latency = LATENCY[config["activation"]] * math.exp(rng.normal(0, 0.05))
            cumulative = 0.0
            for epoch in (1, 2):
                t = clean_time(config) * math.exp(persistent + rng.normal(0, 0.01))
                cumulative += t
                rows.append({"config_id": cid, "seed": seed, "epoch": epoch, **config,
                             "val_error": 0.9, "train_loss": 2.3, "epoch_time": t,
                             "cumulative_time": cumulative})
                if costs:
                    rows[-1].update(peak_memory_mb=clean_memory(config), latency_ms=latency)
    meta = {**table.meta, "name": "synthetic_timing", "max_epochs": 2}
    if costs:
        meta["metrics"] = [*meta["metrics"], *COSTS]
        meta["config_metrics"] = list(COSTS)
    return write_table(path, pd.DataFrame(rows), meta)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[Table, Table]:
    path = tmp_path_factory.mktemp("timing")
    table = loaded_table(path)
    return table, timing_table(path / "timing", table)


@pytest.fixture(scope="module")
def costly(tables, tmp_path_factory) -> Table:
    """The timing table of ``tables`` with peak memory and latency recorded."""
    return timing_table(tmp_path_factory.mktemp("costly"), tables[0], costs=True)


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
    noise = log_noise(pd.DataFrame(rows), timing_epochs=2, max_epochs=5)
    # 4 curves, 2 configurations: 2 degrees of freedom; squares 4*0.01 + 4*0.04 over 2 dof x 2
    assert noise.sigma == pytest.approx([math.sqrt(0.2 / 4)] * 5)
    # lag-1: sum(r1 r2) = 2*0.01 - 2*0.04 < 0 -> rho clipped to 0
    assert noise.rho == 0.0 and noise.phi == 0.0


EVEN = frozenset(range(0, 40, 2))  # the configurations a partial timing table leaves out


def test_the_masked_objective_gives_unmeasured_outputs_no_gradient() -> None:
    import xgboost as xgb

    measured = np.array([[True, True], [True, False], [True, False]])
    labels = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 0.0]])
    predt = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    grad, hess = masked_squared_error(measured)(predt, xgb.DMatrix(np.zeros((3, 1)),
                                                                   label=labels))
    assert grad.tolist() == [[-0.5, -1.5], [-2.5, 0.0], [-4.5, 0.0]]
    assert hess.tolist() == [[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]


def test_a_timing_table_of_part_of_the_table_times_the_rest_by_the_model(tables, tmp_path):
    """A table that grew after its timing table was measured: epoch time is fitted on the timed
    half only and predicted for the other half from the design, not pulled towards a made-up
    label (with the untimed rows' labels left at the standardised 0, the spread would shrink)."""
    table, _ = tables
    half = timing_table(tmp_path / "t", table, drop=EVEN)
    model = fit_surrogate(table, tmp_path / "s", timing=half)
    assert model.manifest["timing"]["configs"] == 20 and model.manifest["table"]["configs"] == 40
    curves = SurrogateModel.load(tmp_path / "s", table).mean_curves(table.configs)
    predicted = curves[:, :, -1].mean(axis=1)
    truth = np.array([clean_time(c) for c in table.config_dicts()])
    timed = ~np.isin(table.configs.index, list(EVEN))
    assert np.allclose(predicted[timed], truth[timed], rtol=0.15)
    # the untimed ones are predicted from 20 timed configurations, as well as trees allow (no
    # extrapolation beyond the timed range); measured: median relative error 0.09, Spearman
    # 0.87; with the untimed labels left at 0 instead of masked: 0.42 and 0.38
    error = np.abs(predicted[~timed] / truth[~timed] - 1)
    assert np.median(error) < 0.15
    assert stats.spearmanr(predicted[~timed], truth[~timed]).statistic > 0.75


def test_validation_scores_a_partial_timing_table_on_its_timed_configurations(tables, tmp_path):
    from surrogates.validate import write_report

    table, _ = tables
    half = timing_table(tmp_path / "t", table, drop=EVEN, costs=True)
    report = cross_validate(table, load_params(), n_folds=4, noisy=False, timing=half)
    assert report["epoch_time"]["configs"] == 20
    assert report["epoch_time"]["per_config_mean"]["r2"] > 0.5
    assert report["config_metrics"]["peak_memory_mb"]["configs"] == 20
    assert report["epoch_time"]["noise_ceiling"]["configs"] == 20
    write_report(report, tmp_path / "report")
    assert (tmp_path / "report" / "validation.png").is_file()


def test_a_timing_table_of_other_configurations_is_refused(tables, tmp_path) -> None:
    table, timing = tables
    frame = timing.frame.copy()
    frame["config_id"] += 1000
    other = write_table(tmp_path / "t", frame, timing.meta)
    with pytest.raises(SurrogateError, match=r"none of the 40 configurations .* is timed"):
        check_timing(table, other)


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


# --- per-configuration metrics (peak memory, latency) ------------------------------------------


def test_the_surrogate_predicts_config_metrics_from_the_timing_table(tables, costly, tmp_path):
    table, _ = tables
    model = fit_surrogate(table, tmp_path / "s", timing=costly)
    loaded = SurrogateModel.load(tmp_path / "s", table)
    assert loaded.metric_names == ("val_error", "train_loss", *COSTS)
    assert loaded.target_names[-1] == "epoch_time" and loaded.config_metrics == COSTS
    assert model.manifest["config_metrics"]["peak_memory_mb"]["sha256"] == costly.checksum
    assert {t.name: t.kind for t in loaded.targets}["latency_ms"] == "log"
    curves = loaded.mean_curves(table.configs)
    configs = table.config_dicts()
    for k in (2, 3):
        assert (curves[:, :, k] == curves[:, :1, k]).all()  # one value per configuration
    memory = np.array([clean_memory(c) for c in configs])
    latency = np.array([LATENCY[c["activation"]] for c in configs])
    assert np.allclose(curves[:, 0, 2], memory, rtol=0.15)
    assert np.allclose(curves[:, 0, 3], latency, rtol=0.15)
    noise = loaded.manifest["noise"]["outputs"]
    assert noise["peak_memory_mb"]["sigma"] == [0.0] * table.max_epochs  # measured exactly
    # latency: 5% per-curve jitter on the log scale, a persistent offset along the curve
    assert noise["latency_ms"]["sigma"][0] == pytest.approx(0.05, rel=0.3)
    assert noise["latency_ms"]["rho"] == 1.0
    metrics, _ = loaded.curve(configs[3], np.random.default_rng(1))
    assert (metrics[:, 3] == metrics[0, 3]).all()
    assert metrics[0, 3] != loaded.curve(configs[3])[0][0, 3]  # noisy, not the mean


def test_validation_scores_config_metrics_on_held_out_configurations(tables, costly, tmp_path):
    from surrogates.validate import print_summary, write_report

    table, _ = tables
    report = cross_validate(table, load_params(), n_folds=4, noisy=False, timing=costly)
    scores = report["config_metrics"]
    assert set(scores) == set(COSTS) and set(report["other_metrics"]) == {"train_loss"}
    memory, latency = scores["peak_memory_mb"], scores["latency_ms"]
    assert "timing table synthetic_timing" in memory["observed"]
    # 30 training configurations per fold: memory is a smooth function of two hyperparameters
    assert memory["per_config"]["spearman"] > 0.95 and memory["per_config"]["r2"] > 0.9
    assert latency["per_config"]["spearman"] > 0.7  # activation only, plus seed jitter
    assert memory["noise_ceiling"]["per_config_mean_median_over_pairs"]["r2"] == 1.0
    ceiling = latency["noise_ceiling"]
    assert ceiling["configs"] == 40 and len(ceiling["pairs"]) == 2
    assert ceiling["per_config_mean_median_over_pairs"]["r2"] < 1.0
    write_report(report, tmp_path)
    saved = json.loads((tmp_path / "validation.json").read_text())
    assert saved["config_metrics"]["latency_ms"]["per_config"] == latency["per_config"]
    assert (tmp_path / "validation.png").stat().st_size > 0
    print_summary(report)


def test_a_table_measuring_config_metrics_itself_needs_no_timing_table(tmp_path):
    base = synthetic_table(tmp_path / "base", n_configs=30, max_epochs=4, seeds=2)
    frame = base.frame.copy()
    frame["peak_memory_mb"] = [clean_memory(c) for c in frame.to_dict("records")]
    meta = {**base.meta, "metrics": [*base.meta["metrics"], "peak_memory_mb"],
            "config_metrics": ["peak_memory_mb"]}
    table = write_table(tmp_path / "t", frame, meta)
    model = fit_surrogate(table, tmp_path / "s")
    assert model.metric_names == ("val_error", "train_loss", "peak_memory_mb")
    assert model.manifest["config_metrics"]["peak_memory_mb"]["name"] == "synthetic"
    predicted = model.mean_curves(table.configs)[:, 0, 2]
    truth = table.frame.groupby("config_id")["peak_memory_mb"].first().to_numpy()
    assert np.allclose(predicted, truth, rtol=0.15)
    report = cross_validate(table, load_params(), n_folds=3, noisy=False)
    assert report["config_metrics"]["peak_memory_mb"]["per_config"]["spearman"] > 0.9


def test_without_config_metrics_the_surrogate_and_its_metrics_are_unchanged(tables, tmp_path):
    from benchmarks.surrogate import SurrogateObjective
    from hpo_methods.problem import ProblemError

    table, timing = tables
    model = fit_surrogate(table, tmp_path / "s", timing=timing)
    assert "config_metrics" not in model.manifest and model.config_metrics == ()
    assert model.target_names == ["val_error", "train_loss", "epoch_time"]
    objective = SurrogateObjective(model)
    with pytest.raises(ProblemError, match="'latency_ms' is not a metric of this benchmark"):
        objective.problem(objectives=["val_error", "latency_ms"])
    report = cross_validate(table, load_params(), n_folds=4, noisy=False, timing=timing)
    assert report["config_metrics"] == {}


def test_objectives_report_config_metrics(tables, costly, tmp_path):
    from benchmarks.surrogate import SurrogateObjective
    from benchmarks.tabular import TabularObjective

    table, _ = tables
    surrogate = SurrogateObjective(fit_surrogate(table, tmp_path / "s", timing=costly))
    tabular = TabularObjective(table, timing=costly)
    config = table.config_dicts()[5]
    for objective in (surrogate, tabular):
        assert objective.metric_names == ("val_error", "train_loss", *COSTS)
        problem = objective.problem(objectives=["val_error", "latency_ms"],
                                    constraints=["peak_memory_mb<=40"])
        run = objective.start_trial(0, config, seed=3)
        epochs = [run.next_epoch().metrics for _ in range(table.max_epochs)]
        assert all(e["peak_memory_mb"] == epochs[0]["peak_memory_mb"] for e in epochs)
        assert problem.values(epochs[-1])[1] == epochs[-1]["latency_ms"]
        assert problem.feasible(epochs[0]) == (epochs[0]["peak_memory_mb"] <= 40)
    rows = costly.frame[costly.frame["config_id"] == 5]
    run = tabular.start_trial(0, config, seed=0)
    first = run.next_epoch().metrics
    assert first["latency_ms"] == pytest.approx(rows["latency_ms"].mean(), rel=1e-12)
    assert first["peak_memory_mb"] == pytest.approx(clean_memory(config), rel=1e-12)


def test_a_cost_table_gives_the_config_metrics_and_the_timing_table_the_epoch_times(
        tables, costly, tmp_path):
    from benchmarks.tabular import TabularObjective

    table, _ = tables
    frame = costly.frame.copy()  # measured on another day: latency doubled, epochs 3x slower
    frame["latency_ms"] *= 2.0
    frame["epoch_time"] *= 3.0
    frame["cumulative_time"] *= 3.0
    costs = write_table(tmp_path / "costs", frame, {**costly.meta, "name": "synthetic_costs"})
    model = fit_surrogate(table, tmp_path / "s", timing=costly, costs=costs)
    assert model.manifest["timing"]["sha256"] == costly.checksum
    assert {m["sha256"] for m in model.manifest["config_metrics"].values()} == {costs.checksum}
    curves = SurrogateModel.load(tmp_path / "s", table).mean_curves(table.configs)
    configs = table.config_dicts()
    latency = np.array([2.0 * LATENCY[c["activation"]] for c in configs])
    assert np.allclose(curves[:, 0, 3], latency, rtol=0.15)
    time = np.array([clean_time(c) for c in configs])
    assert np.allclose(curves[:, :, -1].mean(axis=1), time, rtol=0.15)
    report = cross_validate(table, load_params(), n_folds=4, noisy=False, timing=costly,
                            costs=costs)
    observed = report["config_metrics"]["latency_ms"]["observed"]
    assert "cost-metrics table synthetic_costs" in observed
    assert "timing table synthetic_timing" in report["epoch_time"]["observed"]
    tabular = TabularObjective(table, timing=costly, cost_table=costs)
    first = tabular.start_trial(0, configs[5], seed=0).next_epoch()
    rows = costs.frame[costs.frame["config_id"] == 5]
    assert first.metrics["latency_ms"] == pytest.approx(rows["latency_ms"].mean(), rel=1e-12)
    timed = costly.frame[costly.frame["config_id"] == 5]["epoch_time"].mean()
    assert first.epoch_time == pytest.approx(timed, rel=1e-12)
    assert tabular.describe()["cost_table_sha256"] == costs.checksum


def test_a_cost_table_without_cost_metrics_is_refused(tables, tmp_path):
    table, timing = tables
    with pytest.raises(SurrogateError, match="records no per-configuration metric"):
        fit_surrogate(table, tmp_path / "s", timing=timing, costs=timing)

def test_the_tabular_twin_models_only_what_a_partial_timing_table_lacks(tables, tmp_path):
    """Curves are replayed as recorded; the epoch times and cost metrics of configurations the
    timing table does not hold come from the surrogate fitted with it, and only from there."""
    from benchmarks.tabular import TabularObjective

    table, timing = tables
    half = timing_table(tmp_path / "t", table, drop=EVEN, costs=True)
    with pytest.raises(SurrogateError, match=r"measures epoch_time for 20 of the 40 config"
                                             r"urations .* give the benchmark key 'surrogate'"):
        TabularObjective(table, timing=half)
    fit_surrogate(table, tmp_path / "other", timing=timing)
    with pytest.raises(SurrogateError, match="its epoch_time was not fitted to"):
        TabularObjective(table, timing=half, surrogate=tmp_path / "other")
    model = fit_surrogate(table, tmp_path / "s", timing=half)
    twin = TabularObjective(table, timing=half, surrogate=tmp_path / "s")
    assert twin.describe()["modelled_configs"] == 20
    assert twin.describe()["surrogate_sha256"] == model.manifest["model_sha256"]
    configs = table.config_dicts()
    mean = model.mean_curves(table.configs.loc[[4, 5]])
    for row, cid in enumerate((4, 5)):
        run = twin.start_trial(0, configs[cid], seed=0)
        epochs = [run.next_epoch() for _ in range(table.max_epochs)]
        recorded = table.frame[(table.frame["config_id"] == cid) & (table.frame["seed"] == 0)]
        assert [e.metrics["val_error"] for e in epochs] == recorded["val_error"].tolist()
        times = [e.epoch_time for e in epochs]
        latency = epochs[0].metrics["latency_ms"]
        if cid in EVEN:  # not timed: the surrogate's mean prediction
            assert times == pytest.approx(mean[row, :, -1].tolist(), rel=1e-12)
            k = model.target_names.index("latency_ms")
            assert latency == pytest.approx(mean[row, 0, k], rel=1e-12)
        else:
            rows = half.frame[half.frame["config_id"] == cid]
            assert times == [pytest.approx(rows["epoch_time"].mean(), rel=1e-12)] * len(times)
            assert latency == pytest.approx(rows["latency_ms"].mean(), rel=1e-12)


@pytest.mark.parametrize("change, message", [
    ("vary", "changes along curve config_id=0 seed=0"),
    ("zero", "must be finite and > 0"),
    ("unlisted", "is not one of the metrics"),
])
def test_config_metrics_are_checked_when_a_table_is_written(tables, tmp_path, change, message):
    from surrogates.table import TableError

    table, _ = tables
    frame = table.frame.copy()
    frame["peak_memory_mb"] = 10.0
    meta = {**table.meta, "metrics": [*table.meta["metrics"], "peak_memory_mb"],
            "config_metrics": ["peak_memory_mb"]}
    if change == "vary":
        frame.loc[(frame["config_id"] == 0) & (frame["epoch"] == 2), "peak_memory_mb"] = 11.0
    elif change == "zero":
        frame.loc[frame.index[3], "peak_memory_mb"] = 0.0
    else:
        meta["metrics"] = table.meta["metrics"]
    with pytest.raises(TableError, match=message):
        write_table(tmp_path / "bad", frame, meta)
