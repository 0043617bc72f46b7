"""What every backend shares: budgets, the method's bookkeeping of trials, and the run's records.

A backend (simulated or local) decides *when* things happen; :class:`TuningLog` decides *what*
an event means — it passes epoch reports to the method, turns its decision into the trial's
outcome (continue, paused, stopped, completed, failed), and keeps the rows of ``reports.parquet``
and ``trials.parquet``. Both backends therefore apply exactly the same semantics.

*Worker utilisation* (``worker_utilisation`` in the summary of every run): busy worker-seconds
over ``n_workers x elapsed_time``. A worker is busy from the moment it is given work (a new or a
resumed trial) until the event after which it is free again (its trial stopped, paused,
completed or failed), decision time included; work still running when the run ends counts up to
``elapsed_time``. Both backends report it the same way (:class:`WorkerClock`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.objective import EpochResult
from hpo_methods.problem import COST_METRIC, Problem
from hpo_methods.protocol import Decision, TrialStatus, TuningMethod
from hpo_methods.space import Config

ReportCallback = Callable[[dict[str, Any]], None]
TRUE_PREFIX = "true_"  # reports.parquet column of a metric's noise-free value: true_<metric>


@dataclass(frozen=True)
class Budget:
    """When a run ends: seconds of wall-clock time, trials started, epochs trained (None: no limit).

    The time budget ends the run at that time (epochs finishing later are not reported); the
    trial budget caps how many trials start (running and paused ones may still finish); the
    epoch budget ends the run once that many epochs were reported.
    """

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
    """A backend's view of one trial."""

    trial_id: int
    config: Config
    status: TrialStatus = TrialStatus.RUNNING
    epochs: int = 0
    best: float = math.inf
    start_time: float = 0.0
    end_time: float | None = None
    reason: str = ""


@dataclass
class RunResult:
    """Everything a run produced: one dict per report and per trial, and the summary."""

    reports: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    summary: dict[str, Any]
    ended_by: str


class WorkerClock:
    """Busy time of ``n_workers`` workers (module docstring: worker utilisation)."""

    def __init__(self, n_workers: int) -> None:
        self.n_workers = n_workers
        self.busy_seconds = 0.0  # of finished stretches of work
        self._since: dict[int, float] = {}  # busy worker -> when it was given its work

    def busy(self, worker: int, now: float) -> None:
        """Worker ``worker`` was given work at ``now``."""
        if worker in self._since:
            raise RuntimeError(f"worker {worker} was given work while busy")
        self._since[worker] = now

    def free(self, worker: int, now: float) -> None:
        """Worker ``worker`` is free again from ``now``."""
        self.busy_seconds += now - self._since.pop(worker)

    def utilisation(self, elapsed: float) -> float | None:
        """Busy worker-seconds up to ``elapsed`` over ``n_workers x elapsed`` (None at 0 s)."""
        if elapsed <= 0:
            return None
        running = sum(max(0.0, elapsed - since) for since in self._since.values())
        return (self.busy_seconds + running) / (self.n_workers * elapsed)


class TuningLog:
    """Applies events to the method and records them (see the module docstring)."""

    def __init__(
        self,
        method: TuningMethod,
        problem: Problem,
        metric_names: tuple[str, ...],
        budget: Budget,
        on_report: ReportCallback | None = None,
        n_workers: int = 1,
    ) -> None:
        self.method = method
        self.problem = problem
        self.metric = problem.metric
        self.metric_names = metric_names
        self.max_epochs = problem.max_epochs
        self.budget = budget
        self.on_report = on_report
        self.trials: dict[int, TrialState] = {}
        self.reports: list[dict[str, Any]] = []
        self.epochs_trained = 0
        self.best_feasible = math.inf  # the first objective (minimised) over feasible reports
        self.workers = WorkerClock(n_workers)

    def suggest(self):
        """Ask the method for work, respecting the trial budget (resumptions are always fine)."""
        return self.method.suggest(allow_new=not self.trials_exhausted())

    def drop_abandoned(self, now: float) -> list[int]:
        """Mark paused trials the method gave up on as stopped; return their ids."""
        dropped = self.method.dropped_trials()
        for trial_id in dropped:
            self._end(self.trials[trial_id], TrialStatus.STOPPED, now)
        return dropped

    def trials_exhausted(self) -> bool:
        return self.budget.trials is not None and len(self.trials) >= self.budget.trials

    def epochs_exhausted(self) -> bool:
        return self.budget.epochs is not None and self.epochs_trained >= self.budget.epochs

    def start(self, trial_id: int, config: Config, now: float) -> TrialState:
        state = TrialState(trial_id, dict(config), start_time=now)
        self.trials[trial_id] = state
        return state

    def resume(self, trial_id: int) -> TrialState:
        state = self.trials[trial_id]
        state.status = TrialStatus.RUNNING
        return state

    def report(self, trial_id: int, result: EpochResult, now: float, worker: int) -> str:
        """Apply one epoch's result; return the outcome: continue, paused, stopped, completed,
        or failed (a non-finite metric: the trial diverged)."""
        state = self.trials[trial_id]
        state.epochs += 1
        self.epochs_trained += 1
        metrics = {**result.metrics, COST_METRIC: float(result.epoch_time)}
        values = self.problem.values(metrics)
        state.best = min(state.best, values[0])
        if math.isfinite(values[0]) and self.problem.feasible(metrics):
            self.best_feasible = min(self.best_feasible, values[0])
        decision = self.method.report(trial_id, state.epochs, metrics)
        diverged = [g.metric for g, v in zip(self.problem.objectives, values, strict=True)
                    if not math.isfinite(v)]
        if diverged:
            outcome = "failed"
            self.fail(trial_id, f"diverged: non-finite {', '.join(diverged)}", now)
        elif state.epochs >= self.max_epochs:
            outcome = "completed"
            self.method.complete(trial_id)
            self._end(state, TrialStatus.COMPLETED, now)
        elif decision == Decision.STOP:
            outcome = "stopped"
            self._end(state, TrialStatus.STOPPED, now)
        elif decision == Decision.PAUSE:
            outcome = "paused"
            state.status = TrialStatus.PAUSED
        else:
            outcome = "continue"
        self._record(state, result, now, worker, outcome)
        return outcome

    def fail(self, trial_id: int, reason: str, now: float) -> None:
        """The trial crashed (or diverged): tell the method, record why."""
        state = self.trials[trial_id]
        self.method.fail(trial_id, reason)
        state.reason = reason
        self._end(state, TrialStatus.FAILED, now)

    def _end(self, state: TrialState, status: TrialStatus, now: float) -> None:
        state.status = status
        state.end_time = now

    def _record(
        self, state: TrialState, result: EpochResult, now: float, worker: int, outcome: str
    ) -> None:
        row: dict[str, Any] = {
            "trial_id": state.trial_id,
            "epoch": state.epochs,
            "time": now,
            "epoch_time": float(result.epoch_time),
            "worker": worker,
            "decision": outcome,
        }
        true = result.true_metrics or {}
        for name in self.metric_names:
            row[name] = float(result.metrics.get(name, math.nan))
        for name in self.metric_names:  # noise-free values where the objective knows them
            row[f"{TRUE_PREFIX}{name}"] = float(true.get(name, math.nan))
        for name, value in state.config.items():
            row[f"config_{name}"] = value
        self.reports.append(row)
        if self.on_report is not None:
            self.on_report(row)

    def result(self, ended_by: str, now: float) -> RunResult:
        return RunResult(self.reports, self._trial_rows(), self._summary(ended_by, now), ended_by)

    def _raw(self, minimised: float) -> float:
        """A minimised value of the first objective in the metric's own direction."""
        return minimised if self.problem.objectives[0].mode == "min" else -minimised

    def _trial_rows(self) -> list[dict[str, Any]]:
        rows = []
        for state in sorted(self.trials.values(), key=lambda s: s.trial_id):
            row: dict[str, Any] = {
                "trial_id": state.trial_id,
                "status": str(state.status),
                "epochs": state.epochs,
                f"best_{self.metric}": self._raw(state.best) if state.epochs else math.nan,
                "start_time": state.start_time,
                "end_time": state.end_time if state.end_time is not None else math.nan,
                "reason": state.reason,
            }
            for name, value in state.config.items():
                row[f"config_{name}"] = value
            rows.append(row)
        return rows

    def _summary(self, ended_by: str, now: float) -> dict[str, Any]:
        """``best_<metric>``: the best reported value of the first objective among the feasible
        reports (every report, without constraints; None when none is feasible)."""
        best = self.best_feasible
        return {
            "trials": len(self.trials),
            "epochs": self.epochs_trained,
            "reports": len(self.reports),
            f"best_{self.metric}": self._raw(best) if math.isfinite(best) else None,
            "elapsed_time": now,
            "ended_by": ended_by,
            "worker_utilisation": self.workers.utilisation(now),
        }
