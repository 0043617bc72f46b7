"""Constraints: how they are written, checked against a benchmark, modelled (constrained BO's
probability of feasibility) and analysed (feasible incumbents only)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from analysis.load import load_results
from analysis.trajectories import run_metrics
from benchmarks.argv import problem_override, rewrite
from benchmarks.tabular import TabularObjective
from hpo_methods.problem import Constraint, ProblemError
from hpo_methods.protocol import TrialStatus
from hpo_methods.searchers.constrained_bo import ConstrainedBOSearcher, log_feasibility
from hpo_methods.searchers.gp import GPModel
from hpo_methods.searchers.gp_bo import GPBOSearcher
from hpo_methods.space import SearchSpace
from tests.tables import synthetic_table

SPACE = SearchSpace.from_spec(
    {"x": {"type": "uniform", "low": 0.0, "high": 1.0},
     "y": {"type": "uniform", "low": 0.0, "high": 1.0}}
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("epoch_time<=1.75", ("epoch_time", 1.75, "<=")),
     ("epoch_time:le:1.75", ("epoch_time", 1.75, "<=")),
     ("peak_memory_mb >= 2e2", ("peak_memory_mb", 200.0, ">=")),
     ("peak_memory_mb:ge:200", ("peak_memory_mb", 200.0, ">="))],
)  # fmt: skip
def test_constraint_forms(text, expected):
    c = Constraint.parse(text)
    assert (c.metric, c.bound, c.sense) == expected


def test_a_malformed_constraint_says_how_to_write_one():
    with pytest.raises(ProblemError, match="write it as metric<=bound or metric>=bound"):
        Constraint.parse("epoch_time:lt:1")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("benchmark.constraints=[epoch_time<=1.8]", "++benchmark.constraints=['epoch_time<=1.8']"),
     ("benchmark.constraints=epoch_time<=1.8", "++benchmark.constraints=['epoch_time<=1.8']"),
     ("benchmark.constraints=[a<=1,b>=2e-3]", "++benchmark.constraints=['a<=1','b>=2e-3']"),
     ("+benchmark.constraints=['a<=1']", "+benchmark.constraints=['a<=1']"),
     ("benchmark.constraints=[a:le:1]", "++benchmark.constraints=[a:le:1]"),
     ("benchmark.objectives=[val_error,epoch_time]",
      "++benchmark.objectives=[val_error,epoch_time]"),
     ("seed=3", "seed=3")],
)  # fmt: skip
def test_constraint_overrides_are_made_hydra_safe(arg, expected):
    assert problem_override(arg) == expected
    OverridesParser.create().parse_overrides([expected])  # Hydra's grammar accepts it
    assert "--multirun" not in rewrite([arg])  # a list of constraints is not a sweep


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "t"
    synthetic_table(path, n_configs=8, max_epochs=3)
    return path


def test_a_bound_outside_the_benchmark_range_is_refused(table):
    objective = TabularObjective(table)
    low, high = objective.metric_range("epoch_time")
    assert 10.0 < low < high <= 10.0 + 600.0 / 8  # epoch times of the synthetic table
    objective.problem(constraints=[f"epoch_time<={(low + high) / 2}"])  # inside: fine
    with pytest.raises(ProblemError, match=r"outside the range .* so no configuration would"):
        objective.problem(constraints=[f"epoch_time<={low - 1}"])
    with pytest.raises(ProblemError, match="so every configuration would be feasible"):
        objective.problem(constraints=[f"epoch_time<={high + 1}"])
    with pytest.raises(ProblemError, match="so no configuration would be feasible"):
        objective.problem(constraints=[f"val_error>={objective.metric_range('val_error')[1]}"])
    assert set(objective.metric_ranges()) == {"val_error", "train_loss", "epoch_time"}


CLI_CASES = [
    (["benchmark.objectives=[val_error,nope]", "method=moasha"],
     "error: objective 'nope' is not a metric of this benchmark; its metrics: val_error, "
     "train_loss, epoch_time"),
    (["benchmark.constraints=[nope<=1]"],
     "error: constraint 'nope' is not a metric of this benchmark"),
    (["benchmark.constraints=[epoch_time<=1]"],
     "error: constraint epoch_time<=1: the bound is outside the range of epoch_time on "
     "benchmark 'tabular' ([15.3571, 85]), so no configuration would be feasible"),
    (["benchmark.constraints=[epoch_time:lt:1]"],
     "error: constraint 'epoch_time:lt:1': write it as metric<=bound"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), CLI_CASES, ids=[c[1][7:40] for c in CLI_CASES])
def test_bad_objectives_and_constraints_are_one_line_errors(table, tmp_path, overrides, message):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "benchmark=tabular", f"benchmark.table={table}",
         *overrides, "budget.trials=2", "results_dir=out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert not (tmp_path / "out").exists()


def test_a_constrained_run_records_its_problem_and_analysis_counts_feasible_reports(
    table, tmp_path
):
    objective = TabularObjective(table)
    low, high = objective.metric_range("epoch_time")
    bound = (low + high) / 2
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "benchmark=tabular", f"benchmark.table={table}",
         "method=cbo", f"benchmark.constraints=[epoch_time<={bound}]", "budget.trials=8",
         "n_workers=2", "results_dir=out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = json.loads(next((tmp_path / "out").rglob("run.json")).read_text())
    assert info["problem"]["constraints"] == [f"epoch_time<={bound!r}"]  # exact, not rounded
    assert info["metric_ranges"]["epoch_time"] == [low, high]
    results = load_results(tmp_path / "out")
    reports = results.reports
    assert results.runs["metric"].iloc[0] == "feasible_val_error"
    assert (reports["feasible"] == (reports["epoch_time"] <= bound)).all()
    best_feasible = reports.loc[reports["feasible"], "val_error"].min()
    assert run_metrics(results)["final"].iloc[0] == pytest.approx(best_feasible)


def test_the_run_summary_counts_feasible_reports_only(table, tmp_path):
    """Random search proposes the same trials with or without a constraint: the constraint is
    put just below the epoch time of the unconstrained run's best report, making it infeasible;
    the summary in run.json and the closing lines then give the best feasible value."""
    def run(*overrides):
        out = tmp_path / f"out{len(overrides)}"
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks", "benchmark=tabular", f"benchmark.table={table}",
             "method=random", "budget.trials=6", f"results_dir={out}", *overrides],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout, load_results(out)

    _, free = run()
    best = free.reports.loc[free.reports["val_error"].idxmin()]
    low, _ = TabularObjective(table).metric_range("epoch_time")
    assert best["epoch_time"] > low  # so a bound below it is inside the range
    bound = float(best["epoch_time"]) - 1e-6
    stdout, constrained = run(f"benchmark.constraints=[epoch_time<={bound!r}]")
    reports = constrained.reports
    assert reports["val_error"].tolist() == free.reports["val_error"].tolist()  # same trials
    best_feasible = reports.loc[reports["epoch_time"] <= bound, "val_error"].min()
    assert best_feasible > best["val_error"]
    info = json.loads(next((tmp_path / "out1").rglob("run.json")).read_text())
    assert info["summary"]["best_val_error"] == pytest.approx(best_feasible)
    assert f"best feasible val_error {best_feasible:.4f}" in stdout
    assert "tabular: best feasible val_error at the end" in stdout


def test_feasible_incumbents_never_count_an_infeasible_report(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    info = {"benchmark": "toy", "method": "m", "seed": 0, "status": "complete",
            "objective": {"name": "toy", "metric": "val_error", "max_epochs": 1},
            "best_known_value": 0.1, "worst_known_value": 0.9,
            "problem": {"objectives": [{"metric": "val_error", "mode": "min"}],
                        "constraints": ["epoch_time<=1.75"]}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "config.yaml").write_text("budget:\n  time: 10\n")
    reports = pd.DataFrame({"trial_id": [0, 1, 2, 3], "epoch": 1, "time": [1.0, 2.0, 3.0, 4.0],
                            "val_error": [0.5, 0.7, 0.4, 0.6],
                            "epoch_time": [2.0, 1.0, 3.0, 1.5]})  # fmt: skip
    reports.to_parquet(folder / "reports.parquet")
    reports[["trial_id"]].to_parquet(folder / "trials.parquet")
    results = load_results(tmp_path)
    # the worst known value until the first feasible report, then 0.7, then 0.6 (0.5 and 0.4
    # were infeasible)
    np.testing.assert_allclose(results.reports["feasible_val_error"], [0.9, 0.7, 0.9, 0.6])
    metrics = run_metrics(results)
    assert metrics["final"].iloc[0] == pytest.approx(0.6)
    assert metrics["regret"].iloc[0] == pytest.approx((0.6 - 0.1) / 0.8)


# -- constrained BO -----------------------------------------------------------------------------


def test_probability_of_feasibility_follows_the_constraint_model():
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    model = GPModel(2, 0)
    model.fit(x, x[:, 0], optimize=True)  # the constrained metric is the first input
    points = np.array([[0.1, 0.5], [0.5, 0.5], [0.9, 0.5]])
    below = np.exp(log_feasibility(model, Constraint("c", 0.5, "<="), points))
    above = np.exp(log_feasibility(model, Constraint("c", 0.5, ">="), points))
    assert below[0] > 0.95 and below[2] < 0.05 and 0.2 < below[1] < 0.8
    np.testing.assert_allclose(below + above, 1.0)


def drive(searcher, evaluate, n):
    """Propose, evaluate and complete ``n`` trials one at a time; the configurations."""
    configs = []
    for t in range(n):
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        value, metrics = evaluate(config)
        searcher.observe(t, 1, value, metrics)
        searcher.on_status(t, TrialStatus.COMPLETED)
        configs.append(config)
    return configs


def constrained_toy(config):
    """Minimise -x (best at x = 1) subject to c = x + 0.2 y <= 0.5."""
    c = config["x"] + 0.2 * config["y"]
    return -config["x"], {"val_error": -config["x"], "c": c}


def test_constrained_bo_proposes_feasible_configurations_where_bo_does_not():
    constraint = Constraint("c", 0.5, "<=")
    cbo = ConstrainedBOSearcher(SPACE, 1, 1, (constraint,), n_initial=6)
    bo = GPBOSearcher(SPACE, 1, 1, n_initial=6)
    cbo_configs = drive(cbo, constrained_toy, 20)
    bo_configs = drive(bo, constrained_toy, 20)
    assert cbo_configs[:6] == bo_configs[:6]  # the same initial design

    def near_feasible(configs):  # the optimum lies on the bound: allow 2% beyond it
        return sum(constrained_toy(c)[1]["c"] <= 0.51 for c in configs[6:])

    assert near_feasible(cbo_configs) >= 12 and near_feasible(bo_configs) <= 2
    data = cbo.training_data()
    rows = [constrained_toy(cbo.trials[t].config)[1]["c"] <= 0.5 for t in data.trial_ids]
    assert data.incumbent_rows.tolist() == rows  # the incumbent is the best feasible value


def test_constrained_bo_without_a_feasible_observation_maximises_feasibility():
    constraint = Constraint("c", 0.1, "<=")
    searcher = ConstrainedBOSearcher(SPACE, 0, 1, (constraint,), n_initial=2)
    rng = np.random.default_rng(0)
    for t in range(8):  # every observation infeasible (c = x >= 0.4)
        config = {"x": 0.4 + 0.6 * float(rng.random()), "y": float(rng.random())}
        searcher.on_trial_start(t, config)
        searcher.observe(t, 1, -config["x"], {"val_error": -config["x"], "c": config["x"]})
        searcher.on_status(t, TrialStatus.COMPLETED)
    config = searcher.propose()
    assert searcher.sources[-1] == "model" and not searcher.training_data().incumbent_rows.any()
    assert config["x"] < 0.4  # towards feasibility, although the objective rewards large x
