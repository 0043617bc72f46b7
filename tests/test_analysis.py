"""analysis: loading results folders, incumbents, aggregation over seeds, ranks, tables, tests.

Results folders are written by hand (``write_run``) with small trajectories whose statistics are
computed by hand in the comments.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.aggregate import rank_over_time, ranks_by_block, summarise, summarise_curves
from analysis.load import ResultsError, load_results
from analysis.stats import friedman_nemenyi, holm, wilcoxon_greater
from analysis.tables import compare_methods, final_performance, to_latex, to_markdown
from analysis.trajectories import (
    Reference,
    area_under_regret,
    incumbent_grid,
    references,
    run_metrics,
    run_steps,
)


def write_run(
    root: Path,
    benchmark: str,
    method: str,
    seed: int,
    points: list[tuple[float, float]],
    budget_time: float | None = 100.0,
    status: str = "complete",
    n_workers: int = 1,
    best_known: float | None = 0.1,
    method_settings: dict | None = None,
    revision: str = "abc123",
    backend: str = "simulated",
) -> Path:
    """A results folder with one report per (time, val_error) point, each its own trial of 1
    epoch except that consecutive points share trial 0 (so a learning curve exists)."""
    folder = root / benchmark / method / f"seed={seed}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (time, value) in enumerate(points):
        trial = 0 if i < 2 else i
        rows.append(
            {
                "trial_id": trial,
                "epoch": i + 1 if trial == 0 else 1,
                "time": float(time),
                "epoch_time": 1.0,
                "worker": 0,
                "decision": "continue" if (trial == 0 and i == 0) else "stopped",
                "val_error": float(value),
                "train_loss": 1.0,
                "config_lr": 0.01 * (i + 1),
            }
        )
    pd.DataFrame(rows).to_parquet(folder / "reports.parquet")
    trials = pd.DataFrame(
        [
            {"trial_id": t, "status": "stopped", "epochs": 1}
            for t in sorted({r["trial_id"] for r in rows})
        ]
    )
    trials.to_parquet(folder / "trials.parquet")
    config = {
        "benchmark": {"name": benchmark, "kind": "tabular", "table": f"/somewhere/{benchmark}"},
        "method": {"name": method, "settings": method_settings or {}},
        "seed": seed,
        "n_workers": n_workers,
        "backend": backend,
        "budget": {"time": budget_time, "trials": None, "epochs": None},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    info = {
        "benchmark": benchmark,
        "method": method,
        "seed": seed,
        "n_workers": n_workers,
        "backend": backend,
        "objective": {
            "name": benchmark,
            "kind": "tabular",
            "max_epochs": 3,
            "metric": "val_error",
            "table": f"/somewhere/{benchmark}",
            "table_sha256": "f00",
        },
        "best_known_value": best_known,
        "git_revision": revision,
        "status": status,
        "summary": {"ended_by": "time"},
    }
    (folder / "run.json").write_text(json.dumps(info))
    return folder


# Two methods, three seeds, budget 100 s, best known 0.1 (see the hand computations below).
RUNS = {
    ("A", 0): [(10, 0.5), (20, 0.3), (50, 0.2)],
    ("A", 1): [(10, 0.6), (30, 0.4), (60, 0.1)],
    ("A", 2): [(20, 0.7), (40, 0.2), (90, 0.15)],
    ("B", 0): [(10, 0.8), (40, 0.5)],
    ("B", 1): [(10, 0.4), (80, 0.35)],
    ("B", 2): [(30, 0.9), (70, 0.6)],
}
GRID = np.array([5.0, 10.0, 25.0, 50.0, 100.0])


@pytest.fixture()
def results(tmp_path):
    for (method, seed), points in RUNS.items():
        write_run(tmp_path, "bench", method, seed, points)
    return load_results(tmp_path)


def test_load_tidy_tables(results):
    assert len(results.runs) == 6
    assert results.methods == ["A", "B"] and results.benchmarks == ["bench"]
    assert len(results.reports) == sum(len(p) for p in RUNS.values())
    assert set(results.reports.columns) >= {"benchmark", "method", "seed", "time", "val_error"}
    assert results.runs["budget_time"].tolist() == [100.0] * 6
    assert results.runs.loc[0, "method_settings"] == {}
    assert len(results.trials) == sum(max(1, len(p) - 1) for p in RUNS.values())


def test_incomplete_runs_skipped_and_counted(tmp_path):
    write_run(tmp_path, "bench", "A", 0, [(1, 0.5)])
    write_run(tmp_path, "bench", "A", 1, [(1, 0.5)], status="incomplete")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.json").write_text("{not json")
    res = load_results(tmp_path)
    assert res.runs["seed"].tolist() == [0]
    assert len(res.skipped) == 2
    assert res.skipped_note() == "skipped 2 incomplete or unreadable run(s)"
    assert load_results(tmp_path, include_incomplete=True).runs["seed"].tolist() == [0, 1]


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        load_results(tmp_path / "nope")
    with pytest.raises(ResultsError, match="no complete runs"):
        load_results(tmp_path)
    write_run(tmp_path / "x", "bench", "A", 0, [(1, 0.5)])
    write_run(tmp_path / "y", "bench", "A", 0, [(1, 0.5)])
    with pytest.raises(ResultsError, match="two runs of benchmark 'bench', method 'A', seed 0"):
        load_results([tmp_path / "x", tmp_path / "y"])


def test_incumbents_on_grid_forward_filled_nan_before_first_report(results):
    curves = incumbent_grid(results, "bench", GRID)
    expected = {
        ("A", 0): [np.nan, 0.5, 0.3, 0.2, 0.2],
        ("A", 1): [np.nan, 0.6, 0.6, 0.4, 0.1],
        ("A", 2): [np.nan, np.nan, 0.7, 0.2, 0.15],
        ("B", 0): [np.nan, 0.8, 0.8, 0.5, 0.5],
        ("B", 1): [np.nan, 0.4, 0.4, 0.4, 0.35],
        ("B", 2): [np.nan, np.nan, np.nan, 0.9, 0.6],
    }
    for key, row in expected.items():
        np.testing.assert_allclose(curves.loc[key].to_numpy(), row)


def test_nonfinite_reports_improve_nothing():
    reports = pd.DataFrame({"time": [3.0, 1.0, 2.0], "val_error": [0.2, 0.5, np.nan]})
    times, inc = run_steps(reports, "val_error")
    np.testing.assert_allclose(times, [1.0, 3.0])
    np.testing.assert_allclose(inc, [0.5, 0.2])


def test_mean_se_median_over_seeds(results):
    summary = summarise_curves(incumbent_grid(results, "bench", GRID), "mean")["A"]
    # t=5, 10: a seed has not reported -> NaN; t=25: (0.3+0.6+0.7)/3; t=100: (0.2+0.1+0.15)/3
    assert np.isnan(summary["centre"].iloc[0]) and np.isnan(summary["centre"].iloc[1])
    np.testing.assert_allclose(summary["centre"].iloc[2:], [1.6 / 3, 0.8 / 3, 0.15])
    se = 0.05 / math.sqrt(3)  # sample sd of (0.2, 0.1, 0.15) is 0.05
    assert summary["high"].iloc[-1] == pytest.approx(0.15 + se)
    assert summary["low"].iloc[-1] == pytest.approx(0.15 - se)
    med = summarise_curves(incumbent_grid(results, "bench", GRID), "median")["B"]
    # t=100: B = (0.5, 0.35, 0.6): median 0.5, quartiles 0.425 and 0.55 (linear interpolation)
    assert med.iloc[-1][["low", "centre", "high"]].tolist() == pytest.approx([0.425, 0.5, 0.55])


def test_iqm_and_bootstrap_interval():
    values = np.array([[0.0], [1], [2], [3], [4], [5], [6], [100]])
    centre, low, high = summarise(values, "iqm")
    assert centre[0] == pytest.approx(3.5)  # the middle half: mean(2, 3, 4, 5)
    assert low[0] <= 3.5 <= high[0] and high[0] < 50  # the outlier barely moves it
    again = summarise(values, "iqm")
    assert (again[1][0], again[2][0]) == (low[0], high[0])  # fixed bootstrap seed
    with pytest.raises(ValueError, match="unknown statistic"):
        summarise(values, "mode")


def test_ranks_within_seed_nan_is_worst(results):
    ranks = ranks_by_block(incumbent_grid(results, "bench", GRID))
    # t=5: nobody reported: tie; t=25: seed 0 A<B, seed 1 B<A, seed 2 A has a value, B not;
    # t=50: seed 1 ties at 0.4
    assert ranks.loc[("A", 0)].tolist() == [1.5, 1, 1, 1, 1]
    assert ranks.loc[("A", 1)].tolist() == [1.5, 2, 2, 1.5, 1]
    assert ranks.loc[("B", 2)].tolist() == [1.5, 1.5, 2, 2, 2]
    refs = references(results)
    mean = rank_over_time(results, refs, GRID / 100)
    assert mean.loc["A"].tolist() == pytest.approx([1.5, 1.5, 4 / 3, 3.5 / 3, 1])
    assert mean.loc["B"].tolist() == pytest.approx([1.5, 1.5, 5 / 3, 5.5 / 3, 2])
    assert mean.attrs["blocks"] == 3


def test_references_regret_and_auc(results):
    ref = references(results)["bench"]
    # worst = the highest first report of any run: B seed 2's 0.9
    assert (ref.best, ref.worst, ref.horizon) == (0.1, 0.9, 100.0)
    metrics = run_metrics(results).set_index(["method", "seed"])
    assert metrics.loc[("A", 0), "final"] == 0.2
    assert metrics.loc[("A", 0), "regret"] == pytest.approx(0.1 / 0.8)
    # A seed 0: 10 s at regret 1, 10 s at 0.5, 30 s at 0.25, 50 s at 0.125 -> 28.75 / 100
    assert metrics.loc[("A", 0), "auc"] == pytest.approx(0.2875)
    assert metrics.loc[("A", 1), "regret"] == pytest.approx(0.0)


def test_auc_ignores_reports_after_horizon_and_empty_runs():
    ref = Reference(best=0.0, worst=1.0, horizon=10.0)
    assert area_under_regret(np.array([]), np.array([]), ref) == 1.0
    # regret 1 until t=5, then 0.5 until 10; the report at 20 is past the horizon
    assert area_under_regret(np.array([5.0, 20.0]), np.array([0.5, 0.0]), ref) == 0.75


def test_holm_step_down():
    # sorted: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    # NaN does not count: m = 2; 0.5*2 = 1.0, then max(1.0, 0.9*1) = 1.0
    np.testing.assert_allclose(holm([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])
    np.testing.assert_allclose(holm([0.2, np.nan, 0.01]), [0.2, np.nan, 0.02])
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(0).uniform(0, 0.2, 12)
    np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1])


def test_wilcoxon_one_sided_exact():
    worse = np.arange(1.0, 7.0)
    assert wilcoxon_greater(worse + 1, worse) == pytest.approx(1 / 64)  # all 6 worse
    assert wilcoxon_greater(worse, worse + 1) == pytest.approx(1.0)
    assert wilcoxon_greater(worse, worse) == 1.0  # identical


def test_compare_methods_marks_not_significantly_worse():
    values = pd.DataFrame(
        {"best": [1, 2, 3, 4, 5, 6.0], "far": [2, 3, 4, 5, 6, 7.0], "near": [1, 2, 3, 4, 5, 6.5]}
    )
    out = compare_methods(values).set_index("method")
    assert out["best"].tolist() == [True, False, False]
    assert out.loc["best", "mean"] == 3.5
    # far: worse on all 6 seeds, p = 1/64, Holm x2 -> 1/32 < 0.05; near: 1 of 6 worse
    assert out.loc["far", "p_holm"] == pytest.approx(2 / 64)
    assert out["not_worse"].tolist() == [True, False, True]


def test_final_performance_tables(results):
    refs = references(results)
    table = final_performance(results, refs)
    last = table[table["column"] == "100% (100 s)"].set_index("method")
    assert last.loc["A", "mean"] == pytest.approx(0.15)
    assert last.loc["B", "mean"] == pytest.approx((0.5 + 0.35 + 0.6) / 3)
    assert bool(last.loc["A", "best"])
    # B is worse on all 3 seeds, but 3 seeds give p >= 1/8: not significantly worse
    assert last.loc["B", "p_holm"] == pytest.approx(0.125) and bool(last.loc["B", "not_worse"])
    md = to_markdown(table)
    assert "| A |" in md and "**0.1500 ± 0.0289**" in md and "0.4833 ± 0.0726 †" in md
    tex = to_latex(table)
    assert r"\textbf{0.1500 $\pm$ 0.0289}" in tex and r"25\% (25 s)" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex


def test_friedman_nemenyi_by_hand():
    pytest.importorskip("autorank")
    pytest.importorskip("scikit_posthocs")
    blocks = pd.DataFrame({"A": np.arange(6.0), "B": np.arange(6.0) + 1, "C": np.arange(6.0) + 2})
    test = friedman_nemenyi(blocks)
    assert test.mean_ranks.to_dict() == {"A": 1.0, "B": 2.0, "C": 3.0}
    # rank sums 6, 12, 18: chi2 = 12/(6*3*4) * 504 - 3*6*4 = 12 -> p = exp(-6)
    assert test.omnibus == "friedman" and test.pvalue == pytest.approx(math.exp(-6), rel=1e-6)
    # Nemenyi CD = q_0.05(3) * sqrt(3*4 / (6*6)) = 2.343 * 0.57735
    assert test.critical_difference == pytest.approx(2.343 * math.sqrt(1 / 3), abs=2e-3)
    assert test.pairwise.loc["A", "C"] < 0.05 < test.pairwise.loc["A", "B"]
    two = friedman_nemenyi(blocks[["A", "B"]])  # autorank: one-sided Wilcoxon, 6 of 6 -> 1/64
    assert two.omnibus == "wilcoxon" and two.pvalue == pytest.approx(1 / 64)
    assert two.pairwise.loc["A", "B"] == two.pvalue and two.critical_difference is None
    with pytest.raises(ValueError, match="at least 5 blocks"):
        friedman_nemenyi(blocks.iloc[:4])


def test_analysis_imports_no_methods_objectives_or_torch():
    code = (
        "import sys, analysis.figures, analysis.regression;"
        "bad = {'hpo_methods', 'benchmarks', 'surrogates', 'torch'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
