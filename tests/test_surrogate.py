"""The XGBoost surrogate: fitting, checks on loading, noise, range, validation folds, objective."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.objective import trial_seed
from benchmarks.registry import make_objective
from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.surrogate import SurrogateObjective
from hpo_methods.registry import make_method
from hpo_methods.space import SearchSpace
from surrogates import fit as fit_module
from surrogates import validate as validate_module
from surrogates.fit import cached_surrogate, curve_mean_time, fit_surrogate
from surrogates.model import (
    MANIFEST_FILE,
    MODEL_FILE,
    FeatureEncoder,
    SurrogateError,
    SurrogateModel,
    Target,
)
from surrogates.noise import CurveNoise, fit_curve_noise
from surrogates.validate import checkpoint_epochs, cross_validate, fold_assignment, write_report
from tests.tables import noisy_synthetic_table, synthetic_table

EPOCHS = 6
SMALL = {  # few small trees, one thread (the machine is shared): fast tests
    "params": {"max_depth": 4, "eta": 0.3, "min_child_weight": 1, "nthread": 1},
    "num_boost_round": 15,
}


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("params") / "xgb_params.json"
    path.write_text(json.dumps(SMALL))
    return path


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return noisy_synthetic_table(
        tmp_path_factory.mktemp("t") / "table", n_configs=40, max_epochs=EPOCHS, repeated=8
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, table, params) -> Path:
    out = tmp_path_factory.mktemp("m") / "surrogate"
    fit_surrogate(table, out, params)
    return out


@pytest.fixture(scope="module")
def objective(model_dir, table) -> SurrogateObjective:
    return SurrogateObjective(model_dir, table, noise=True)


def corner_configs(space) -> list[dict]:
    """Every combination of the extreme values of every hyperparameter."""
    values = []
    for d in space.domains:
        values.append(d.categories if d.kind == "choice" else [d.low, d.high])
    return [dict(zip(space.names, v, strict=True)) for v in itertools.product(*values)]


# -- the fitted folder and the checks on loading ----------------------------------------------


def test_fit_writes_ubj_model_and_manifest_with_checksum_and_schema(model_dir, table):
    assert sorted(p.name for p in model_dir.iterdir()) == [MODEL_FILE, MANIFEST_FILE]
    manifest = json.loads((model_dir / MANIFEST_FILE).read_text())
    assert manifest["table"]["sha256"] == table.checksum
    derived = ["log_eff_lr", "log_lr_per_bs", "log_eff_lr_per_bs", "log_lr_wd", "log_eff_lr_wd"]
    assert [f["name"] for f in manifest["features"]] == [*table.hyperparameters, *derived, "epoch"]
    transforms = {f["name"]: f["transform"] for f in manifest["features"]}
    assert transforms == {
        "activation": "category",
        "batch_size": "identity",
        "learning_rate": "log",
        "momentum": "identity",
        "weight_decay": "log",
        **dict.fromkeys(derived, "derived"),
        "epoch": "identity",
    }
    formulas = {f["name"]: f.get("formula") for f in manifest["features"]}
    assert formulas["log_eff_lr_per_bs"] == (
        "log(learning_rate) - log(1 - momentum) - log(batch_size)"
    )
    assert [t["name"] for t in manifest["targets"]] == ["val_error", "train_loss", "epoch_time"]
    assert manifest["noise"]["estimated_from"] == {"configs": 8, "curves": 24}
    assert (model_dir / MODEL_FILE).read_bytes()[:1] == b"{"  # UBJSON object, not a pickle


def test_loading_refuses_a_model_fitted_to_another_table(model_dir, tmp_path):
    other = noisy_synthetic_table(tmp_path / "other", 40, EPOCHS, repeated=8, rng_seed=1)
    with pytest.raises(SurrogateError, match="sha256"):
        SurrogateModel.load(model_dir, other)
    with pytest.raises(SurrogateError, match="sha256"):
        make_objective(
            {"name": "x", "kind": "surrogate", "model": str(model_dir), "table": str(other.path)}
        )


def test_loading_refuses_a_table_with_another_search_space(model_dir, tmp_path):
    other = synthetic_table(tmp_path / "other", 10, EPOCHS)  # no weight_decay
    with pytest.raises(SurrogateError, match="search space"):
        SurrogateModel.load(model_dir, other)


def test_loading_refuses_a_manifest_whose_schema_does_not_match_the_model(model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    manifest = json.loads((bad / MANIFEST_FILE).read_text())
    manifest["features"][0]["transform"] = "identity"  # activation no longer categorical
    (bad / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(SurrogateError, match="feature schema"):
        SurrogateModel.load(bad)
    manifest = json.loads((model_dir / MANIFEST_FILE).read_text())
    manifest["targets"] = manifest["targets"][:2]
    manifest["noise"]["order"] = manifest["noise"]["order"][:2]
    (bad / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(SurrogateError, match="3 outputs"):
        SurrogateModel.load(bad)


def test_loading_refuses_a_model_fitted_without_the_derived_features(model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    manifest = json.loads((bad / MANIFEST_FILE).read_text())
    manifest["features"] = [f for f in manifest["features"] if f["transform"] != "derived"]
    (bad / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(SurrogateError, match="feature schema"):
        SurrogateModel.load(bad)


def test_derived_features_by_hand_and_only_when_their_hyperparameters_exist():
    space = SearchSpace.from_spec({
        "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1.0},
        "momentum": {"type": "uniform", "low": 0.0, "high": 0.9},
        "batch_size": {"type": "randint", "low": 8, "high": 128},
    })
    encoder = FeatureEncoder(space)  # no weight_decay: the two weight-decay features are left out
    assert encoder.names == ["learning_rate", "momentum", "batch_size", "log_eff_lr",
                             "log_lr_per_bs", "log_eff_lr_per_bs", "epoch"]
    config = {"learning_rate": 0.01, "momentum": 0.9, "batch_size": 100}
    # lr / (1 - m) = 0.1; lr / bs = 1e-4; lr / (1 - m) / bs = 1e-3
    expected = [np.log(0.01), 0.9, 100, np.log(0.1), np.log(1e-4), np.log(1e-3)]
    assert encoder.encode_config(config) == pytest.approx(expected)
    rows = encoder.curve_rows(config, 3)
    assert rows[:, :-1] == pytest.approx(np.tile(expected, (3, 1)))
    assert list(rows[:, -1]) == [1, 2, 3]
    frame = pd.DataFrame([{**config, "epoch": 2}])
    assert encoder.encode_frame(frame)[0] == pytest.approx([*expected, 2])
    # outside the domains: derived features use the values clipped in (m 0.9, bs 8), still finite
    far = {"learning_rate": 0.01, "momentum": 50.0, "batch_size": 1}
    assert encoder.encode_config(far)[3:] == pytest.approx(
        [np.log(0.1), np.log(0.01 / 8), np.log(0.1 / 8)]
    )
    momentum_to_one = SearchSpace.from_spec({
        "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1.0},
        "momentum": {"type": "uniform", "low": 0.0, "high": 1.0},  # log(1 - 1) is not finite
    })
    assert FeatureEncoder(momentum_to_one).names == ["learning_rate", "momentum", "epoch"]


def test_epoch_time_label_is_the_mean_along_each_curve():
    frame = pd.DataFrame({"config_id": [0, 0, 1, 1, 0, 0], "seed": [0, 0, 0, 0, 1, 1]})
    z = np.array([[0.1, 1.0], [0.2, 3.0], [0.3, 5.0], [0.4, 9.0], [0.5, 2.0], [0.6, 2.0]])
    labels = curve_mean_time(frame, z, ["val_error", "epoch_time"])
    assert labels[:, 0] == pytest.approx(z[:, 0])  # metrics keep their per-epoch values
    assert labels[:, 1] == pytest.approx([2.0, 2.0, 7.0, 7.0, 2.0, 2.0])


def test_loading_refuses_a_replaced_model_file(model_dir, tmp_path, table, params):
    other_fit = tmp_path / "other_fit"
    fit_surrogate(synthetic_table(tmp_path / "t2", 10, EPOCHS), other_fit, params)
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    shutil.copy(other_fit / MODEL_FILE, bad / MODEL_FILE)
    with pytest.raises(SurrogateError, match="replaced"):
        SurrogateModel.load(bad, table)
    with pytest.raises(SurrogateError, match="not a surrogate folder"):
        SurrogateModel.load(tmp_path)


# -- curves -----------------------------------------------------------------------------------


def test_cumulative_time_strictly_increases_for_random_configurations(objective):
    rng = np.random.default_rng(0)
    lo, hi = objective.model.targets[-1].lo, objective.model.targets[-1].hi
    for noise in (False, True):
        objective.noise = noise
        for i in range(200):
            run = objective.start_trial(i, objective.space.sample(rng), trial_seed(0, i))
            times = np.array([run.next_epoch().epoch_time for _ in range(EPOCHS)])
            assert (times >= lo).all() and (times <= hi).all() and lo > 0
            assert (np.diff(np.cumsum(times)) > 0).all()
    objective.noise = True


def test_same_seed_and_trial_give_the_same_noisy_curve_and_other_trials_differ(objective):
    config = objective.space.sample(np.random.default_rng(1))

    def curve(run_seed: int, trial_id: int) -> list:
        run = objective.start_trial(trial_id, config, trial_seed(run_seed, trial_id))
        return [run.next_epoch() for _ in range(EPOCHS)]

    assert curve(0, 3) == curve(0, 3)
    assert curve(0, 3) != curve(0, 4)
    assert curve(0, 3) != curve(1, 3)


def test_mean_mode_is_deterministic_and_is_the_noise_free_prediction(model_dir, table):
    objective = SurrogateObjective(model_dir, table, noise=False)
    config = objective.space.sample(np.random.default_rng(2))
    a = [objective.start_trial(0, config, 1).next_epoch() for _ in range(2)]
    b = objective.start_trial(5, config, 999).next_epoch()
    assert a[0] == a[1] == b
    batched = objective.model.mean_curves([config])[0]
    assert b.metrics["val_error"] == pytest.approx(batched[0, 0], abs=1e-9)
    assert b.epoch_time == pytest.approx(batched[0, -1], rel=1e-9)


def test_predictions_stay_in_the_observed_range_far_outside_the_table(objective, table):
    model = objective.model
    observed = table.frame["val_error"]
    far = [
        {**c, "learning_rate": lr, "momentum": m, "batch_size": b, "weight_decay": wd}
        for c in corner_configs(objective.space)[:3]
        for lr, m, b, wd in [(1e3, 50.0, 10**6, 1e3), (1e-30, -50.0, 1, 1e-40)]
    ]
    rng = np.random.default_rng(0)
    for config in corner_configs(objective.space) + far:
        for draw in (None, rng, rng):
            metrics, times = model.curve(config, draw)
            error = metrics[:, 0]
            assert ((error >= 0) & (error <= 1)).all()  # a noisy value stays an error rate
            assert (times > 0).all()
            if draw is None:  # the mean curve stays in the observed range (noise may leave it)
                assert (error >= observed.min()).all() and (error <= observed.max()).all()
                assert objective.best_known_value() <= error.min()
                assert error.max() <= objective.worst_known_value()


def test_unknown_category_and_illegal_config_are_refused(objective):
    config = objective.space.sample(np.random.default_rng(0))
    with pytest.raises(SurrogateError, match="activation"):
        objective.model.curve({**config, "activation": "GELU"})
    with pytest.raises(ValueError, match="momentum"):
        objective.start_trial(0, {**config, "momentum": 2.0}, 0)


def test_range_logit_transform_by_hand():
    t = Target("val_error", "range_logit", lo=0.2, hi=0.8, margin=0.03)
    assert t.forward(np.array([0.5]))[0] == pytest.approx(0.0)
    # 0.2 -> p = 0.03 / 0.66
    assert t.forward(np.array([0.2]))[0] == pytest.approx(np.log(0.03 / 0.63))
    assert t.forward(np.array([np.nan]))[0] == pytest.approx(t.forward(np.array([0.8]))[0])
    assert list(t.inverse(np.array([0.0, -1e9, 1e9]))) == pytest.approx([0.5, 0.2, 0.8])


# -- noise --------------------------------------------------------------------------------------


def test_noise_estimation_recovers_offset_share_and_ar1_coefficient():
    truth = CurveNoise([0.1] * 12, rho=0.6, phi=0.7)
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((6000, 12)) @ truth.factor().T  # 3000 configs x 2 seeds
    residuals = eps - np.repeat(eps.reshape(3000, 2, 12).mean(axis=1), 2, axis=0)
    fitted = fit_curve_noise(residuals, dof=3000)
    assert fitted.rho == pytest.approx(0.6, abs=0.05)
    assert fitted.phi == pytest.approx(0.7, abs=0.07)
    assert np.allclose(fitted.sigma, 0.1, rtol=0.06)


def test_noisy_curves_are_correlated_along_the_curve_as_the_model_says(model_dir):
    """The model-scale noise of the outputs other than the objective metric (which has its own
    model, see tests/test_noise.py)."""
    model = SurrogateModel.load(model_dir)
    part = model.noise.parts["train_loss"]
    k = model.noise.outputs.index("train_loss")
    rng = np.random.default_rng(0)
    draws = np.stack([model.noise.sample(rng)[:, k] for _ in range(4000)])
    expected = part.rho + (1 - part.rho) * part.phi ** (EPOCHS - 1)
    assert np.corrcoef(draws[:, 0], draws[:, -1])[0, 1] == pytest.approx(expected, abs=0.06)
    assert draws.std(axis=0) == pytest.approx(part.sigma, rel=0.08)


# -- validation -----------------------------------------------------------------------------------


def test_fold_assignment_holds_out_whole_configurations():
    ids = np.arange(0, 57) * 3
    folds = fold_assignment(ids, 5, seed=0)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == sorted(ids)  # every configuration is tested exactly once
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert sorted(np.concatenate([train, test])) == sorted(ids)


def test_validation_never_scores_rows_it_was_fitted_on(table, monkeypatch, tmp_path):
    fitted_on: list[set] = []
    real_fit = fit_module.fit_model

    def spy(table_, frame=None, settings=None, nthread=None, timing=None, costs=None):
        fitted_on.append(set(frame["config_id"]))
        return real_fit(table_, frame, settings, nthread, timing, costs)

    monkeypatch.setattr(fit_module, "fit_model", spy)
    oof = validate_module.out_of_fold_curves(table, SMALL, n_folds=4, seed=0)
    assert len(fitted_on) == 4
    for k, (train, test) in enumerate(oof["folds"]):
        assert fitted_on[k] == set(train) and not fitted_on[k] & set(test)
        tested = set(oof["config_ids"][oof["fold"] == k])
        assert tested == set(test) and not tested & fitted_on[k]
    report = cross_validate(table, SMALL, n_folds=4)
    assert [c["epoch"] for c in report["checkpoints"].values()] == [1, 2, 3, 6]
    assert checkpoint_epochs(20) == {"epoch_1": 1, "epoch_25pct": 5, "epoch_50pct": 10, "final": 20}
    assert report["cumulative_time_decreasing_share"] == {"mean_curves": 0.0, "noisy_curves": 0.0}
    assert report["checkpoints"]["final"]["noise_ceiling"]["configs"] == 8
    write_report(report, tmp_path)
    saved = json.loads((tmp_path / "validation.json").read_text())
    assert set(saved["targets"]) == set(validate_module.TARGETS)
    assert (tmp_path / "validation.png").stat().st_size > 0
    assert (tmp_path / "validation.pdf").stat().st_size > 0


# -- the objective in the harness ----------------------------------------------------------------


def test_simulated_runs_on_the_surrogate_are_reproducible(objective):
    def run() -> list:
        method = make_method("random", objective.problem(), 0)
        backend = SimulatedBackend(method, objective, 2, Budget(trials=6), seed=0)
        return backend.run().reports

    first = run()
    assert len(first) == 6 * EPOCHS
    assert first == run()


def test_fit_on_first_use_is_cached(table, params, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fit_module, "DEFAULT_PARAMS", params)
    folder = cached_surrogate(table)
    stamp = (folder / MODEL_FILE).stat().st_mtime_ns
    assert folder.parent == tmp_path / "cache" / "surrogates"
    assert cached_surrogate(table) == folder
    assert (folder / MODEL_FILE).stat().st_mtime_ns == stamp
    objective = make_objective(
        {"name": "s", "kind": "surrogate", "table": str(table.path), "noise": False}
    )
    assert objective.describe()["model"] == str(folder)
    with pytest.raises(SurrogateError, match=r"needs benchmark\.model"):
        make_objective({"name": "s2", "kind": "surrogate", "noise": False})


def test_the_simulation_path_does_not_import_torch():
    code = "import sys, benchmarks.surrogate, benchmarks.app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
