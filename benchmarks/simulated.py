"""The simulated backend: a discrete-event loop on a simulated clock.

``n_workers`` workers train trials epoch by epoch. An epoch occupies its worker for the epoch time
the objective returns; epoch reports are handled in simulated-time order (ties: the epoch that was
scheduled first goes first, so the order is fixed by the run's configuration and seed); a worker
that becomes free asks the method for work at once, and workers whose request got no work ask
again after every later event. A paused trial keeps its :class:`TrialRun`, so resuming continues
from its last epoch and earlier epochs are never paid for twice.

The run ends when the simulated time budget is reached (epochs that would finish later are not
reported), when the epoch budget is used up, or when no worker has work and the method has none
to give. Budgets and the meaning of each event are shared with the local backend
(:mod:`benchmarks.tuning`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.objective import EpochResult, Objective, TrialRun, trial_seed
from benchmarks.tuning import Budget, ReportCallback, RunResult, TuningLog
from hpo_methods.protocol import Method
from hpo_methods.space import Config

ProgressCallback = Callable[[float, int, int], None]

__all__ = ["Budget", "RunResult", "SimulatedBackend"]


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
        on_report: ReportCallback | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1 (got {n_workers})")
        self.objective = objective
        self.n_workers = n_workers
        self.budget = budget
        self.seed = seed
        self.progress = progress
        self.log = TuningLog(
            method, objective.metric, objective.metric_names, objective.max_epochs, budget,
            on_report,
        )  # fmt: skip
        self.clock = 0.0
        self._runs: dict[int, TrialRun] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._idle: list[int] = list(range(n_workers))

    def run(self) -> RunResult:
        ended_by = "method"
        self._assign_idle_workers()
        while self._events:
            event = heapq.heappop(self._events)
            if self.budget.time is not None and event.time > self.budget.time:
                ended_by = "time"
                break
            self.clock = event.time
            self._handle(event)
            if self.log.epochs_exhausted():
                ended_by = "epochs"
                break
            self._assign_idle_workers()
        else:
            if self.log.trials_exhausted():
                ended_by = "trials"
        for run in self._runs.values():
            run.close()
        return self.log.result(ended_by, self.clock)

    def _handle(self, event: _Event) -> None:
        if event.result is None:
            self.log.fail(event.trial_id, event.error, self.clock)
            self._release(event.trial_id)
            self._idle.append(event.worker)
            return
        outcome = self.log.report(event.trial_id, event.result, self.clock, event.worker)
        if outcome == "continue":
            self._schedule_epoch(event.worker, event.trial_id)
        else:
            if outcome == "paused":
                self._runs[event.trial_id].pause()
            else:
                self._release(event.trial_id)
            self._idle.append(event.worker)
        if self.progress is not None:
            self.progress(self.clock, len(self.log.trials), self.log.epochs_trained)

    def _assign_idle_workers(self) -> None:
        self._idle.sort()
        while self._idle:
            suggestion = self.log.suggest()
            for trial_id in self.log.drop_abandoned(self.clock):
                self._release(trial_id)
            if suggestion is None:
                return
            worker = self._idle.pop(0)
            if suggestion.resume:
                self.log.resume(suggestion.trial_id)
            elif not self._start_trial(suggestion.trial_id, suggestion.config):
                self._idle.insert(0, worker)
                continue
            self._schedule_epoch(worker, suggestion.trial_id)

    def _start_trial(self, trial_id: int, config: Config) -> bool:
        self.log.start(trial_id, config, self.clock)
        try:
            seed = trial_seed(self.seed, trial_id)
            self._runs[trial_id] = self.objective.start_trial(trial_id, config, seed)
        except Exception as err:  # a trial that cannot start is recorded; the run goes on
            self.log.fail(trial_id, f"{type(err).__name__}: {err}", self.clock)
            return False
        return True

    def _schedule_epoch(self, worker: int, trial_id: int) -> None:
        try:
            result: EpochResult | None = self._runs[trial_id].next_epoch()
            duration = float(result.epoch_time)
            if not (math.isfinite(duration) and duration >= 0):
                raise ValueError(f"epoch time must be finite and >= 0 (got {duration})")
            error = ""
        except Exception as err:  # a crash is reported at the current simulated time
            result, duration, error = None, 0.0, f"{type(err).__name__}: {err}"
        self._seq += 1
        heapq.heappush(
            self._events, _Event(self.clock + duration, self._seq, worker, trial_id, result, error)
        )

    def _release(self, trial_id: int) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.close()
