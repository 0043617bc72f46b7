"""The local backend's pause handshake and checkpoints: a paused trial is never resumed before its
checkpoint is written, runs keep their checkpoints apart, and no checkpoint outlives its use.

The race (issue 11): with a pausing method the backend used to mark the worker idle as soon as it
sent ``pause``, so another worker could be told to resume the trial while the first one was still
writing its checkpoint ("checkpoint missing", "holds epoch 1, expected 3"). Here the pause of
trial 0 is held on a gate until the backend either makes another worker read the checkpoint (the
race: that read finds nothing) or waits for the pausing worker to answer without having given it
other work (the handshake), so the outcome does not depend on timing.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

import benchmarks.local as local
from benchmarks.local import LocalBackend
from benchmarks.tuning import Budget
from hpo_methods.protocol import Decision, Suggestion, TrialStatus
from tests.fake_objectives import GatedObjective, gated_worker_main


class ScriptedMethod:
    """Trial 0 pauses after epoch 1; trial 1 stops after epoch 1; trial 2 runs on. Trial 0 is
    resumed by the first request for work after trial 2 started."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.paused: set[int] = set()
        self.resumed = False

    def suggest(self, allow_new: bool = True) -> Suggestion | None:
        if 0 in self.paused and 2 in self.started and not self.resumed:
            self.resumed = True
            self.paused.discard(0)
            return Suggestion(0, {"x": 0.0}, resume=True)
        if len(self.started) < 3 and allow_new:
            trial = len(self.started)
            self.started.append(trial)
            return Suggestion(trial, {"x": trial / 10})
        return None

    def report(self, trial_id: int, epoch: int, metrics) -> Decision:
        if trial_id == 0 and epoch == 1:
            self.paused.add(0)
            return Decision.PAUSE
        if trial_id == 1:
            return Decision.STOP
        return Decision.CONTINUE

    def complete(self, trial_id: int) -> None:
        pass

    def fail(self, trial_id: int, reason: str = "") -> None:
        pass

    def dropped_trials(self) -> list[int]:
        return []


class _TracedConn:
    """A worker's connection that notes what the main process sends it."""

    def __init__(self, conn, index: int, trace: dict) -> None:
        self._conn, self.index, self.trace = conn, index, trace

    def send(self, message) -> None:
        if message == "pause":
            self.trace[self.index] = "pausing"
        elif self.trace.get(self.index) == "pausing":
            self.trace[self.index] = "given other work"
        self._conn.send(message)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_paused_trial_resumes_only_once_its_checkpoint_is_written(tmp_path, monkeypatch):
    context = mp.get_context("spawn")
    gate, pause_started = context.Event(), context.Event()
    trace: dict[int, str] = {}

    class Traced(LocalBackend):
        def _spawn(self, index):
            worker = super()._spawn(index)
            worker.conn = _TracedConn(worker.conn, index, trace)
            return worker

    real_wait = local.wait

    def gated_wait(objects, timeout=None):
        # The backend is about to block: if it waits on a worker it told to pause and gave
        # nothing else since, it is waiting for that worker's answer, so let the pause finish.
        if "pausing" in trace.values():
            gate.set()
        return real_wait(objects, timeout)

    monkeypatch.setattr(local, "wait", gated_wait)
    monkeypatch.setattr(local, "_worker_main", gated_worker_main)
    spec = {"folder": str(tmp_path), "max_epochs": 3, "gate": gate,
            "pause_started": pause_started}  # fmt: skip
    objective = GatedObjective(str(tmp_path), gate, pause_started)
    result = Traced(ScriptedMethod(), objective, spec, 2, Budget(trials=3), seed=0).run()
    trials = {t["trial_id"]: t for t in result.trials}
    assert [trials[i]["status"] for i in range(3)] == ["completed", "stopped", "completed"], (
        trials[0]["reason"]
    )
    reports = pd.DataFrame(result.reports)
    assert reports[reports.trial_id == 0]["epoch"].tolist() == [1, 2, 3]


@pytest.fixture(scope="module")
def real_spec(tmp_path_factory):
    pytest.importorskip("torch")
    from tests.cifar_fakes import write_jpegs

    root = tmp_path_factory.mktemp("real")
    data = write_jpegs(root / "cifar10", per_class=6)
    return {
        "name": "tiny_real", "kind": "real", "model": "resnet8", "data": str(data),
        "n_train": 40, "n_val": 20, "max_epochs": 4, "cache_dir": str(root / "cache"),
        "checkpoint_dir": str(root / "checkpoints"), "device": "cpu", "threads": 1,
    }  # fmt: skip


def _trial_of(path: Path) -> int:
    return int(path.name.split("-")[1])


def test_checkpoints_are_per_run_and_deleted_once_useless(real_spec):
    """Hyperband pauses trials at rungs and drops those it does not promote: while the run goes
    on, every checkpoint on disk is in this run's own folder, a dropped trial's checkpoint is
    deleted once it is written, and after the run none is left. (A trial that ends on a worker
    is deleted there when the worker closes it: checked at the end.)"""
    from benchmarks.registry import make_objective
    from hpo_methods.problem import Problem
    from hpo_methods.registry import make_method

    objective = make_objective(real_spec)
    root = Path(real_spec["checkpoint_dir"])
    method = make_method("hyperband", Problem(objective.space, 4), seed=0, reduction_factor=2)
    stale: list[str] = []
    seen: list[Path] = []
    backend = None

    last_decision: dict[int, str] = {}

    def check(row) -> None:
        last_decision[row["trial_id"]] = row["decision"]
        pausing = getattr(backend, "_pausing", {})  # pauses not yet answered (being written)
        for path in root.rglob("*.pt"):
            seen.append(path)
            trial = _trial_of(path)
            dropped = (backend.log.trials[trial].status == TrialStatus.STOPPED
                       and last_decision.get(trial) == "paused")  # fmt: skip
            if path.parent == root or (dropped and trial not in pausing):
                stale.append(f"{path.relative_to(root)} (dropped)")

    backend = LocalBackend(method, objective, real_spec, 2, Budget(trials=8), seed=0,
                           on_report=check)  # fmt: skip
    result = backend.run()
    assert {t["status"] for t in result.trials} <= {"completed", "stopped"}
    assert seen, "no trial was paused: the test checks nothing"
    assert {p.parent.name for p in seen} == {f"run-{backend.run_id}"}
    assert stale == []
    assert list(root.rglob("*.pt")) == []
