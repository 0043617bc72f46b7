"""Full-fidelity synthetic benchmarks (Branin, Hartmann-6) and the synthetic learning curves."""

from __future__ import annotations

import math

import pytest

from benchmarks.registry import make_objective
from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.synthetic import (
    SyntheticCurvesObjective,
    SyntheticObjective,
    branin,
    from_spec,
    hartmann6,
)
from hpo_methods.registry import make_method
from hpo_methods.space import SearchSpaceError

HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def test_branin_has_its_three_global_minima():
    for x1, x2 in ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)):
        assert branin(x1, x2) == pytest.approx(0.397887, abs=1e-6)
    assert branin(0.0, 0.0) == pytest.approx(36 + 10 * (1 - 1 / (8 * math.pi)) + 10)


def test_hartmann6_minimum_and_a_hand_computed_value():
    assert hartmann6(*HARTMANN6_ARGMIN) == pytest.approx(-3.32237, abs=1e-5)
    # at the origin term i is alpha_i exp(-sum_j A_ij P_ij^2): exponents 9.469, 27.5, 6.397, 12.38
    assert hartmann6(*[0.0] * 6) == pytest.approx(-0.0050891, rel=1e-4)


def test_objective_reports_one_epoch_with_the_value_and_the_optimum_is_known():
    objective = SyntheticObjective("branin", epoch_time=2.5)
    assert objective.max_epochs == 1 and objective.space.names == ["x1", "x2"]
    run = objective.start_trial(0, {"x1": math.pi, "x2": 2.275}, seed=1)
    result = run.next_epoch()
    assert result.metrics == {"val_error": pytest.approx(0.397887, abs=1e-6)}
    assert result.epoch_time == 2.5
    with pytest.raises(RuntimeError, match="single epoch"):
        run.next_epoch()
    assert objective.best_known_value() == pytest.approx(branin(math.pi, 2.275))
    hartmann = SyntheticObjective("hartmann6")
    assert hartmann.best_known_value() <= hartmann6(*HARTMANN6_ARGMIN)
    assert hartmann.describe()["function"] == "hartmann6"


def test_bad_input_gets_one_line_errors():
    with pytest.raises(ValueError, match="unknown synthetic function 'rosen'"):
        SyntheticObjective("rosen")
    with pytest.raises(ValueError, match="epoch_time must be a positive number"):
        SyntheticObjective("branin", epoch_time=0)
    with pytest.raises(ValueError, match=r"needs benchmark\.function"):
        from_spec({"name": "b", "kind": "synthetic"})
    with pytest.raises(SearchSpaceError, match="x1"):
        SyntheticObjective("branin").evaluate({"x1": 11.0, "x2": 1.0})


def test_registry_builds_the_configured_benchmarks():
    objective = make_objective(
        {"name": "branin", "kind": "synthetic", "function": "branin", "epoch_time": 216.0}
    )
    assert isinstance(objective, SyntheticObjective)
    assert objective.name == "branin" and objective.epoch_time == 216.0


def test_default_time_budget_gives_two_hundred_evaluations_with_four_workers():
    objective = SyntheticObjective("hartmann6", epoch_time=216.0)
    tuner = make_method("random", objective.problem(), 0)
    result = SimulatedBackend(tuner, objective, 4, Budget(time=10800), 0).run()
    assert result.summary["epochs"] == 200  # 50 rounds of 4 evaluations end exactly at 10800 s


def test_synthetic_curves_fall_to_their_floor():
    objective = SyntheticCurvesObjective(max_epochs=5)
    config = {"learning_rate": 10**-2.5, "momentum": 0.8, "batch_size": 60, "activation": "ReLU"}
    run = objective.start_trial(0, config, seed=0)
    errors = [run.next_epoch().metrics["val_error"] for _ in range(5)]
    assert errors[0] == pytest.approx(0.1 + 0.8 * math.exp(-1.0))
    assert errors == sorted(errors, reverse=True)
    assert run.next_epoch().epoch_time == 10.0 + 600.0 / 60
    assert objective.best_known_value() == pytest.approx(0.1 + 0.8 * math.exp(-1.19 * 5))
