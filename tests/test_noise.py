"""The objective metric's noise model (surrogates.noise.MetricNoise) and its validation.

Synthetic residual curves are drawn from a known model and the estimate is checked against it;
the validation statistics (rise share, step size, seed spread) are checked on hand-made curves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from surrogates.fit import fit_surrogate
from surrogates.model import SurrogateModel
from surrogates.noise import (
    GAIN_CLIP,
    MetricNoise,
    curve_gain,
    estimate_metric_noise,
    metric_resolution,
    step_kurtosis,
)
from surrogates.noise_validation import noise_report, seed_residuals
from surrogates.table import write_table
from tests.tables import NOISY_SPACE_SPEC, noisy_synthetic_table

EPOCHS = 8
SMALL = {
    "params": {"max_depth": 4, "eta": 0.3, "min_child_weight": 1, "nthread": 1},
    "num_boost_round": 15,
}


def truth(**changes) -> MetricNoise:
    params = {"offset": 0.01, "phi": 0.8, "ar": (np.log(0.01), 0.0),
              "white": (np.log(0.01), 0.5), "covariate": "x", "center": 0.0,
              "covariate_range": (-2.0, 2.0)}
    params.update(changes)
    return MetricNoise("val_error", EPOCHS, **params)


def residual_frame(model: MetricNoise, n_configs: int, seeds: int, seed: int = 0):
    """Curves mean + noise of ``n_configs`` configurations with covariate x spread over [-2, 2],
    plus an uninformative candidate covariate ``z``; returns (frame, features)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 2, n_configs)
    z = rng.permutation(x)
    rows = []
    for cid in range(n_configs):
        mean = 0.8 - 0.02 * np.arange(EPOCHS)
        for s in range(seeds):
            curve = mean + model.sample(rng, x[cid])
            rows += [{"config_id": cid, "seed": s, "epoch": e + 1, "val_error": curve[e]}
                     for e in range(EPOCHS)]
    return pd.DataFrame(rows), pd.DataFrame({"x": x, "z": z})


def test_the_per_curve_gain_is_bounded_and_keeps_the_seed_spread():
    """g's normal deviate is clipped (no curve jitters beyond what the data's configurations
    show), and g keeps mean square one, so the modelled seed spread does not depend on tau."""
    g = curve_gain(np.array([-10.0, -GAIN_CLIP, 0.0, GAIN_CLIP, 10.0]), 0.5)
    assert g[0] == g[1] < g[2] < g[3] == g[4]
    grid = stats.norm.ppf((np.arange(200_000) + 0.5) / 200_000)  # normal quantiles
    assert np.mean(curve_gain(grid, 0.5) ** 2) == pytest.approx(1.0, abs=1e-4)
    # whole curves: white jitter of sd 0.01 only, tau 1 (an unclipped gain reaches e^3 = 20)
    model = truth(offset=0.0, ar=(-50.0, 0.0), white=(np.log(0.01), 0.0), tau=1.0)
    curves = model.sample(np.random.default_rng(0), 0.0, size=20_000)
    largest = curve_gain(np.array([GAIN_CLIP]), 1.0)[0]
    assert curves.std(axis=1).max() < 0.01 * largest * 2.0


def test_estimate_recovers_a_known_heteroscedastic_model_and_its_covariate():
    model = truth()
    frame, features = residual_frame(model, n_configs=120, seeds=3)
    fitted = estimate_metric_noise(frame, "val_error", features, EPOCHS)
    assert fitted.covariate == "x"
    assert fitted.selection["x"] > 0.6 > 0.1 > fitted.selection["z"]
    assert fitted.white[1] == pytest.approx(0.5, abs=0.1)  # the jitter's slope in x
    assert fitted.resolution is None  # continuous values
    for x in (-2.0, 0.0, 2.0):  # the marginal seed spread of each configuration
        assert fitted.epoch_sd(x) == pytest.approx(model.epoch_sd(x), rel=0.15)


def test_estimate_recovers_a_jitter_scale_that_levels_off():
    """The white scale's log is quadratic in x: a scale that rises and then levels off is fitted
    without the overshoot a log-linear one makes at the top of the range."""
    model = truth(white=(np.log(0.01), 0.5, -0.2))  # s_w rises 2.7x from x=-2 to 0, 1.2x to 2
    frame, features = residual_frame(model, n_configs=120, seeds=3)
    fitted = estimate_metric_noise(frame, "val_error", features, EPOCHS)
    assert fitted.white[2] == pytest.approx(-0.2, abs=0.08)
    for x in (-2.0, 0.0, 2.0):
        assert fitted.epoch_sd(x) == pytest.approx(model.epoch_sd(x), rel=0.15)


def test_a_model_saved_with_a_log_linear_white_scale_loads_with_no_curvature():
    saved = truth().to_json()
    saved["white"] = saved["white"][:2]
    loaded = MetricNoise.from_json(saved)
    assert loaded.white == (np.log(0.01), 0.5, 0.0)
    assert loaded.scales(1.5) == truth().scales(1.5)
    with pytest.raises(ValueError, match="2 or 3 coefficients"):
        MetricNoise.from_json({**saved, "white": [1.0]})


def test_estimate_needs_three_configurations_with_several_seeds():
    frame, features = residual_frame(truth(), n_configs=2, seeds=3)
    assert estimate_metric_noise(frame, "val_error", features, EPOCHS) is None
    frame, features = residual_frame(truth(), n_configs=10, seeds=1)
    assert estimate_metric_noise(frame, "val_error", features, EPOCHS) is None


def test_sample_has_the_modelled_spread_and_is_reproducible():
    model = truth(tau=0.3, jump_share=0.3)
    rng = np.random.default_rng(1)
    draws = np.stack([model.sample(rng, 1.0) for _ in range(20000)])
    assert draws.std(axis=0) == pytest.approx(model.epoch_sd(1.0), rel=0.05)
    a = model.sample(np.random.default_rng(7), 0.5)
    b = model.sample(np.random.default_rng(7), 0.5)
    assert np.array_equal(a, b)
    # the covariate is clipped into the range it was fitted on
    assert model.scales(50.0) == model.scales(2.0)


def test_sparse_jumps_raise_the_kurtosis_of_steps_but_not_the_spread():
    rng = np.random.default_rng(2)
    slow_only = {"white": (np.log(1e-6), 0.0)}
    curves = {q: [truth(**slow_only, jump_share=q).sample(rng, size=3) for _ in range(2000)]
              for q in (1.0, 0.1)}
    # per-configuration standardising biases the Gaussian figure a little below 0; the same
    # statistic on simulated and real residuals is what the fit compares (simulated moments)
    assert step_kurtosis(curves[1.0]) < 0.3
    assert step_kurtosis(curves[0.1]) > 2.0
    spread = {q: np.std(np.concatenate(c)) for q, c in curves.items()}
    assert spread[0.1] == pytest.approx(spread[1.0], rel=0.1)


def test_resolution_of_a_rounded_metric():
    values = np.array([0.452, 0.45, 0.9, 0.612, np.nan, 0.578])  # errors on 500 images
    assert metric_resolution(values) == 1 / 500
    assert metric_resolution(np.array([0.1, 0.25, 0.31337, 0.5])) is None
    assert metric_resolution(np.array([0.5, 0.5])) is None


def test_apply_rounds_to_the_resolution_and_clips():
    model = truth(resolution=0.002)
    noisy = model.apply(np.full(EPOCHS, 0.7), 0.0, np.random.default_rng(3), 0.69, 0.71)
    assert np.allclose(noisy / 0.002, np.round(noisy / 0.002))
    assert noisy.min() >= 0.69 and noisy.max() <= 0.71


def test_noise_report_against_hand_counted_curves():
    """Two configurations of 4 epochs; steps counted by hand in the comments."""
    frame = pd.DataFrame(
        [{"config_id": 0, "seed": s, "epoch": e + 1, "val_error": v}
         for s, curve in enumerate([[0.8, 0.7, 0.7, 0.6], [0.9, 0.8, 0.85, 0.8]])
         for e, v in enumerate(curve)]
        + [{"config_id": 1, "seed": 0, "epoch": e + 1, "val_error": v}
           for e, v in enumerate([0.5, 0.4, 0.3, 0.2])]
    )

    class Fake:
        metric, max_epochs = "val_error", 4

    Fake.frame = frame
    # data steps: -0.1, 0, -0.1 | -0.1, +0.05, -0.05 | -0.1, -0.1, -0.1: 1 rise of 9, 1 tie
    sim = {0: np.array([[0.8, 0.9, 0.8, 0.7], [0.7, 0.7, 0.7, 0.7]]),  # +0.1 -0.1 -0.1 | 0 0 0
           1: np.array([[0.5, 0.6, 0.5, 0.6]])}  # +0.1 -0.1 +0.1
    report = noise_report(Fake, sim)
    assert report["rise_share"]["data"] == pytest.approx(1 / 9)
    assert report["rise_share"]["surrogate"] == pytest.approx(3 / 9)
    assert report["rise_share"]["relative_difference"] == pytest.approx(2.0)
    assert report["tie_share"] == {"data": pytest.approx(1 / 9), "surrogate": pytest.approx(3 / 9)}
    assert report["step_size"]["mean_data"] == pytest.approx(0.7 / 9)  # 0.1+0+0.1+0.1+...
    # the largest 10% of 9 steps: one step, 0.1; the largest 50%: five steps of 0.1
    assert report["step_size"]["tail_means_data"] == pytest.approx([0.1, 0.1, 0.1])
    assert report["step_size"]["tail_means_surrogate"] == pytest.approx([0.1, 0.1, 0.1])
    # config 0's seed spread per epoch: sd of (0.8, 0.9), (0.7, 0.8), ... = 0.0707, 0.0707, ...
    spread = report["seed_spread"]
    assert spread["configs"] == 1
    assert spread["data"] == pytest.approx([0.0707107, 0.0707107, 0.1060660, 0.1414214])
    assert spread["surrogate"] == pytest.approx([0.0707107, 0.1414214, 0.0707107, 0.0])
    # seed residuals of config 0: data -0.05 -0.05 -0.075 -0.1 | +0.05 +0.05 +0.075 +0.1;
    # its two draws form one group of two: +0.05 +0.1 +0.05 0 | -0.05 -0.1 -0.05 0
    tail = report["lower_tail"]
    assert (tail["configs"], tail["residuals_data"], tail["residuals_surrogate"]) == (1, 8, 8)
    assert tail["data"][0] == pytest.approx(-0.1 + 0.07 * 0.025)  # 1% of 8 sorted values
    assert tail["surrogate"][0] == pytest.approx(-0.1 + 0.07 * 0.05)
    assert tail["relative_difference"] == pytest.approx(0.0965 / 0.09825 - 1)
    assert report["met"] == {"rise_share": False, "step_size": False, "seed_spread": False,
                             "lower_tail": True}


def test_seed_residuals_group_draws_as_the_data_has_seeds():
    curves = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0], [7.0, 11.0], [100.0, 100.0]])
    # groups (rows 0-1), (rows 2-3); row 4 is an incomplete group and dropped
    assert seed_residuals(curves, 2).tolist() == [-1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def rounded_table(tmp_path_factory):
    """The noisy synthetic table with its error rounded to 500 validation images."""
    base = noisy_synthetic_table(tmp_path_factory.mktemp("n") / "t", 40, EPOCHS, repeated=10)
    frame = base.frame.copy()
    frame["val_error"] = np.round(frame["val_error"] * 500) / 500
    meta = {**base.meta, "name": "rounded", "search_space": NOISY_SPACE_SPEC}
    return write_table(tmp_path_factory.mktemp("r") / "t", frame, meta)


def test_fitted_surrogate_draws_rounded_curves_around_its_unrounded_mean(rounded_table, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(SMALL))
    fit_surrogate(rounded_table, tmp_path / "s", params)
    model = SurrogateModel.load(tmp_path / "s", rounded_table)
    manifest = model.manifest["noise"]
    assert manifest["metric"]["resolution"] == 1 / 500
    assert manifest["metric"]["estimated_from"] == {"configs": 10, "curves": 30}
    assert manifest["outputs"]["val_error"]["sigma"] == [0.0] * EPOCHS  # replaced by "metric"
    config = rounded_table.config_dicts()[3]
    noisy, _, mean = model.curve_and_mean(config, np.random.default_rng(0))
    k = model.metric_names.index("val_error")
    assert np.allclose(noisy[:, k] * 500, np.round(noisy[:, k] * 500))
    assert np.array_equal(mean, model.curve(config)[0])  # the noise-free curve
    assert not np.allclose(mean[:, k] * 500, np.round(mean[:, k] * 500))
    again, _, _ = model.curve_and_mean(config, np.random.default_rng(0))
    assert np.array_equal(noisy, again)


def test_noisy_values_may_leave_the_observed_range_but_not_the_metric_domain(rounded_table,
                                                                              tmp_path):
    """The table's lowest value is one lucky draw: a floor there would make every later
    incumbent of a long noisy run tie at it. Noisy values are clipped to [0, 1] only."""
    params = tmp_path / "p.json"
    params.write_text(json.dumps(SMALL))
    fit_surrogate(rounded_table, tmp_path / "s", params)
    model = SurrogateModel.load(tmp_path / "s", rounded_table)
    k = model.metric_names.index("val_error")
    configs = rounded_table.config_dicts()
    means = [model.curve(c)[0][:, k].min() for c in configs]
    best = configs[int(np.argmin(means))]
    draws = np.stack([model.curve(best, np.random.default_rng(j))[0][:, k] for j in range(300)])
    assert draws.min() < model.best_observed
    assert draws.min() >= 0.0 and draws.max() <= 1.0


def test_noisy_curves_of_the_shipped_table_rise_and_spread_like_the_real_ones(tmp_path):
    """Fitted on the shipped table, the surrogate's noisy curves of its 600 configurations rise
    about as often as the recorded curves (27% of epoch steps; the former model-scale Gaussian
    noise: 40%) and spread over seeds as the repeated configurations do."""
    from surrogates.table import load_table

    root = Path(__file__).resolve().parents[1] / "surrogates" / "data"
    table = load_table(root / "resnet8_cifar10")
    timing = load_table(root / "resnet8_cifar10_timing")
    model = fit_surrogate(table, tmp_path / "s", timing=timing)
    k = model.metric_names.index(table.metric)
    draws = {}
    for cid, config in zip(table.configs.index, table.config_dicts(), strict=True):
        seeds = table.frame.loc[table.frame["config_id"] == cid, "seed"].nunique()
        draws[int(cid)] = np.stack([
            model.curve(config, np.random.default_rng([int(cid), j]))[0][:, k]
            for j in range(3 * seeds)])
    report = noise_report(table, draws)
    assert report["rise_share"]["data"] == pytest.approx(0.273, abs=0.001)
    assert abs(report["rise_share"]["relative_difference"]) < 0.15
    assert abs(report["seed_spread"]["relative_difference"]) < 0.15
