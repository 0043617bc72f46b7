"""Objectives for local-backend tests whose pauses the test controls. Worker processes build them
through :func:`gated_worker_main`, which the test puts in place of the backend's worker function:
it makes ``benchmarks.registry.make_objective`` build a :class:`GatedObjective` from the spec
(whose events travel to the worker with it), then runs the backend's own worker loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.objective import EpochResult, Objective, TrialRun
from hpo_methods.space import Config, SearchSpace

SAFETY_TIMEOUT = 120  # seconds an event may take before the test fails (never waited out)


class GatedObjective(Objective):
    """Trials of ``max_epochs`` instant epochs whose checkpoint is a JSON file holding the
    epochs done. Pausing trial 0 first sets ``pause_started``, then waits for ``gate`` before
    writing its checkpoint; the first epoch of trial 1 waits for ``pause_started``. Resuming
    reads the checkpoint (and sets ``gate``: a read happened, the pause may finish) and fails as
    the real objective does on a missing or stale one."""

    metric_names = ("val_error",)

    def __init__(self, folder: str, gate: Any, pause_started: Any, max_epochs: int = 3) -> None:
        self.name = "gated"
        self.space = SearchSpace.from_spec({"x": {"type": "uniform", "low": 0.0, "high": 1.0}})
        self.max_epochs = max_epochs
        self.folder = Path(folder)
        self.gate = gate
        self.pause_started = pause_started

    def checkpoint(self, trial_id: int) -> Path:
        return self.folder / f"trial-{trial_id}.json"

    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        return GatedRun(self, trial_id, 0)

    def resume_trial(self, trial_id: int, config: Config, seed: int, epochs_done: int
                     ) -> TrialRun:  # fmt: skip
        path = self.checkpoint(trial_id)
        held = json.loads(path.read_text())["epochs_done"] if path.is_file() else None
        self.gate.set()
        if held is None:
            raise RuntimeError(f"trial {trial_id}: checkpoint {path} is missing")
        if held != epochs_done:
            raise RuntimeError(f"{path}: holds epoch {held}, expected {epochs_done}")
        return GatedRun(self, trial_id, epochs_done)


class GatedRun(TrialRun):
    def __init__(self, objective: GatedObjective, trial_id: int, epochs_done: int) -> None:
        self.objective = objective
        self.trial_id = trial_id
        self.epochs_done = epochs_done

    def next_epoch(self) -> EpochResult:
        if self.trial_id == 1 and self.epochs_done == 0:
            _wait(self.objective.pause_started, "trial 0's pause to start")
        self.epochs_done += 1
        return EpochResult({"val_error": 1.0 / (self.epochs_done + self.trial_id + 1)}, 0.0)

    def pause(self) -> None:
        if self.trial_id == 0:
            self.objective.pause_started.set()
            _wait(self.objective.gate, "the gate of trial 0's pause")
        path = self.objective.checkpoint(self.trial_id)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"epochs_done": self.epochs_done}))
        tmp.replace(path)


def _wait(event: Any, what: str) -> None:
    if not event.wait(SAFETY_TIMEOUT):
        raise RuntimeError(f"waited {SAFETY_TIMEOUT} s for {what}")


def gated_worker_main(conn: Any, spec: dict[str, Any], *args: Any) -> None:
    """The backend's worker function, with the objective built as a :class:`GatedObjective`."""
    import benchmarks.registry
    from benchmarks.local import _worker_main

    benchmarks.registry.make_objective = lambda s: GatedObjective(
        s["folder"], s["gate"], s["pause_started"], s.get("max_epochs", 3)
    )
    _worker_main(conn, spec, *args)
