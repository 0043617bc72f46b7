"""The problem a method solves: objectives with directions, constraints, every metric reported."""

import math

import pytest

from benchmarks.simulated import SimulatedBackend
from benchmarks.tuning import Budget
from hpo_methods.problem import Constraint, Goal, Problem, ProblemError
from hpo_methods.protocol import Decision, Method, TuningMethod
from hpo_methods.registry import make_method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace
from tests.tables import synthetic_table

SPACE = SearchSpace.from_spec({"x": {"type": "uniform", "low": 0.0, "high": 1.0}})
METRICS = ("val_error", "latency_ms", "accuracy", "epoch_time")


def test_values_are_minimised_and_non_finite_is_infinitely_bad():
    problem = Problem(
        SPACE, 3, (Goal("val_error"), Goal("accuracy", "max")), metrics=METRICS
    )
    assert problem.multi_objective and problem.metric == "val_error"
    assert problem.values({"val_error": 0.25, "accuracy": 0.75}) == (0.25, -0.75)
    assert problem.value({"val_error": float("nan")}) == math.inf
    assert problem.values({"val_error": 0.5}) == (0.5, math.inf)  # a missing metric


def test_constraints_parse_and_measure_their_violation():
    c = Constraint.parse("latency_ms<=2.5")
    assert (c.metric, c.bound, c.sense) == ("latency_ms", 2.5, "<=")
    assert c.violation({"latency_ms": 2.0}) == 0.0
    assert c.violation({"latency_ms": 3.0}) == pytest.approx(0.5)
    assert c.violation({}) == math.inf
    low = Constraint.parse({"metric": "accuracy", "bound": 0.9, "sense": ">="})
    assert low.violation({"accuracy": 0.8}) == pytest.approx(0.1)
    problem = Problem(SPACE, 3, constraints=(c, low), metrics=METRICS)
    assert problem.feasible({"latency_ms": 1, "accuracy": 0.95})
    assert not problem.feasible({"latency_ms": 1, "accuracy": 0.5})
    assert str(c) == "latency_ms<=2.5"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency_ms < 3", "write it as metric<=bound"),
        ("latency_ms<=fast", "the bound is not a number"),
        ({"metric": "latency_ms"}, "a constraint is"),
        ({"metric": "latency_ms", "bound": 1, "sense": "=="}, "sense must be <= or >="),
    ],
)
def test_bad_constraints_get_one_line_errors(spec, message):
    with pytest.raises(ProblemError, match=message):
        Constraint.parse(spec)


def test_objectives_and_constraints_must_name_metrics_of_the_benchmark():
    with pytest.raises(ProblemError, match="objective 'latency' is not a metric of this benchmark"):
        Problem(SPACE, 3, (Goal("latency"),), metrics=METRICS)
    with pytest.raises(ProblemError, match="constraint 'memory' is not a metric"):
        Problem(SPACE, 3, constraints=(Constraint("memory", 1.0),), metrics=METRICS)
    with pytest.raises(ProblemError, match="mode must be min or max"):
        Goal("val_error", "minimise")


class Recording(Method):
    """Random search that keeps what the backend reported."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(RandomSearcher(problem.space, 0, problem.max_epochs),
                         FIFOScheduler(problem.max_epochs, 0), problem)
        self.seen: list[dict] = []

    def report(self, trial_id, epoch, metrics):
        self.seen.append(dict(metrics))
        return super().report(trial_id, epoch, metrics)


def test_the_backend_reports_every_metric_and_the_epoch_cost(tmp_path):
    from benchmarks.tabular import TabularObjective

    objective = TabularObjective(synthetic_table(tmp_path, n_configs=5, max_epochs=3))
    method = Recording(objective.problem())
    assert isinstance(method, TuningMethod)
    result = SimulatedBackend(method, objective, 2, Budget(trials=3), seed=0).run()
    assert len(method.seen) == len(result.reports) == 9
    for seen, row in zip(method.seen, result.reports, strict=True):
        assert set(seen) == {*objective.metric_names, "epoch_time"}
        assert seen["epoch_time"] == row["epoch_time"] > 0
        assert seen["val_error"] == row["val_error"]
    trial = method.searcher.trials[0]
    assert trial.metrics[3]["val_error"] == trial.values[3]


def test_a_maximised_objective_is_negated_for_the_method():
    problem = Problem(SPACE, 1, (Goal("accuracy", "max"),), metrics=METRICS)
    method = make_method("random", problem, 0)
    suggestion = method.suggest()
    assert method.report(suggestion.trial_id, 1, {"accuracy": 0.9}) == Decision.CONTINUE
    assert method.searcher.trials[0].values[1] == -0.9


def test_a_single_objective_method_refuses_a_multi_objective_problem():
    problem = Problem(SPACE, 3, (Goal("val_error"), Goal("latency_ms")), metrics=METRICS)
    with pytest.raises(ValueError, match="method 'bo' optimises one objective, and this "
                       "benchmark has 2 \\(min val_error, min latency_ms\\)"):
        make_method("bo", problem, 0)
