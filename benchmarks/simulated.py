"""The simulated backend: a discrete-event loop on a simulated clock.

``n_workers`` workers train trials epoch by epoch. An epoch occupies its worker for the epoch time
the objective returns; epoch reports are handled in simulated-time order (ties: the epoch that was
scheduled first goes first, so the order is fixed by the run's configuration and seed); a worker
that becomes free asks the method for work at once, and workers whose request got no work ask
again after every later event. A paused trial keeps its :class:`TrialRun`, so resuming continues
from its last epoch and earlier epochs are never paid for twice.

The run ends when the simulated time budget is reached (epochs that would finish later are not
reported), when the epoch budget is used up, or when no worker has work and the method has none
to give. The trial budget caps how many trials start; running and paused trials may finish.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.objective import EpochResult, Objective, TrialRun, trial_seed
from hpo_methods.protocol import Decision, Method, TrialStatus
from hpo_methods.space import Config

ProgressCallback = Callable[[float, int, int], None]


@dataclass(frozen=True)
class Budget:
    """When a run ends: simulated seconds, trials started, epochs trained (None: no limit)."""

    time: float | None = None
    trials: int | None = None
    epochs: int | None = None

    def __post_init__(self) -> None:
        if self.time is None and self.trials is None and self.epochs is None:
            raise ValueError("a budget needs at least one of time, trials or epochs")
        for name in ("time", "trials", "epochs"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"budget.{name} must be a positive number (got {value})")


@dataclass
class TrialState:
    """The backend's view of one trial."""

    trial_id: int
    config: Config
    run: TrialRun
    status: TrialStatus = TrialStatus.RUNNING
    epochs: int = 0
    best: float = math.inf
    start_time: float = 0.0
    end_time: float | None = None
    reason: str = ""


@dataclass
class SimulationResult:
    """Everything a run produced: one dict per report and per trial, and the summary."""

    reports: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    summary: dict[str, Any]
    ended_by: str


@dataclass(order=True)
class _Event:
    time: float
    seq: int
    worker: int = field(compare=False)
    trial_id: int = field(compare=False)
    result: EpochResult | None = field(compare=False)
    error: str = field(compare=False, default="")


class SimulatedBackend:
    """Runs one method on one objective with ``n_workers`` workers on a simulated clock."""

    def __init__(
        self,
        method: Method,
        objective: Objective,
        n_workers: int,
        budget: Budget,
        seed: int,
        on_report: Callable[[dict[str, Any]], None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1 (got {n_workers})")
        self.method = method
        self.objective = objective
        self.n_workers = n_workers
        self.budget = budget
        self.seed = seed
        self.on_report = on_report
        self.progress = progress
        self.clock = 0.0
        self.trials: dict[int, TrialState] = {}
        self.reports: list[dict[str, Any]] = []
        self.epochs_trained = 0
        self._events: list[_Event] = []
        self._seq = 0
        self._idle: list[int] = list(range(n_workers))

    # -- the event loop ---------------------------------------------------------------------

    def run(self) -> SimulationResult:
        ended_by = "method"
        self._assign_idle_workers()
        while self._events:
            event = heapq.heappop(self._events)
            if self.budget.time is not None and event.time > self.budget.time:
                ended_by = "time"
                break
            self.clock = event.time
            self._handle(event)
            if self.budget.epochs is not None and self.epochs_trained >= self.budget.epochs:
                ended_by = "epochs"
                break
            self._assign_idle_workers()
        else:
            if self._trials_exhausted():
                ended_by = "trials"
        for state in self.trials.values():
            state.run.close()
        return SimulationResult(self.reports, self._trial_rows(), self._summary(ended_by), ended_by)

    def _handle(self, event: _Event) -> None:
        state = self.trials[event.trial_id]
        if event.result is None:
            self._fail(state, event.error)
            self._idle.append(event.worker)
            return
        state.epochs += 1
        self.epochs_trained += 1
        metrics = event.result.metrics
        value = metrics.get(self.objective.metric, math.nan)
        finite = isinstance(value, int | float) and math.isfinite(value)
        if finite:
            state.best = min(state.best, value)
        decision = self.method.report(state.trial_id, state.epochs, value)
        if not finite:
            outcome = "failed"
            self._fail(state, "diverged: non-finite " + self.objective.metric)
        elif state.epochs >= self.objective.max_epochs:
            outcome = "completed"
            self.method.complete(state.trial_id)
            self._end(state, TrialStatus.COMPLETED)
        elif decision == Decision.STOP:
            outcome = "stopped"
            self._end(state, TrialStatus.STOPPED)
        elif decision == Decision.PAUSE:
            outcome = "paused"
            state.status = TrialStatus.PAUSED
            state.run.pause()
        else:
            outcome = "continue"
        self._record(event, state, outcome)
        if outcome == "continue":
            self._schedule_epoch(event.worker, state)
        else:
            self._idle.append(event.worker)
        if self.progress is not None:
            self.progress(self.clock, len(self.trials), self.epochs_trained)

    def _record(self, event: _Event, state: TrialState, outcome: str) -> None:
        row: dict[str, Any] = {
            "trial_id": state.trial_id,
            "epoch": state.epochs,
            "time": event.time,
            "epoch_time": event.result.epoch_time,
            "worker": event.worker,
            "decision": outcome,
        }
        for name in self.objective.metric_names:
            row[name] = float(event.result.metrics.get(name, math.nan))
        for name, value in state.config.items():
            row[f"config_{name}"] = value
        self.reports.append(row)
        if self.on_report is not None:
            self.on_report(row)

    def _assign_idle_workers(self) -> None:
        self._idle.sort()
        while self._idle:
            suggestion = self.method.suggest(allow_new=not self._trials_exhausted())
            if suggestion is None:
                return
            worker = self._idle.pop(0)
            if suggestion.resume:
                state = self.trials[suggestion.trial_id]
                state.status = TrialStatus.RUNNING
            else:
                state = self._start_trial(suggestion.trial_id, suggestion.config)
                if state is None:
                    self._idle.append(worker)
                    self._idle.sort()
                    continue
            self._schedule_epoch(worker, state)

    def _start_trial(self, trial_id: int, config: Config) -> TrialState | None:
        try:
            run = self.objective.start_trial(trial_id, config, trial_seed(self.seed, trial_id))
        except Exception as err:  # a crashed trial is recorded; the run goes on
            state = TrialState(trial_id, config, _NoRun(), start_time=self.clock)
            self.trials[trial_id] = state
            self._fail(state, f"{type(err).__name__}: {err}")
            return None
        state = TrialState(trial_id, config, run, start_time=self.clock)
        self.trials[trial_id] = state
        return state

    def _schedule_epoch(self, worker: int, state: TrialState) -> None:
        try:
            result: EpochResult | None = state.run.next_epoch()
            duration = float(result.epoch_time)
            if not (math.isfinite(duration) and duration >= 0):
                raise ValueError(f"epoch time must be finite and >= 0 (got {duration})")
            error = ""
        except Exception as err:  # reported at the same simulated time
            result, duration, error = None, 0.0, f"{type(err).__name__}: {err}"
        self._seq += 1
        heapq.heappush(
            self._events,
            _Event(self.clock + duration, self._seq, worker, state.trial_id, result, error),
        )

    def _fail(self, state: TrialState, reason: str) -> None:
        self.method.fail(state.trial_id, reason)
        state.reason = reason
        self._end(state, TrialStatus.FAILED)

    def _end(self, state: TrialState, status: TrialStatus) -> None:
        state.status = status
        state.end_time = self.clock
        state.run.close()

    def _trials_exhausted(self) -> bool:
        return self.budget.trials is not None and len(self.trials) >= self.budget.trials

    # -- outputs ----------------------------------------------------------------------------

    def _trial_rows(self) -> list[dict[str, Any]]:
        rows = []
        for state in sorted(self.trials.values(), key=lambda s: s.trial_id):
            row: dict[str, Any] = {
                "trial_id": state.trial_id,
                "status": str(state.status),
                "epochs": state.epochs,
                f"best_{self.objective.metric}": state.best if state.epochs else math.nan,
                "start_time": state.start_time,
                "end_time": state.end_time if state.end_time is not None else math.nan,
                "reason": state.reason,
            }
            for name, value in state.config.items():
                row[f"config_{name}"] = value
            rows.append(row)
        return rows

    def _summary(self, ended_by: str) -> dict[str, Any]:
        finite = [s.best for s in self.trials.values() if math.isfinite(s.best)]
        return {
            "trials": len(self.trials),
            "epochs": self.epochs_trained,
            "reports": len(self.reports),
            f"best_{self.objective.metric}": min(finite) if finite else None,
            "simulated_time": self.clock,
            "ended_by": ended_by,
        }


class _NoRun(TrialRun):
    """Stands in for a trial whose start failed."""

    def next_epoch(self) -> EpochResult:
        raise RuntimeError("this trial failed to start")
