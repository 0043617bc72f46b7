"""Sweeps across processes: Hydra's joblib and submitit_local launchers, kill and resume, two
writers at once."""

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.results import is_complete
from tests.tables import synthetic_table

SWEEP = ["method=asha,random", "seed=0..2", "budget.time=2000"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=30, max_epochs=9)
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks", *args]


def run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("run.json"))


def reports_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): (p / "reports.parquet").read_bytes() for p in run_folders(root)
    }


@pytest.fixture(scope="module")
def sequential(table, tmp_path_factory):
    """The reference: the same 2 x 3 sweep with Hydra's default (sequential) launcher."""
    root = tmp_path_factory.mktemp("sequential")
    args = [*SWEEP, "benchmark=tabular", f"benchmark.table={table}", f"results_dir={root}"]
    subprocess.run(cli(*args), cwd=root, check=True, capture_output=True)
    assert len(run_folders(root)) == 6
    return reports_bytes(root)


@pytest.mark.parametrize(
    "launcher",
    [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]],
    ids=["joblib", "submitit_local"],
)
def test_launchers_run_the_sweep_with_identical_results(table, tmp_path, sequential, launcher):
    args = [
        *SWEEP,
        *launcher,
        "benchmark=tabular",
        f"benchmark.table={table}",
        f"results_dir={tmp_path}",
    ]
    done = subprocess.run(cli(*args), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(is_complete(f) for f in run_folders(tmp_path))
    assert reports_bytes(tmp_path) == sequential


def test_a_killed_sweep_resumes_without_redoing_or_losing_work(table, tmp_path, sequential):
    args = [*SWEEP, "benchmark=tabular", f"benchmark.table={table}", f"results_dir={tmp_path}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cli(*args),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    finished = 0
    for line in proc.stdout:
        finished += " -> " in line
        if finished == 2:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    proc.stdout.close()
    complete = [f for f in run_folders(tmp_path) if is_complete(f)]
    assert len(complete) >= 2
    kept = {f: (f / "reports.parquet").stat().st_mtime_ns for f in complete}
    resumed = subprocess.run(cli(*args), cwd=tmp_path, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stderr.count("already complete") == len(complete)
    # Finished runs were not redone, and everything equals an uninterrupted sweep.
    assert {f: (f / "reports.parquet").stat().st_mtime_ns for f in complete} == kept
    assert all(is_complete(f) for f in run_folders(tmp_path))
    assert reports_bytes(tmp_path) == sequential


# -- concurrent writers (issue 11) --------------------------------------------------------------


def test_two_identical_sweeps_at_once_leave_complete_identical_runs(table, tmp_path, sequential):
    """Two processes run the same sweep into one results_dir at the same time: neither aborts,
    each run is written by exactly one of them, and every run is complete, readable and equal
    to the sequential sweep's (no temporary file left)."""
    args = [*SWEEP, "benchmark=tabular", f"benchmark.table={table}", f"results_dir={tmp_path}"]
    procs = [
        subprocess.Popen(cli(*args), cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    folders = run_folders(tmp_path)
    assert len(folders) == 6 and all(is_complete(f) for f in folders)
    for folder in folders:
        pd.read_parquet(folder / "reports.parquet")
        pd.read_parquet(folder / "trials.parquet")
        writers = sum(out.count(f"-> {folder}\n") for out, _ in outputs)
        assert writers == 1, folder
    assert reports_bytes(tmp_path) == sequential
    assert list(tmp_path.rglob("*.tmp")) == []


def test_a_run_another_process_holds_is_skipped_and_left_alone(table, tmp_path):
    folder = tmp_path / "tabular" / "asha" / "seed=0"
    folder.mkdir(parents=True)
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a writer of this run holds while it runs
    try:
        args = ["method=asha", "seed=0", "budget.time=2000", "benchmark=tabular",
                f"benchmark.table={table}", f"results_dir={tmp_path}"]  # fmt: skip
        done = subprocess.run(cli(*args), cwd=tmp_path, capture_output=True, text=True)
    finally:
        os.close(fd)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"skip {folder}: another process is running it now" in done.stderr
    assert list(folder.iterdir()) == []


def test_a_damaged_complete_run_is_redone_not_skipped(table, tmp_path):
    args = ["method=asha", "seed=0", "budget.time=2000", "benchmark=tabular",
            f"benchmark.table={table}", f"results_dir={tmp_path}"]  # fmt: skip
    subprocess.run(cli(*args), cwd=tmp_path, check=True, capture_output=True)
    folder = tmp_path / "tabular" / "asha" / "seed=0"
    good = (folder / "reports.parquet").read_bytes()
    (folder / "reports.parquet").write_bytes(good[: len(good) // 2])
    assert not is_complete(folder)
    again = subprocess.run(cli(*args), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"note: {folder} was marked complete but reports.parquet is unreadable" in again.stderr
    assert "1 new (1 redone: damaged)" in again.stdout
    assert (folder / "reports.parquet").read_bytes() == good
