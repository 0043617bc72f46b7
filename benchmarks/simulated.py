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

*Method time* (``count_method_time``, off by default). By default the method decides in zero
simulated time, so a run is a pure function of its configuration and seed. When on, the backend
(never the method) times every call it makes on the method (``suggest``, ``dropped_trials``,
``report``, ``complete``, ``fail``) with ``clock`` (``time.perf_counter``) and adds the real
seconds to the simulated clock. The method is one decision maker that handles one call at a time,
in the order of the event loop, each from the moment the previous one ended:

- an epoch that ends at time t is handled at ``max(t, when the method is free)``; if that is past
  the time budget, the run ends there and the epoch is not reported. Its report row (``time``)
  and, if the trial ends there, the trial's ``end_time`` keep t, when the result existed;
- the worker waits for the decision: it trains the next epoch, or asks for new work, only once
  ``report`` (and ``complete``) returned, i.e. at handling time + decision time;
- a free worker asks for work when the method is free; the trial it gets starts (its
  ``start_time``, its first epoch) once ``suggest`` returned. A ``suggest`` that gives no work
  still costs its time, and so does ``dropped_trials``, which follows each ``suggest``.

So decision time delays workers, never the epochs already running (as a tuner process running
beside its workers would). The summary gives the seconds counted (``method_time``; 0.0 when off)
and ``elapsed_time`` is when the last handled decision ended. With measured time a run is no
longer reproducible to the second: results depend on the machine and its load. (Syne Tune's
simulator always advances its one clock by the real time spent outside its backend, the tuner
loop and its bookkeeping included, and looks for free workers only every ``tuner_sleep_time``
simulated seconds; here only the method's own calls count, only when asked, and a free worker
asks at once.)
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from benchmarks.objective import EpochResult, Objective, TrialRun, trial_seed
from benchmarks.tuning import Budget, ReportCallback, RunResult, TuningLog
from hpo_methods.problem import Problem
from hpo_methods.protocol import TuningMethod
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


class _Stopwatch:
    """Stands in for the method: every call made through it is timed with ``clock`` and its
    seconds added to ``pending``; other attributes are the method's own."""

    def __init__(self, method: TuningMethod, clock: Callable[[], float]) -> None:
        self._method = method
        self._clock = clock
        self.pending = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._method, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self._clock()
            try:
                return attr(*args, **kwargs)
            finally:
                elapsed = self._clock() - start
                if not (math.isfinite(elapsed) and elapsed >= 0):
                    raise RuntimeError(f"the clock gave a decision time of {elapsed} s")
                self.pending += elapsed

        return timed

    def take(self) -> float:
        """Seconds timed since the last call."""
        seconds, self.pending = self.pending, 0.0
        return seconds


class SimulatedBackend:
    """Runs one method on one objective with ``n_workers`` workers on a simulated clock.

    ``count_method_time`` adds the method's decision time, measured with ``clock``, to the
    simulated clock (module docstring); ``clock`` is never read when it is off. ``problem`` is
    the one the method was built for (default: minimise the objective's metric).
    """

    def __init__(
        self,
        method: TuningMethod,
        objective: Objective,
        n_workers: int,
        budget: Budget,
        seed: int,
        on_report: ReportCallback | None = None,
        progress: ProgressCallback | None = None,
        count_method_time: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        problem: Problem | None = None,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1 (got {n_workers})")
        if not isinstance(count_method_time, bool):
            raise ValueError(f"count_method_time must be true or false (got {count_method_time!r})")
        self.objective = objective
        self.n_workers = n_workers
        self.budget = budget
        self.seed = seed
        self.progress = progress
        self._stopwatch = _Stopwatch(method, clock) if count_method_time else None
        self.log = TuningLog(
            cast(TuningMethod, self._stopwatch) if self._stopwatch is not None else method,
            problem or objective.problem(), objective.metric_names, budget, on_report, n_workers,
        )  # fmt: skip
        self.now = 0.0  # the simulated clock
        self.method_time = 0.0  # decision seconds added to it
        self._runs: dict[int, TrialRun] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._idle: list[int] = list(range(n_workers))

    def run(self) -> RunResult:
        ended_by = "method"
        self._assign_idle_workers()
        while self._events:
            event = heapq.heappop(self._events)
            handled_at = max(event.time, self.now)  # when the method is free to handle it
            if self.budget.time is not None and handled_at > self.budget.time:
                ended_by = "time"
                break
            self.now = handled_at
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
        result = self.log.result(ended_by, self.now)
        result.summary["method_time"] = self.method_time
        return result

    def _decided(self) -> None:
        """The method's calls since the last one took their measured time (if counted)."""
        if self._stopwatch is not None:
            seconds = self._stopwatch.take()
            self.now += seconds
            self.method_time += seconds

    def _handle(self, event: _Event) -> None:
        if event.result is None:
            self.log.fail(event.trial_id, event.error, event.time)
            self._decided()
            self._release(event.trial_id)
            self._free(event.worker)
            return
        outcome = self.log.report(event.trial_id, event.result, event.time, event.worker)
        self._decided()
        if outcome == "continue":
            self._schedule_epoch(event.worker, event.trial_id)
        else:
            if outcome == "paused":
                self._runs[event.trial_id].pause()
            else:
                self._release(event.trial_id)
            self._free(event.worker)
        if self.progress is not None:
            self.progress(self.now, len(self.log.trials), self.log.epochs_trained)

    def _assign_idle_workers(self) -> None:
        self._idle.sort()
        while self._idle:
            suggestion = self.log.suggest()
            self._decided()
            dropped = self.log.drop_abandoned(self.now)
            self._decided()
            for trial_id in dropped:
                self._release(trial_id)
            if suggestion is None:
                return
            worker = self._idle.pop(0)
            if suggestion.resume:
                self.log.resume(suggestion.trial_id)
            elif not self._start_trial(suggestion.trial_id, suggestion.config):
                self._idle.insert(0, worker)
                continue
            self.log.workers.busy(worker, self.now)
            self._schedule_epoch(worker, suggestion.trial_id)

    def _free(self, worker: int) -> None:
        self.log.workers.free(worker, self.now)
        self._idle.append(worker)

    def _start_trial(self, trial_id: int, config: Config) -> bool:
        self.log.start(trial_id, config, self.now)
        try:
            seed = trial_seed(self.seed, trial_id)
            self._runs[trial_id] = self.objective.start_trial(trial_id, config, seed)
        except Exception as err:  # a trial that cannot start is recorded; the run goes on
            self.log.fail(trial_id, f"{type(err).__name__}: {err}", self.now)
            self._decided()
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
            self._events, _Event(self.now + duration, self._seq, worker, trial_id, result, error)
        )

    def _release(self, trial_id: int) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.close()
