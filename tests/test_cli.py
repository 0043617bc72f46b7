"""``python -m benchmarks`` as a user runs it: sweeps, results folders, determinism, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.argv import ArgumentError, expand_ranges, rewrite
from tests.tables import synthetic_table


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": ""}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=40, max_epochs=9)
    return path


def test_ten_seeds_write_ten_complete_folders_byte_identical_on_rerun(table, tmp_path):
    args = [
        "method=asha",
        "seed=0..9",
        "benchmark=tabular",
        f"benchmark.table={table}",
        "results_dir=out",
        "budget.time=3000",
    ]
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folders = sorted((tmp_path / "out" / "tabular" / "asha").iterdir())
    assert [f.name for f in folders] == [f"seed={k}" for k in range(10)]
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "complete"
        assert info["seed"] == int(folder.name.split("=")[1])
        assert {"config.yaml", "reports.parquet", "trials.parquet"} <= {
            p.name for p in folder.iterdir()
        }
        reports = pd.read_parquet(folder / "reports.parquet")
        assert {"trial_id", "epoch", "time", "worker", "val_error", "config_learning_rate"} <= set(
            reports.columns
        )
    before = {f.name: (f / "reports.parquet").read_bytes() for f in folders}
    # A rerun skips complete runs ...
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0
    assert again.stderr.count("already complete") == 10
    # ... and overwrite=true reruns them, byte for byte the same.
    forced = run_cli(*args, "overwrite=true", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    after = {f.name: (f / "reports.parquet").read_bytes() for f in folders}
    assert before == after
    assert before["seed=0"] != before["seed=1"]


def test_a_comma_list_sweeps_without_dash_m(table, tmp_path):
    result = run_cli(
        "method=asha,random",
        "seed=0",
        "benchmark=tabular",
        f"benchmark.table={table}",
        "results_dir=out",
        "budget.trials=5",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/tabular/asha/seed=0/run.json").is_file()
    assert (tmp_path / "out/tabular/random/seed=0/run.json").is_file()


def test_unknown_method_lists_the_valid_ones(table, tmp_path):
    result = run_cli("method=nope", "benchmark=tabular", f"benchmark.table={table}", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "asha" in result.stderr and "random" in result.stderr


def test_unknown_benchmark_lists_the_valid_ones(tmp_path):
    result = run_cli("benchmark=nope", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "tabular" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=5..2", "empty range"),
        ("n_workers=0", "n_workers must be >= 1"),
        ("budget.time=-5", "budget.time must be a positive number"),
        ("seed=-1", "seed must be >= 0"),
        ("+method.settings.nonsense=3", "has no setting"),
    ],
)
def test_bad_values_give_one_line_errors_and_write_nothing(table, tmp_path, override, message):
    result = run_cli(
        override, "benchmark=tabular", f"benchmark.table={table}", "results_dir=out", cwd=tmp_path
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_missing_table_is_a_clear_error(tmp_path):
    result = run_cli("benchmark=tabular", f"benchmark.table={tmp_path / 'missing'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a table folder" in result.stderr


def test_help_shows_config_groups(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "method: " in result.stdout and "asha" in result.stdout
    assert "benchmark: " in result.stdout


def test_range_rewriting():
    assert expand_ranges("seed=0..9") == "seed=range(0,10)"
    assert expand_ranges("seed=3..3") == "seed=range(3,4)"
    assert expand_ranges("benchmark.table=../t") == "benchmark.table=../t"
    with pytest.raises(ArgumentError, match="empty range"):
        expand_ranges("seed=5..2")
    with pytest.raises(ArgumentError, match="integers"):
        expand_ranges("seed=a..b")
    assert rewrite(["method=asha", "seed=0..2"])[0] == "--multirun"
    assert rewrite(["method=asha,random"])[0] == "--multirun"
    assert rewrite(["method=asha", "seed=1"]) == ["method=asha", "seed=1"]
    assert rewrite(["-m", "seed=0..1"]) == ["-m", "seed=range(0,2)"]
