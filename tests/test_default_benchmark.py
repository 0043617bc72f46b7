"""The shipped default benchmark: its table, its surrogate, the main command, the CI regression
check of every method against the shipped baseline."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.registry import make_objective
from surrogates.table import load_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "surrogates" / "data" / "resnet8_cifar10"


def test_the_shipped_table_is_valid_and_says_where_it_comes_from():
    table = load_table(TABLE)
    provenance = table.meta["provenance"]
    for key in ("commands", "hardware", "versions", "date", "model", "n_train", "n_val"):
        assert key in provenance, key
    assert table.max_epochs >= 20
    per_config = table.frame.groupby("config_id")["seed"].nunique()
    assert (per_config >= 3).sum() >= 20  # repeated seeds measure the noise


def test_the_shipped_surrogate_loads_against_its_table():
    objective = make_objective(
        {
            "name": "resnet8_cifar10",
            "kind": "surrogate",
            "model": "surrogates/data/resnet8_cifar10/surrogate",
            "table": "surrogates/data/resnet8_cifar10",
            "noise": True,
        }
    )
    config = objective.space.sample(np.random.default_rng(0))
    run = objective.start_trial(0, config, 1)
    values = [run.next_epoch() for _ in range(objective.max_epochs)]
    assert all(0 <= v.metrics["val_error"] <= 1 and v.epoch_time > 0 for v in values)


def test_the_main_command_runs_on_the_default_benchmark_from_any_folder(tmp_path):
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "method=asha",
        "seed=0..1",
        "budget.time=300",
        "results_dir=out",
    ]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    folder = tmp_path / "out" / "resnet8_cifar10" / "asha" / "seed=0"
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["objective"]["kind"] == "surrogate"
    assert len(pd.read_parquet(folder / "reports.parquet")) > 0
    before = (folder / "reports.parquet").read_bytes()
    again = subprocess.run([*command, "overwrite=true"], cwd=tmp_path, capture_output=True)
    assert again.returncode == 0
    assert (folder / "reports.parquet").read_bytes() == before


@pytest.mark.slow  # minutes: CI runs it in its second pass (pytest -m slow)
def test_no_method_regressed_against_the_shipped_baseline(tmp_path):
    report = tmp_path / "report.md"
    check = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "regression_check.py"),
            "check",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    assert "regressed" not in report.read_text().split("## ")[0]
