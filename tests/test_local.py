"""The local backend: real worker processes, real time, workers that die, same semantics."""

import os
import signal

import pandas as pd
import pytest

from benchmarks.local import LocalBackend
from benchmarks.registry import make_objective
from benchmarks.tuning import Budget
from hpo_methods.registry import make_method
from tests.tables import synthetic_table


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=12, max_epochs=4)
    return {"name": "synthetic", "kind": "tabular", "table": str(path)}


def test_two_workers_finish_with_real_times(spec):
    objective = make_objective(spec)
    method = make_method("asha", objective.problem(), seed=0, variant="promotion")
    backend = LocalBackend(method, objective, spec, 2, Budget(trials=8), seed=0)
    result = backend.run()
    reports = pd.DataFrame(result.reports)
    assert result.ended_by == "trials"
    assert set(reports["worker"]) == {0, 1}
    assert reports["time"].is_monotonic_increasing
    assert (reports["time"] > 0).all()
    assert result.summary["elapsed_time"] >= reports["time"].max()
    for _, trial in reports.groupby("trial_id"):
        assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
    assert (reports["decision"] == "paused").any()  # pause/resume crossed processes
    statuses = {t["status"] for t in result.trials}
    assert statuses <= {"completed", "stopped", "paused"}
    # The metrics are the table's: replaying in a worker changes nothing but the clock.
    table = objective.table.frame.set_index(["config_id", "epoch"])
    cid = objective._config_ids[
        objective.space.key(
            {k[len("config_") :]: v for k, v in reports.iloc[0].items() if k.startswith("config_")}
        )
    ]
    assert reports.iloc[0]["val_error"] == table.loc[(cid, 1), "val_error"]


def test_a_killed_worker_fails_its_trial_and_the_run_goes_on(spec):
    objective = make_objective(spec)
    method = make_method("random", objective.problem(), seed=1)
    killed = {}
    backend = None

    def kill_once(row):
        if not killed and row["epoch"] == 2:
            killed["trial"] = row["trial_id"]
            os.kill(backend.worker_pid(row["worker"]), signal.SIGKILL)

    backend = LocalBackend(method, objective, spec, 2, Budget(trials=5), seed=1,
                           on_report=kill_once)  # fmt: skip
    result = backend.run()
    trials = {t["trial_id"]: t for t in result.trials}
    assert trials[killed["trial"]]["status"] == "failed"
    assert "worker process died" in trials[killed["trial"]]["reason"]
    assert len(trials) == 5
    others = [t["status"] for i, t in trials.items() if i != killed["trial"]]
    assert others == ["completed"] * 4


def test_ctrl_c_keeps_the_reports_made_so_far(spec, tmp_path):
    from benchmarks.results import JOURNAL_FILE, ResultsWriter, read_run_info

    objective = make_objective(spec)
    method = make_method("random", objective.problem(), seed=2)
    writer = ResultsWriter(tmp_path / "run", journal=True)
    writer.start("{}\n", {"seed": 2})

    def report_then_interrupt(row):
        writer.report(row)
        if len(writer.reports) == 3:
            raise KeyboardInterrupt

    backend = LocalBackend(method, objective, spec, 2, Budget(trials=6), seed=2,
                           on_report=report_then_interrupt)  # fmt: skip
    result = backend.run()
    assert result.ended_by == "interrupted"
    # Before finish() writes the tables, every report is already on disk in the journal.
    lines = (tmp_path / "run" / JOURNAL_FILE).read_text().splitlines()
    assert len(lines) == 3
    assert read_run_info(tmp_path / "run")["status"] == "incomplete"
    writer.finish(result.trials, result.summary, "incomplete")
    assert len(pd.read_parquet(tmp_path / "run" / "reports.parquet")) == 3
    assert read_run_info(tmp_path / "run")["status"] == "incomplete"
