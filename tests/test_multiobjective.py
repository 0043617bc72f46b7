"""Multi-objective methods and analysis: Pareto ranking, MO-ASHA's rungs, ParEGO, hypervolume."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis.load import load_results
from analysis.multiobjective import HV_SCORE, hypervolume, normalise, running_hypervolume
from analysis.regression import make_baseline
from analysis.trajectories import run_metrics
from hpo_methods import pareto
from hpo_methods.problem import Goal, Problem
from hpo_methods.protocol import Decision
from hpo_methods.registry import make_method, multi_objective_names
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.schedulers.moasha import MOASHAScheduler
from hpo_methods.searchers.parego import ParEGOSearcher, chebyshev, weight_lattice
from hpo_methods.space import SearchSpace
from tests.driving import resumed_trials, start_trials

SPACE = SearchSpace.from_spec(
    {"x": {"type": "uniform", "low": 0.0, "high": 1.0},
     "y": {"type": "uniform", "low": 0.0, "high": 1.0}}
)  # fmt: skip


def two_objectives(max_epochs: int = 9) -> Problem:
    return Problem(SPACE, max_epochs, objectives=(Goal("val_error"), Goal("epoch_time")))


# -- non-dominated sorting and tie-breaks -------------------------------------------------------


def test_non_dominated_fronts_of_a_hand_made_set():
    points = np.array([[1, 5], [2, 3], [3, 4], [4, 1], [5, 5], [2, 3], [math.inf, 0]])
    fronts = [f.tolist() for f in pareto.non_dominated_fronts(points)]
    # (2, 3) twice: equal points do not dominate each other; a non-finite point goes last
    assert fronts == [[0, 1, 3, 5], [2], [4], [6]]
    assert pareto.pareto_ranks(points).tolist() == [0, 0, 1, 0, 2, 0, 3]


def test_non_dominated_fronts_three_objectives_by_hand():
    points = np.array([[1, 1, 1], [0, 2, 2], [1, 1, 2], [2, 2, 2], [0, 2, 2]])
    fronts = [f.tolist() for f in pareto.non_dominated_fronts(points)]
    assert fronts == [[0, 1, 4], [2], [3]]


@pytest.mark.parametrize("k", [2, 3])
def test_non_dominated_ranks_agree_with_moocore(k):
    moocore = pytest.importorskip("moocore")
    rng = np.random.default_rng(k)
    for _ in range(50):
        points = rng.integers(0, 5, size=(int(rng.integers(1, 40)), k)).astype(float)
        assert pareto.pareto_ranks(points).tolist() == moocore.pareto_rank(points).tolist()


def test_crowding_distance_by_hand():
    front = np.array([[0, 10], [1, 6], [4, 5], [10, 0]], dtype=float)
    # (1, 6): (4 - 0) / 10 + (10 - 5) / 10; (4, 5): (10 - 1) / 10 + (6 - 0) / 10
    np.testing.assert_allclose(pareto.crowding_distance(front), [np.inf, 0.9, 1.5, np.inf])
    assert np.isinf(pareto.crowding_distance(front[:2])).all()


def test_epsilon_net_order_by_hand():
    front = np.array([[0, 1], [0.1, 0.9], [0.5, 0.5], [1, 0]])
    # best first objective, then the farthest point, then the one farthest from both
    assert pareto.epsilon_net_order(front).tolist() == [0, 3, 2, 1]


def test_pareto_order_by_front_then_tie_break():
    points = np.array([[0.5, 0.5], [0.2, 0.9], [0.9, 0.2], [0.6, 0.6], [0.3, 0.8]])
    assert pareto.pareto_order(points, "epsnet").tolist() == [1, 2, 0, 4, 3]
    # crowding: the extremes (inf) first, then (0.5, 0.5): 0.6/0.7 + 0.6/0.7 > (0.3, 0.8)'s
    assert pareto.pareto_order(points, "nsga2").tolist() == [1, 2, 0, 4, 3]
    assert pareto.pareto_position(points, 4, "epsnet") == 3
    with pytest.raises(ValueError, match="tie_break must be one of"):
        pareto.pareto_order(points, "random")


# -- MO-ASHA ------------------------------------------------------------------------------------


RUNG = [(0.5, 0.5), (0.2, 0.9), (0.9, 0.2), (0.6, 0.6), (0.3, 0.8), (0.95, 0.95)]


def report_rung(method, ids, values, epoch=1):
    return [
        method.report(t, epoch, {"val_error": v[0], "epoch_time": v[1]})
        for t, v in zip(ids, values, strict=True)
    ]


def test_moasha_promotes_the_spread_of_the_first_front_of_a_hand_made_rung():
    method = make_method("moasha", two_objectives(), 0, variant="promotion")
    ids = start_trials(method, 6)
    assert report_rung(method, ids, RUNG) == [Decision.PAUSE] * 6
    # 6 trials at rung 1: floor(6 / 3) = 2 promotions. The first front is trials 0, 1, 2, 4;
    # the epsilon-net takes the best in val_error (1), then the farthest from it (2). ASHA on
    # val_error alone would promote 1 and 4.
    assert resumed_trials(method) == [1, 2]


def test_moasha_stopping_ranks_a_new_trial_among_the_rung():
    method = make_method("moasha", two_objectives(), 0)
    ids = start_trials(method, 6)
    decisions = report_rung(method, ids, RUNG)
    # t0 first: continue. t1 (n = 2, must be first): first by the epsilon-net. t2 (n = 3, must
    # be first): second. t3 dominated. t4 (n = 5, position <= 4/3): the epsilon-net of
    # {t0, t1, t2, t4} is t1, t2, t0, t4: fourth. t5 dominated.
    assert decisions == [Decision.CONTINUE, Decision.CONTINUE, Decision.STOP, Decision.STOP,
                         Decision.STOP, Decision.STOP]  # fmt: skip


def test_moasha_with_one_objective_decides_as_asha():
    rng = np.random.default_rng(3)
    asha = ASHAScheduler(27, 0, 1, 3, "stopping")
    moasha = MOASHAScheduler(27, 0, 1, 3, "stopping")
    for trial_id in range(200):
        value = float(rng.random())
        for epoch in (1, 3, 9):
            a = asha.on_report(trial_id, epoch, value)
            assert moasha.on_report(trial_id, epoch, (value,)) == a
            if a == Decision.STOP:
                break
            value *= 0.9


# -- ParEGO -------------------------------------------------------------------------------------


def test_parego_weights_and_scalarisation():
    lattice = weight_lattice(2)
    assert len(lattice) == 12 and len(weight_lattice(3)) == 21
    np.testing.assert_allclose(lattice.sum(axis=1), 1.0)
    # max(0.3 * 0.5, 0.7 * 0.2) + 0.05 * (0.15 + 0.14)
    assert chebyshev(np.array([[0.5, 0.2]]), np.array([0.3, 0.7]))[0] == pytest.approx(
        0.15 + 0.05 * 0.29
    )


def test_parego_models_the_scalarisation_of_the_current_weight():
    searcher = ParEGOSearcher(SPACE, 0, 1, 2, n_initial=4)
    values = {}
    for t in range(6):
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        values[t] = (config["x"], 1.0 - config["x"] + 0.1 * config["y"])
        searcher.observe(t, 1, values[t], {"val_error": values[t][0]})
        searcher.on_status(t, "completed")
    keys = set()
    for t in range(6, 9):
        config = searcher.propose()
        keys.add(searcher.model_key())
        data = searcher.training_data()
        vectors = np.array([values[i] for i in data.trial_ids])
        low, high = vectors.min(axis=0), vectors.max(axis=0)
        expected = chebyshev((vectors - low) / (high - low), searcher.weights)
        np.testing.assert_allclose(data.values, expected)
        searcher.on_trial_start(t, config)
        values[t] = (config["x"], 1.0 - config["x"])
        searcher.observe(t, 1, values[t], {})
        searcher.on_status(t, "completed")
    assert len(keys) == 3  # a new weight (a new model) per proposal
    assert searcher.sources[-3:] == ["model"] * 3


def test_multi_objective_methods_are_registered_as_such():
    # the built-in ones and the library adapters whose samplers handle several objectives
    assert multi_objective_names() == ["moasha", "morandom", "optuna_gp", "optuna_nsga2",
                                       "optuna_tpe", "parego"]


# -- hypervolume ----------------------------------------------------------------------------------


def test_hypervolume_of_a_hand_computed_2d_front():
    points = np.array([[0.2, 0.6], [0.4, 0.3], [0.7, 0.1]])
    # reference (1, 1): 0.2 * 0.4 + 0.3 * 0.7 + 0.3 * 0.9
    assert hypervolume(points) == pytest.approx(0.56)
    stream = np.vstack([points, [[0.5, 0.5], [1.2, 0.0], [np.nan, 0.1]]])
    # 0.8 * 0.4, then + 0.6 * 0.3, then + 0.3 * 0.2; a dominated point, one outside the
    # reference box and an infeasible (NaN) one add nothing
    np.testing.assert_allclose(running_hypervolume(stream), [0.32, 0.50, 0.56, 0.56, 0.56, 0.56])
    assert hypervolume(np.zeros((0, 2))) == 0.0


def test_normalise_by_fixed_ranges_and_directions():
    values = np.array([[0.6, 10.0], [0.8, 30.0]])
    ranges = {"err": (0.5, 1.0), "acc": (0.0, 40.0)}
    out = normalise(values, (("err", "min"), ("acc", "max")), ranges)
    np.testing.assert_allclose(out, [[0.2, 0.75], [0.6, 0.25]])


def test_a_report_beyond_the_best_end_of_the_range_counts_as_reaching_it():
    """A noisy report may beat the table's best value (itself one lucky draw): the hypervolume
    stays a share of the unit box."""
    values = np.array([[0.4, 50.0], [0.45, 10.0]])  # err below its range, acc above its range
    ranges = {"err": (0.5, 1.0), "acc": (0.0, 40.0)}
    out = normalise(values, (("err", "min"), ("acc", "max")), ranges)
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.0, 0.75]])
    assert hypervolume(out) == pytest.approx(1.0)


def write_run(folder, method, seed, reports, problem, ranges, budget=10.0):
    folder.mkdir(parents=True)
    info = {"benchmark": "toy_mo", "method": method, "seed": seed, "status": "complete",
            "n_workers": 1, "backend": "simulated",
            "objective": {"name": "toy_mo", "metric": "val_error", "max_epochs": 1},
            "best_known_value": 0.0, "worst_known_value": 1.0,
            "problem": problem, "metric_ranges": ranges}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "config.yaml").write_text(f"budget:\n  time: {budget}\nn_workers: 1\n")
    pd.DataFrame(reports).to_parquet(folder / "reports.parquet")
    pd.DataFrame({"trial_id": [r["trial_id"] for r in reports]}).to_parquet(
        folder / "trials.parquet"
    )


def test_analysis_scores_multi_objective_runs_by_hypervolume(tmp_path):
    problem = {"objectives": [{"metric": "val_error", "mode": "min"},
                              {"metric": "epoch_time", "mode": "min"}], "constraints": []}
    ranges = {"val_error": [0.0, 1.0], "epoch_time": [0.0, 10.0]}
    reports = [{"trial_id": i, "epoch": 1, "time": float(t), "val_error": v, "epoch_time": c}
               for i, (t, v, c) in enumerate([(1, 0.2, 6.0), (2, 0.4, 3.0), (3, 0.7, 1.0)])]
    write_run(tmp_path / "a", "m", 0, reports, problem, ranges)
    results = load_results(tmp_path)
    run = results.runs.iloc[0]
    assert run["metric"] == HV_SCORE and run["raw_metric"] == "val_error"
    np.testing.assert_allclose(results.reports["hypervolume"], [0.32, 0.50, 0.56])
    metrics = run_metrics(results)
    assert metrics["final"].iloc[0] == pytest.approx(1 - 0.56)
    identity = make_baseline(results)["benchmarks"]["toy_mo"]["identity"]["objective"]
    assert identity["problem"]["hv_ranges"] == {"val_error": [0.0, 1.0], "epoch_time": [0.0, 10.0]}


def test_figures_put_the_hypervolume_table_in_the_summary_not_among_missing_figures(
        tmp_path, capsys):
    from analysis.figures import main

    problem = {"objectives": [{"metric": "val_error", "mode": "min"},
                              {"metric": "epoch_time", "mode": "min"}], "constraints": []}
    ranges = {"val_error": [0.0, 1.0], "epoch_time": [0.0, 10.0]}
    for seed in range(2):
        reports = [{"trial_id": i, "epoch": 1, "time": float(t), "val_error": v + 0.01 * seed,
                    "epoch_time": c, "decision": "continue"}
                   for i, (t, v, c) in enumerate([(1, 0.2, 6.0), (2, 0.4, 3.0), (3, 0.7, 1.0)])]
        write_run(tmp_path / "r" / f"s{seed}", "m", seed, reports, problem, ranges)
    assert main([str(tmp_path / "r"), "--out", str(tmp_path / "figs")]) == 0
    printed = capsys.readouterr().out
    assert "hypervolume_toy_mo" in printed
    assert "Hypervolume" not in printed  # a table, not a figure that was not drawn
    summary = (tmp_path / "figs" / "summary.md").read_text()
    assert "## Hypervolume: toy_mo" in summary


def test_a_single_objective_method_on_a_multi_objective_benchmark_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "method=bo", "benchmark=branin",
         "benchmark.objectives=[val_error,epoch_time]", "budget.trials=3",
         "results_dir=out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: method 'bo' optimises one objective, and this benchmark "
                               "has 2 (min val_error, min epoch_time); pick a multi-objective "
                               "method: moasha, morandom, optuna_gp, optuna_nsga2, optuna_tpe, "
                               "parego")  # fmt: skip
    assert not (tmp_path / "out").exists()
