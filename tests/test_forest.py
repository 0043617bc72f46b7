"""CurveForest: the same numbers as XGBoost's own predictions, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from surrogates.forest import CurveForest, ForestError
from surrogates.model import SurrogateModel

SHIPPED = "surrogates/data/resnet8_cifar10/surrogate"


def xgboost_rows(booster: xgb.Booster, features: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    rows = np.empty((len(epochs), len(features) + 1))
    rows[:, :-1] = features
    rows[:, -1] = epochs
    return booster.inplace_predict(rows, validate_features=False).reshape(len(epochs), -1)


@pytest.fixture(scope="module")
def shipped() -> SurrogateModel:
    return SurrogateModel.load(SHIPPED)


@pytest.fixture(scope="module")
def categorical_booster() -> xgb.Booster:
    """Three outputs, a 5-category feature with category-dependent curves, 40 rounds."""
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "x": rng.uniform(-1, 1, n),
            "kind": pd.Categorical(rng.integers(0, 5, n), categories=range(5)),
            "epoch": rng.integers(1, 31, n).astype(float),
        }
    )
    code = frame["kind"].cat.codes.to_numpy()
    base = np.sin(3 * frame["x"]) + np.where(np.isin(code, [1, 3]), 1.0, -0.5)
    y = np.column_stack(
        [base / frame["epoch"], base * np.log(frame["epoch"]), code * frame["x"] ** 2]
    )
    data = xgb.DMatrix(frame, y + rng.normal(0, 0.05, y.shape), enable_categorical=True)
    params = {"max_depth": 5, "eta": 0.3, "nthread": 1, "max_cat_to_onehot": 1}
    return xgb.train(params, data, 40)


def test_shipped_model_curves_equal_xgboost(shipped: SurrogateModel) -> None:
    forest = CurveForest(shipped.booster)
    rng = np.random.default_rng(1)
    epochs = np.arange(1, shipped.max_epochs + 1, dtype=float)
    for _ in range(60):
        features = shipped.encoder.encode_config(shipped.space.sample(rng))
        expected = xgboost_rows(shipped.booster, features, epochs)
        assert np.array_equal(forest.curve(features, epochs), expected)


def test_far_outside_the_table_and_any_epochs(shipped: SurrogateModel) -> None:
    forest = CurveForest(shipped.booster)
    rng = np.random.default_rng(2)
    n_hp = forest.n_features - 1  # the hyperparameters and the features derived from them
    for i in range(60):
        features = rng.uniform(-1e3, 1e3, n_hp)
        if i % 4 == 0:
            features[rng.integers(n_hp)] = np.nan  # missing: the node's default direction
        epochs = np.sort(rng.choice(np.arange(-3.0, 60.0), size=rng.integers(1, 12), replace=False))
        assert np.array_equal(
            forest.curve(features, epochs), xgboost_rows(shipped.booster, features, epochs)
        )


def test_categorical_splits_and_several_outputs(categorical_booster: xgb.Booster) -> None:
    forest = CurveForest(categorical_booster)
    assert forest.n_outputs == 3
    assert (forest.nodes[:, 1] & (1 << 16)).any(), "the booster should have categorical splits"
    epochs = np.arange(1.0, 31.0)
    for code in range(5):  # every category, including the ones sent right
        for x in np.linspace(-1.5, 1.5, 7):
            features = np.array([x, code])
            assert np.array_equal(
                forest.curve(features, epochs), xgboost_rows(categorical_booster, features, epochs)
            )


def test_surrogate_curve_is_the_xgboost_curve(shipped: SurrogateModel) -> None:
    """SurrogateModel.curve (forest path) equals the mean curve XGBoost gives for the same rows."""
    rng = np.random.default_rng(3)
    configs = [shipped.space.sample(rng) for _ in range(10)]
    batch = shipped.mean_curves(configs)  # XGBoost inplace_predict on all rows at once
    for i, config in enumerate(configs):
        metrics, times = shipped.curve(config)
        assert np.array_equal(metrics, batch[i, :, :-1])
        assert np.array_equal(times, batch[i, :, -1])


def test_descending_epochs_are_refused(shipped: SurrogateModel) -> None:
    features = shipped.encoder.encode_config(shipped.space.sample(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="ascending"):
        shipped.forest.curve(features, np.array([3.0, 1.0]))


def test_a_linear_booster_is_refused() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((50, 2))
    booster = xgb.train({"booster": "gblinear"}, xgb.DMatrix(x, x[:, 0]), 2)
    with pytest.raises(ForestError, match="gbtree"):
        CurveForest(booster)
