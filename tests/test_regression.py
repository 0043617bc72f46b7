"""analysis.regression: record a baseline, then check unchanged / planted regression / improvement /
noise, and refuse mismatched settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.regression import main
from tests.test_analysis import write_run

SEEDS = range(8)
METHODS = ("fast", "slow")


def make_results(root: Path, seeds=SEEDS, **kwargs) -> Path:
    """Two methods x 8 seeds on benchmark 'bench' (budget 100 s, best known 0.1)."""
    rng = np.random.default_rng(0)
    for method in METHODS:
        for seed in seeds:
            times = np.sort(rng.uniform(1, 99, 6))
            start = 0.9 if method == "slow" else 0.8
            values = np.linspace(start, 0.2, 6) + rng.uniform(0, 0.05, 6)
            write_run(root, "bench", method, seed, list(zip(times, values, strict=True)), **kwargs)
    return root


def shift(root: Path, method: str, delta, seeds=SEEDS) -> None:
    """Add ``delta`` (a number, or one per seed) to every val_error of ``method``'s runs."""
    deltas = np.broadcast_to(np.asarray(delta, dtype=float), (len(seeds),))
    for seed, d in zip(seeds, deltas, strict=True):
        path = root / "bench" / method / f"seed={seed}" / "reports.parquet"
        frame = pd.read_parquet(path)
        frame["val_error"] += d
        frame.to_parquet(path)


@pytest.fixture()
def baseline(tmp_path):
    results = make_results(tmp_path / "base")
    out = tmp_path / "baseline.json"
    assert main(["record", str(results), "--out", str(out)]) == 0
    return out


def run_check(results: Path, baseline: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    report = tmp_path / "report.md"
    code = main(
        ["check", str(results), "--baseline", str(baseline), "--report", str(report), *extra]
    )
    return code, report.read_text() if report.exists() else ""


def test_record_writes_per_seed_values_settings_and_references(baseline):
    data = json.loads(baseline.read_text())
    assert data["format"] == "tunebench-regression-baseline"
    groups = {g["method"]: g for g in data["groups"]}
    assert set(groups) == set(METHODS)
    fast = groups["fast"]
    assert sorted(map(int, fast["seeds"])) == list(SEEDS)
    assert set(fast["seeds"]["0"]) == {"final", "regret", "auc"}
    assert fast["git_revision"] == ["abc123"]
    assert fast["settings"] == {
        "budget": {"time": 100, "trials": None, "epochs": None},
        "n_workers": 1,
        "backend": "simulated",
    }
    bench = data["benchmarks"]["bench"]
    assert bench["reference"]["best"] == 0.1 and bench["reference"]["horizon"] == 100
    assert "table" not in bench["identity"]["objective"]  # a location, not an identity
    assert bench["identity"]["objective"]["table_sha256"] == "f00"


def test_identical_results_are_unchanged(tmp_path, baseline):
    code, report = run_check(tmp_path / "base", baseline, tmp_path)
    assert code == 0
    assert report.count("| unchanged |") == 2 and "no regression" in report


def test_planted_regression_is_flagged(tmp_path, baseline, capsys):
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "base", fresh)
    shift(fresh, "fast", 0.05)
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 1
    rows = {
        line.split("|")[2].strip(): line
        for line in report.splitlines()
        if line.startswith("| bench |")
    }
    assert "**regressed**" in rows["fast"] and "| unchanged |" in rows["slow"]
    ref = json.loads(baseline.read_text())["benchmarks"]["bench"]["reference"]
    expected = 0.05 / (ref["worst"] - ref["best"])  # every value 0.05 worse, normalised
    assert f"+{expected:.4f}" in rows["fast"]
    assert "8 / 0; 8 / 0" in rows["fast"]  # all seeds worse on both measures
    # all 8 seeds worse: p = 1/256 per test, Holm over the 2 tests that differ -> 2/256
    assert f"{2 / 256:.3g}" in rows["fast"]
    assert "REGRESSED" in capsys.readouterr().out


def test_improvement_and_noise(tmp_path, baseline):
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "base", fresh)
    shift(fresh, "fast", -0.05)
    shift(fresh, "slow", [1e-4, -1e-4] * 4)  # tiny changes both ways
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 0
    assert "| fast | improved |" in report
    assert "| slow | changed within noise |" in report


def test_large_but_inconsistent_change_is_noise(tmp_path, baseline):
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "base", fresh)
    shift(fresh, "fast", [0.1, -0.08] * 4)  # worse on average, but not consistently
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 0 and "| fast | changed within noise |" in report


def test_small_consistent_change_below_tolerance_is_noise(tmp_path, baseline):
    fresh = tmp_path / "fresh"
    shift_dir = shutil.copytree(tmp_path / "base", fresh)
    shift(shift_dir, "fast", 0.001)  # significant, but ~0.0013 in regret < tolerance 0.01
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 0 and "| fast | changed within noise |" in report
    assert "significant (p = 0.00781) but mean +0.00" in report and "within ±0.005" in report
    code, report = run_check(fresh, baseline, tmp_path, "--tolerance", "0.0001")
    assert code == 1 and "| fast | **regressed** |" in report


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget_time": 200.0}, "budget.time: baseline 100, now 200"),
        ({"n_workers": 4}, "n_workers: baseline 1, now 4"),
        ({"best_known": 0.05}, "benchmark 'bench' differs"),
        ({"seeds": range(5)}, "seeds {0, 1, 2, 3, 4} differ from the baseline's"),
    ],
)
def test_mismatched_settings_are_refused(tmp_path, baseline, capsys, kwargs, message):
    fresh = make_results(tmp_path / "fresh", **kwargs)
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 2 and report == ""
    assert message in capsys.readouterr().err


def test_missing_method_refused_and_extra_method_noted(tmp_path, baseline, capsys):
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "base", fresh)
    shutil.rmtree(fresh / "bench" / "slow")
    assert run_check(fresh, baseline, tmp_path)[0] == 2
    assert "bench/slow is in the baseline but not in the results" in capsys.readouterr().err
    shutil.copytree(tmp_path / "base" / "bench" / "slow", fresh / "bench" / "slow")
    shutil.copytree(tmp_path / "base" / "bench" / "slow", fresh / "bench" / "new")
    for seed in SEEDS:
        path = fresh / "bench" / "new" / f"seed={seed}" / "run.json"
        path.write_text(path.read_text().replace('"slow"', '"new"'))
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 0 and "bench/new: not in the baseline, not compared" in report


def test_changed_method_settings_are_compared_and_noted(tmp_path, baseline):
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "base", fresh)
    for seed in SEEDS:
        path = fresh / "bench" / "fast" / f"seed={seed}" / "config.yaml"
        config = yaml.safe_load(path.read_text())
        config["method"]["settings"] = {"eta": 3}
        path.write_text(yaml.safe_dump(config))
    code, report = run_check(fresh, baseline, tmp_path)
    assert code == 0 and "bench/fast: method settings changed from {} to {'eta': 3}" in report


def test_bad_baseline_file_refused(tmp_path, capsys):
    results = make_results(tmp_path / "base", seeds=range(2))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert main(["check", str(results), "--baseline", str(bad)]) == 2
    assert "not a tunebench regression baseline" in capsys.readouterr().err
    assert main(["check", str(results), "--baseline", str(tmp_path / "none.json")]) == 2


def test_too_few_seeds_warned(tmp_path):
    results = make_results(tmp_path / "base", seeds=range(3))
    base = tmp_path / "b.json"
    assert main(["record", str(results), "--out", str(base)]) == 0
    shift(results, "fast", 0.05, seeds=range(3))
    code, report = run_check(results, base, tmp_path)
    assert code == 0 and "with 3 seeds the smallest possible p-value is 0.125" in report


# -- honest baselines (issue 11) ----------------------------------------------------------------


def test_record_refuses_a_run_without_a_value_and_writes_no_nan(tmp_path, capsys):
    results = make_results(tmp_path / "base")
    late = results / "bench" / "slow" / "seed=3" / "reports.parquet"
    frame = pd.read_parquet(late)
    frame["time"] += 1000.0  # every report after the 100 s horizon: no final value
    frame.to_parquet(late)
    out = tmp_path / "baseline.json"
    assert main(["record", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: bench/slow seed 3: no value at the horizon")
    assert not out.exists()


def _edit(baseline: Path, path: str, value) -> Path:
    data = json.loads(baseline.read_text())
    target = data
    keys = path.split("/")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    edited = baseline.with_name("edited.json")
    edited.write_text(json.dumps(data))
    return edited


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("groups/0/seeds/3/regret", None, "groups[0].seeds['3'].regret must be a finite number "
                                          "(got None)"),
        ("groups/0/seeds/3/auc", "0.2", "groups[0].seeds['3'].auc must be a finite number"),
        ("groups/0/seeds/3/final", _DELETE, "groups[0].seeds['3'].final must be a finite number"),
        ("groups/1/seeds", {}, "groups[1] (bench/slow) has no seeds"),
        ("groups/1/seeds", [1, 2], "groups[1].seeds must be a dict"),
        ("groups/0/settings", _DELETE, "groups[0].settings must be a dict (got None)"),
        ("groups", _DELETE, "'groups' must be a non-empty list"),
        ("benchmarks/bench/reference/worst", 0.1, "benchmarks['bench'].reference is degenerate"),
        ("benchmarks/bench/reference/best", None, "reference.best must be a finite number"),
    ],
)
def test_check_refuses_a_baseline_with_null_wrong_or_degenerate_values(
    tmp_path, baseline, capsys, path, value, message
):
    edited = _edit(baseline, path, value)
    code, report = run_check(tmp_path / "base", edited, tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and report == ""
    assert len(err) == 1 and message in err[0] and "record it again" in err[0], err


def test_an_output_path_that_cannot_be_written_is_one_line(tmp_path, baseline, capsys):
    (tmp_path / "a_file").write_text("x")
    assert main(["record", str(tmp_path / "base"), "--out", str(tmp_path / "a_file" / "b.json")]
                ) == 2  # fmt: skip
    assert main(["record", str(tmp_path / "base"), "--out", str(tmp_path)]) == 2
    assert main(["check", str(tmp_path / "base"), "--baseline", str(baseline), "--report",
                 str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: cannot write") for line in err), err
