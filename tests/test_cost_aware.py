"""Cost-aware BO: EI per unit of predicted cost, cooled as the budget is spent."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from benchmarks.argv import CONF_DIR
from benchmarks.settings import settings_from_config
from hpo_methods.problem import Problem
from hpo_methods.protocol import TrialStatus
from hpo_methods.registry import make_method
from hpo_methods.searchers.cost_aware_bo import CostAwareBOSearcher
from hpo_methods.searchers.gp_bo import GPBOSearcher
from hpo_methods.space import SearchSpace

SPACE = SearchSpace.from_spec(
    {"x": {"type": "uniform", "low": 0.0, "high": 1.0},
     "y": {"type": "uniform", "low": 0.0, "high": 1.0}}
)  # fmt: skip
EPOCHS = 3


def epoch_cost(config) -> float:
    """Seconds per epoch: 1 s at y = 0, 20 s at y = 1; y does not change the objective."""
    return math.exp(3.0 * config["y"])


def objective(config) -> float:
    return (config["x"] - 0.3) ** 2


def drive(searcher, n):
    """Propose, train ``EPOCHS`` epochs (each reporting its cost) and complete ``n`` trials."""
    configs = []
    for t in range(n):
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        for epoch in range(1, EPOCHS + 1):
            value = objective(config)
            metrics = {"val_error": value, "epoch_time": epoch_cost(config)}
            searcher.observe(t, epoch, value, metrics)
        searcher.on_status(t, TrialStatus.COMPLETED)
        configs.append(config)
    return configs


def test_cost_aware_bo_prefers_cheap_configurations_early():
    budget = 1e6  # barely spent: the exponent stays near 1
    cabo = CostAwareBOSearcher(SPACE, 0, EPOCHS, budget=budget, n_initial=6)
    bo = GPBOSearcher(SPACE, 0, EPOCHS, n_initial=6)
    cheap = [epoch_cost(c) for c in drive(cabo, 16)[6:]]
    plain = [epoch_cost(c) for c in drive(bo, 16)[6:]]
    assert cabo.sources[6:] == ["model"] * 10 and 0.99 < cabo.alpha <= 1.0
    assert np.median(cheap) < 2.0 < np.median(plain)
    assert np.median(cheap) < np.median(plain) / 3


def test_the_cost_model_learns_the_total_cost_of_a_trial():
    searcher = CostAwareBOSearcher(SPACE, 0, EPOCHS, n_initial=4)
    configs = drive(searcher, 8)
    assert searcher.trial_cost(0) == pytest.approx(EPOCHS * epoch_cost(configs[0]))
    assert searcher.spent == pytest.approx(sum(EPOCHS * epoch_cost(c) for c in configs))
    searcher._fit_cost()
    points = SPACE.encode_many([{"x": 0.5, "y": 0.1}, {"x": 0.5, "y": 0.9}])
    predicted = np.exp(searcher.predicted_log_cost(points))
    expected = [EPOCHS * epoch_cost({"y": 0.1}), EPOCHS * epoch_cost({"y": 0.9})]
    np.testing.assert_allclose(predicted, expected, rtol=0.3)


def test_cost_cooling_goes_from_one_to_zero_as_the_budget_is_spent():
    searcher = CostAwareBOSearcher(SPACE, 0, EPOCHS, budget=1000.0, n_initial=2)
    assert searcher.cost_exponent() == 1.0  # before the first model-based proposal
    searcher.spent_at_start = 200.0
    for spent, alpha in [(200.0, 1.0), (600.0, 0.5), (1000.0, 0.0), (1500.0, 0.0)]:
        searcher.spent = spent
        assert searcher.cost_exponent() == pytest.approx(alpha)
    searcher.cooling = False
    assert searcher.cost_exponent() == 1.0  # EI per second
    searcher = CostAwareBOSearcher(SPACE, 0, EPOCHS, budget=None, n_initial=2)
    searcher.spent_at_start, searcher.spent = 0.0, 1e9
    assert searcher.cost_exponent() == 1.0  # no budget to cool towards


def test_the_cost_budget_comes_from_the_run_budget_and_workers():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", ["method=cabo", "budget.time=600", "n_workers=3"])
    settings = settings_from_config(cfg)
    assert settings.method_settings["budget_time"] == 600
    assert settings.method_settings["n_workers"] == 3
    problem = Problem(SPACE, EPOCHS)
    method = make_method("cabo", problem, 0, **settings.method_settings)
    assert method.searcher.budget == 1800.0
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1"):
        make_method("cabo", problem, 0, n_workers=0)
