"""The real objective under the local backend: two worker processes, tiny data, real time."""

import os
import signal

import pandas as pd
import pytest

pytest.importorskip("torch")

from benchmarks.local import LocalBackend
from benchmarks.registry import make_objective
from benchmarks.tuning import Budget
from hpo_methods.problem import Problem
from hpo_methods.registry import make_method
from tests.cifar_fakes import write_jpegs


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    data = write_jpegs(root / "cifar10", per_class=6)
    return {
        "name": "tiny_real", "kind": "real", "model": "resnet8", "data": str(data),
        "n_train": 40, "n_val": 20, "max_epochs": 3, "cache_dir": str(root / "cache"),
        "checkpoint_dir": str(root / "checkpoints"), "device": "cpu", "threads": 1,
    }  # fmt: skip


def test_two_real_workers_pause_resume_and_report_real_times(spec):
    objective = make_objective(spec)
    method = make_method("asha", Problem(objective.space, 3), seed=0, variant="promotion")
    result = LocalBackend(method, objective, spec, 2, Budget(trials=4), seed=0).run()
    reports = pd.DataFrame(result.reports)
    assert result.ended_by == "trials"
    assert set(reports["worker"]) == {0, 1}
    assert reports["val_error"].between(0, 1).all()
    assert (reports["epoch_time"] > 0).all()
    assert reports["time"].is_monotonic_increasing
    # Real time: each report comes after the epoch it reports took.
    assert (reports["time"] >= reports["epoch_time"]).all()
    for _, trial in reports.groupby("trial_id"):
        assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
    assert (reports["decision"] == "paused").any()
    assert (reports["epoch"] > 1).any()  # a promoted trial resumed from its checkpoint


def test_killing_a_real_worker_fails_only_its_trial(spec):
    objective = make_objective(spec)
    method = make_method("random", Problem(objective.space, 3), seed=1)
    killed = {}
    backend = None

    def kill_once(row):
        if not killed and row["epoch"] == 1:
            killed["trial"] = row["trial_id"]
            os.kill(backend.worker_pid(row["worker"]), signal.SIGKILL)

    backend = LocalBackend(method, objective, spec, 2, Budget(trials=3), seed=1,
                           on_report=kill_once)  # fmt: skip
    result = backend.run()
    trials = {t["trial_id"]: t for t in result.trials}
    assert trials[killed["trial"]]["status"] == "failed"
    assert "worker process died" in trials[killed["trial"]]["reason"]
    assert sorted(t["status"] for i, t in trials.items() if i != killed["trial"]) == [
        "completed",
        "completed",
    ]
