"""Noise-free ("true") values in results and the ``--score true|observed`` of the analysis.

A hand-made table with known seed means checks the tabular objective, a whole run and the
analysis against values computed by hand; a noisy surrogate shows the winner's curse (the best
observed report is lucky: its true value is worse).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import figures, regression
from analysis.load import ResultsError, load_results
from analysis.trajectories import choose_scores, run_metrics, run_steps
from benchmarks.simulated import SimulatedBackend
from benchmarks.surrogate import SurrogateObjective
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method
from surrogates.fit import fit_surrogate
from surrogates.table import Table, write_table
from tests.tables import SPACE_SPEC, noisy_synthetic_table

CONFIGS = [
    {"learning_rate": 0.001, "momentum": 0.5, "batch_size": 32, "activation": "ReLU"},
    {"learning_rate": 0.01, "momentum": 0.9, "batch_size": 64, "activation": "Softplus"},
    {"learning_rate": 0.0001, "momentum": 0.1, "batch_size": 16, "activation": "LeakyReLU"},
]
CURVES = {  # config -> one val_error curve per seed (3 epochs)
    0: [[0.60, 0.50, 0.30], [0.70, 0.60, 0.50]],
    1: [[0.55, 0.45, 0.35]],
    2: [[0.80, 0.75, 0.70], [0.90, 0.85, 0.80], [0.85, 0.80, 0.75]],
}
MEANS = {  # the seed means, by hand
    0: [0.65, 0.55, 0.40],
    1: [0.55, 0.45, 0.35],
    2: [0.85, 0.80, 0.75],
}


def hand_table(path: Path) -> Table:
    rows = []
    for cid, curves in CURVES.items():
        for seed, curve in enumerate(curves):
            for epoch, value in enumerate(curve, start=1):
                rows.append({"config_id": cid, "seed": seed, "epoch": epoch, **CONFIGS[cid],
                             "val_error": value, "train_loss": 2 * value, "epoch_time": 10.0,
                             "cumulative_time": 10.0 * epoch})
    meta = {"name": "hand", "search_space": SPACE_SPEC, "max_epochs": 3, "metric": "val_error",
            "metrics": ["val_error", "train_loss"], "provenance": {"command": "by hand"}}
    return write_table(path, pd.DataFrame(rows), meta)


def test_tabular_true_value_is_the_seed_mean_of_the_recorded_curves(tmp_path):
    objective = TabularObjective(hand_table(tmp_path / "t"))
    for cid, config in enumerate(CONFIGS):
        replayed = set()
        for seed in range(12):
            run = objective.start_trial(0, config, seed)
            epochs = [run.next_epoch() for _ in range(3)]
            observed = [r.metrics["val_error"] for r in epochs]
            assert observed in CURVES[cid]
            replayed.add(tuple(observed))
            assert [r.true_metrics["val_error"] for r in epochs] == pytest.approx(MEANS[cid])
            assert [r.true_metrics["train_loss"] for r in epochs] == pytest.approx(
                [2 * m for m in MEANS[cid]])
        assert len(replayed) == len(CURVES[cid])  # every seed is replayed by some trial seed


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HYDRA_FULL_ERROR": ""})


@pytest.fixture(scope="module")
def hand_results(tmp_path_factory) -> Path:
    """Random search on the hand table: every configuration trained to the end, seeds 0..7."""
    root = tmp_path_factory.mktemp("runs")
    table = hand_table(root / "table")
    done = run_cli("method=random", "seed=0..7", "benchmark=tabular",
                   f"benchmark.table={table.path}", "budget.trials=3", "n_workers=1",
                   "results_dir=out", cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "out"


def test_reports_carry_the_seed_mean_and_the_true_score_is_the_hand_computed_one(hand_results):
    results = load_results(hand_results)
    reports = results.reports
    assert len(results.runs) == 8 and len(reports) == 8 * 9
    for row in reports.itertuples():
        cid = [c["learning_rate"] for c in CONFIGS].index(row.config_learning_rate)
        assert row.true_val_error == pytest.approx(MEANS[cid][row.epoch - 1])
    assert choose_scores(results).scores == {"tabular": "true"}  # the default
    true_final = run_metrics(results).set_index("seed")["final"]
    observed_final = run_metrics(choose_scores(results, "observed")).set_index("seed")["final"]
    cursed = 0
    for seed in range(8):
        run = reports[reports["seed"] == seed]
        lucky = 0.30 in set(run["val_error"])  # config 0 replayed its lucky seed
        # by hand: the best report is config 0 at epoch 3 (0.30, true 0.40) if its lucky seed was
        # replayed, else config 1 at epoch 3 (0.35, true 0.35)
        assert observed_final[seed] == pytest.approx(0.30 if lucky else 0.35)
        assert true_final[seed] == pytest.approx(0.40 if lucky else 0.35)
        cursed += lucky
    assert 0 < cursed < 8  # both happen: the observed score credits luck, the true one does not


def test_true_score_follows_the_observed_incumbent_and_may_rise():
    reports = pd.DataFrame({
        "time": [1.0, 2.0, 3.0, 4.0, 5.0],
        "val_error": [0.5, 0.3, 0.3, np.nan, 0.2],
        "true_val_error": [0.55, 0.45, 0.30, 0.1, 0.5],
    })
    times, observed = run_steps(reports, "val_error", "observed")
    assert list(times) == [1, 2, 3, 5] and list(observed) == [0.5, 0.3, 0.3, 0.2]
    # the incumbent: 0.5 (t=1), 0.3 (t=2; the equal report at t=3 does not replace it), 0.2
    _, true = run_steps(reports, "val_error", "true")
    assert list(true) == [0.55, 0.45, 0.45, 0.5]


def results_without_true_values(root: Path) -> Path:
    from tests.test_analysis import write_run

    for seed in range(3):
        write_run(root, "real", "A", seed, [(10, 0.5), (20, 0.3)])
    return root


def test_default_score_falls_back_to_observed_and_explicit_true_refuses(hand_results, tmp_path):
    mixed = [hand_results, results_without_true_values(tmp_path / "old")]
    results = choose_scores(load_results(mixed))
    assert results.scores == {"real": "observed", "tabular": "true"}
    with pytest.raises(ResultsError, match=r"'real': 3 run.*no noise-free values"):
        choose_scores(load_results(mixed), "true")
    code = figures.main([str(p) for p in mixed] + ["--out", str(tmp_path / "f"), "--score",
                                                   "true"])
    assert code == 2


def _final_mean(summary: str) -> float:
    """The mean in random's row of the summary's first table, at the full budget (last column)."""
    rows = [line for line in summary.splitlines() if line.startswith("| random | ")]
    return float(rows[0].rstrip(" |").split("|")[-1].split("±")[0].strip(" *"))


def test_figures_summary_states_the_score_and_tables_use_it(hand_results, tmp_path):
    reports = load_results(hand_results).reports
    lucky = sum(0.30 in set(r["val_error"]) for _, r in reports.groupby("seed"))
    true_mean = (0.40 * lucky + 0.35 * (8 - lucky)) / 8  # final incumbents, by hand (see above)
    observed_mean = (0.30 * lucky + 0.35 * (8 - lucky)) / 8
    assert figures.main([str(hand_results), "--out", str(tmp_path / "f")]) == 0
    summary = (tmp_path / "f" / "summary.md").read_text()
    assert "Incumbent score per benchmark: tabular true." in summary
    assert _final_mean(summary) == pytest.approx(true_mean, abs=6e-5)
    assert figures.main([str(hand_results), "--out", str(tmp_path / "o"), "--score",
                         "observed"]) == 0
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "tabular observed" in summary
    assert _final_mean(summary) == pytest.approx(observed_mean, abs=6e-5)


def test_regression_keeps_the_baseline_score(hand_results, tmp_path, capsys):
    baseline = tmp_path / "b.json"
    assert regression.main(["record", str(hand_results), "--out", str(baseline)]) == 0
    assert json.loads(baseline.read_text())["benchmarks"]["tabular"]["score"] == "true"
    assert regression.main(["check", str(hand_results), "--baseline", str(baseline)]) == 0
    assert regression.main(["check", str(hand_results), "--baseline", str(baseline),
                            "--score", "observed"]) == 2
    assert "scores incumbents by true values, not observed" in capsys.readouterr().err
    # a baseline from before scores existed was recorded on observed values: it is checked so
    assert regression.main(["record", str(hand_results), "--out", str(baseline), "--score",
                            "observed"]) == 0
    old = json.loads(baseline.read_text())
    del old["benchmarks"]["tabular"]["score"]
    baseline.write_text(json.dumps(old))
    report = tmp_path / "r.md"
    assert regression.main(["check", str(hand_results), "--baseline", str(baseline),
                            "--report", str(report)]) == 0
    assert "| tabular | random | unchanged |" in report.read_text()


@pytest.fixture(scope="module")
def noisy_surrogate(tmp_path_factory) -> SurrogateObjective:
    root = tmp_path_factory.mktemp("s")
    table = noisy_synthetic_table(root / "t", n_configs=40, max_epochs=8, repeated=10)
    params = root / "p.json"
    params.write_text(json.dumps({"params": {"max_depth": 4, "eta": 0.3, "nthread": 1},
                                  "num_boost_round": 15}))
    fit_surrogate(table, root / "m", params)
    return SurrogateObjective(root / "m", table, noise=True)


def test_surrogate_true_values_are_its_mean_curve(noisy_surrogate):
    config = noisy_surrogate.space.sample(np.random.default_rng(0))
    mean, _ = noisy_surrogate.model.curve(config)
    run = noisy_surrogate.start_trial(3, config, seed=11)
    epochs = [run.next_epoch() for _ in range(noisy_surrogate.max_epochs)]
    names = noisy_surrogate.metric_names
    for e, result in enumerate(epochs):
        assert [result.true_metrics[n] for n in names] == pytest.approx(list(mean[e]))
    assert [r.metrics["val_error"] for r in epochs] != pytest.approx(list(mean[:, 0]))
    noisy_surrogate.noise = False
    try:
        run = noisy_surrogate.start_trial(3, config, seed=11)
        first = run.next_epoch()
        assert first.metrics == first.true_metrics
    finally:
        noisy_surrogate.noise = True


def test_winners_curse_on_noisy_surrogate_runs(noisy_surrogate):
    """The best observed report of a run is lucky: scored by its true value it is worse."""
    gaps = []
    for seed in range(6):
        method = make_method("random", noisy_surrogate.problem(), seed)
        result = SimulatedBackend(method, noisy_surrogate, 2, Budget(trials=30), seed).run()
        reports = pd.DataFrame(result.reports)
        observed = run_steps(reports, "val_error", "observed")[1][-1]
        true = run_steps(reports, "val_error", "true")[1][-1]
        gaps.append(true - observed)
    # on average the observed incumbent flatters (a single run may be unlucky the other way)
    assert sum(g > 0 for g in gaps) >= 4 and np.mean(gaps) > 0.005, gaps
