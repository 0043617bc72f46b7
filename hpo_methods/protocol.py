"""The protocol between a tuning backend and an HPO method.

Every method, ours or a user's (see :class:`TuningMethod`), is driven by the backend with five
calls and nothing else:

- ``suggest(allow_new)``: a worker is free. The answer is a new trial, the resumption of a
  paused trial, or ``None`` ("nothing to do right now"; the backend asks again after the next
  event).
- ``report(trial_id, epoch, metrics)``: a trial finished an epoch. ``metrics`` maps every metric
  of the epoch to its value, the epoch's observed cost (``epoch_time``: simulated or real
  seconds) included; the answer is a :class:`Decision`.
- ``complete(trial_id)``: a trial reached the maximum number of epochs.
- ``fail(trial_id, reason)``: a trial crashed or diverged.
- ``dropped_trials()``: paused trials the method gave up on since the last call.

What to optimise comes with the :class:`~hpo_methods.problem.Problem` a method is built with
(objectives with directions, constraints, the cost metric). Methods never read a clock and draw
randomness only from the seed they are given, so a run is a pure function of its configuration
and seed.

*Random streams.* Every part of a method that draws gets its own stream, spawned from one
``np.random.SeedSequence(seed)`` (:func:`random_stream`): the searcher (configurations),
the scheduler (e.g. brackets) and the surrogate model (e.g. GP hyperparameter restarts) draw
from independent children ``SeedSequence(seed).spawn(3)[k]``, so no decision is a function of
another's draws (with one shared seed, asynchronous Hyperband's first bracket was a function of
the first trial's learning rate). Searchers and schedulers get theirs from the seed in their
base classes; a model that needs several streams spawns them from its own.

*Common random numbers across methods* (deliberate): for a given seed, every searcher draws its
uniform random configurations from the same searcher stream in the same way
(:meth:`~hpo_methods.space.SearchSpace.sample`), and draws nothing else before its first
model-based proposal, so methods that start with random proposals (all of the built-in ones:
random, asha, sh, hyperband, async_hyperband, median_stopping, bo, tpe, rea, bohb, mobster,
hypertune, and dehb's first population) try the same first configurations for that seed.
Comparisons between methods on one seed are then paired on their initial design, which lowers
the variance of their differences; over seeds the designs are independent. A searcher that
changes how or when it draws breaks this pairing: ``tests/test_random_streams.py`` checks it.
(The objective's own noise uses a separate seed per trial, ``SeedSequence([seed, trial_id])``,
in the backend.)

The built-in methods are a :class:`Searcher` (which configuration to try next) combined with a
:class:`Scheduler` (how many epochs each trial gets: continue, stop, or pause and later resume)
in :class:`Method`. Searchers and schedulers see the problem's first objective as one number to
minimise (a non-finite value is +inf); the searcher's trial records keep every metric too.
A method that optimises several objectives says so with ``multi_objective = True`` (it then sees
:meth:`~hpo_methods.problem.Problem.values`, a tuple).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hpo_methods.problem import Problem
from hpo_methods.space import Config, SearchSpace

Metrics = Mapping[str, float]


class Stream(IntEnum):
    """The independent random streams of a method (module docstring)."""

    SEARCHER = 0
    SCHEDULER = 1
    MODEL = 2


def random_stream(seed: int, stream: Stream) -> np.random.SeedSequence:
    """Stream ``stream`` of a run's ``seed``: child ``stream`` of
    ``np.random.SeedSequence(seed).spawn(len(Stream))``."""
    return np.random.SeedSequence(int(seed)).spawn(len(Stream))[stream]


class Decision(StrEnum):
    """The answer to an epoch report."""

    CONTINUE = "continue"
    STOP = "stop"
    PAUSE = "pause"


class TrialStatus(StrEnum):
    """Where a trial stands, as the method and the results files see it."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Suggestion:
    """Work for a free worker: start trial ``trial_id`` or, if ``resume``, continue it."""

    trial_id: int
    config: Config
    resume: bool = False


@dataclass
class TrialRecord:
    """What a method knows about one trial."""

    trial_id: int
    config: Config
    status: TrialStatus = TrialStatus.RUNNING
    values: dict[int, Any] = field(default_factory=dict)  # epoch -> value (minimised)
    metrics: dict[int, Metrics] = field(default_factory=dict)  # epoch -> every metric

    @property
    def last_epoch(self) -> int:
        return max(self.values, default=0)


class Searcher(ABC):
    """Chooses configurations. Sees every report, and which trials are still pending."""

    def __init__(self, space: SearchSpace, seed: int, max_epochs: int) -> None:
        self.space = space
        self.max_epochs = max_epochs
        self.rng = np.random.default_rng(random_stream(seed, Stream.SEARCHER))
        self.trials: dict[int, TrialRecord] = {}
        self.seen: set[tuple] = set()  # space.key() of every configuration started so far

    @abstractmethod
    def propose(self) -> Config | None:
        """The next configuration to try, or ``None`` if the searcher has nothing left."""

    def on_trial_start(self, trial_id: int, config: Config) -> None:
        self.trials[trial_id] = TrialRecord(trial_id, dict(config))
        self.seen.add(self.space.key(config))

    def observe(self, trial_id: int, epoch: int, value: Any, metrics: Metrics) -> None:
        """Record an epoch report (every metric), then hand its value to :meth:`on_report`."""
        self.trials[trial_id].metrics[epoch] = metrics
        self.on_report(trial_id, epoch, value)

    def on_report(self, trial_id: int, epoch: int, value: Any) -> None:
        self.trials[trial_id].values[epoch] = value

    def on_status(self, trial_id: int, status: TrialStatus) -> None:
        self.trials[trial_id].status = status

    def pending(self) -> list[TrialRecord]:
        """Trials still training or paused: their outcome is not known yet."""
        return [
            t for t in self.trials.values() if t.status in (TrialStatus.RUNNING, TrialStatus.PAUSED)
        ]


class Scheduler(ABC):
    """Decides how long trials train. Knows nothing of configurations beyond their ids."""

    def __init__(self, max_epochs: int, seed: int) -> None:
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1 (got {max_epochs})")
        self.max_epochs = max_epochs
        self.rng = np.random.default_rng(random_stream(seed, Stream.SCHEDULER))

    def trial_to_resume(self) -> int | None:
        """A paused trial that should continue now (a promotion), if any."""
        return None

    def can_start_trial(self) -> bool:
        """Whether a new trial may start now (synchronous schedulers may say wait)."""
        return True

    def trials_to_stop(self) -> list[int]:
        """Paused trials that will never resume (e.g. not promoted when a rung closed).

        Each id is returned once; the method then marks the trial stopped and the backend
        releases its checkpoint.
        """
        return []

    def on_no_new_trials(self) -> bool:
        """No new trial can start any more (trial budget spent, or the searcher has no
        configuration left). A synchronous scheduler may close its open rungs with the trials it
        has; return True if that may have made promotions possible."""
        return False

    def on_trial_start(self, trial_id: int) -> None:  # noqa: B027 - optional hook
        """A new trial was started."""

    def on_resume(self, trial_id: int) -> None:  # noqa: B027 - optional hook
        """A paused trial was resumed."""

    @abstractmethod
    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        """Decide after ``epoch`` of ``trial_id`` reported ``value``."""

    def on_end(self, trial_id: int, status: TrialStatus) -> None:  # noqa: B027 - optional hook
        """The trial ended (completed, stopped or failed)."""


@runtime_checkable
class TuningMethod(Protocol):
    """What the backend needs of a method (module docstring). Implement it to plug in a method
    of your own, built as ``factory(problem, seed, **settings)``."""

    def suggest(self, allow_new: bool = True) -> Suggestion | None:
        """Work for a free worker, or ``None``; only resumptions when ``allow_new`` is False."""
        ...

    def report(self, trial_id: int, epoch: int, metrics: Metrics) -> Decision:
        """Epoch ``epoch`` of the trial ended with these metrics (``epoch_time`` included)."""
        ...

    def complete(self, trial_id: int) -> None:
        """The trial trained to the maximum number of epochs."""
        ...

    def fail(self, trial_id: int, reason: str = "") -> None:
        """The trial crashed or diverged; it will not report again."""
        ...

    def dropped_trials(self) -> list[int]:
        """Paused trials given up on since the last call (they will never resume)."""
        ...


class Method:
    """A searcher and a scheduler behind the backend protocol (module docstring)."""

    multi_objective = False  # True: searcher and scheduler see a tuple of minimised objectives

    def __init__(
        self, searcher: Searcher, scheduler: Scheduler, problem: Problem, name: str = ""
    ) -> None:
        self.searcher = searcher
        self.scheduler = scheduler
        self.problem = problem
        self.name = name
        self._next_trial_id = 0
        self._configs: dict[int, Config] = {}
        self._status: dict[int, TrialStatus] = {}
        self._dropped: list[int] = []

    def suggest(self, allow_new: bool = True) -> Suggestion | None:
        """Work for a free worker, or ``None`` if there is nothing to do right now.

        With ``allow_new=False`` (the trial budget is spent) only paused trials may resume.
        """
        resumed = self._resume()
        if resumed is not None:
            return resumed
        if allow_new and not self.scheduler.can_start_trial():
            return None
        config = self.searcher.propose() if allow_new else None
        if config is None:
            if self.scheduler.on_no_new_trials():
                return self._resume()
            self._collect_dropped()
            return None
        trial_id = self._next_trial_id
        self._next_trial_id += 1
        self._configs[trial_id] = dict(config)
        self._status[trial_id] = TrialStatus.RUNNING
        self.searcher.on_trial_start(trial_id, config)
        self.scheduler.on_trial_start(trial_id)
        return Suggestion(trial_id, dict(config))

    def dropped_trials(self) -> list[int]:
        """Paused trials the scheduler gave up on since the last call (now stopped)."""
        self._collect_dropped()
        dropped, self._dropped = self._dropped, []
        return dropped

    def _resume(self) -> Suggestion | None:
        self._collect_dropped()
        resume_id = self.scheduler.trial_to_resume()
        if resume_id is None:
            return None
        if self._status.get(resume_id) != TrialStatus.PAUSED:
            raise RuntimeError(f"scheduler resumed trial {resume_id}, which is not paused")
        self._set_status(resume_id, TrialStatus.RUNNING)
        self.scheduler.on_resume(resume_id)
        return Suggestion(resume_id, dict(self._configs[resume_id]), resume=True)

    def _collect_dropped(self) -> None:
        for trial_id in self.scheduler.trials_to_stop():
            if self._status.get(trial_id) != TrialStatus.PAUSED:
                raise RuntimeError(f"scheduler dropped trial {trial_id}, which is not paused")
            self._end(trial_id, TrialStatus.STOPPED)
            self._dropped.append(trial_id)

    def report(self, trial_id: int, epoch: int, metrics: Metrics) -> Decision:
        """An epoch's metrics; returns whether the trial continues, stops or pauses."""
        problem = self.problem
        value = problem.values(metrics) if self.multi_objective else problem.value(metrics)
        self.searcher.observe(trial_id, epoch, value, metrics)
        decision = self.scheduler.on_report(trial_id, epoch, value)
        if epoch >= self.scheduler.max_epochs:
            return decision  # the backend calls complete(): nothing is left to decide
        if decision == Decision.STOP:
            self._end(trial_id, TrialStatus.STOPPED)
        elif decision == Decision.PAUSE:
            self._set_status(trial_id, TrialStatus.PAUSED)
        return decision

    def complete(self, trial_id: int) -> None:
        """The trial trained to the maximum number of epochs."""
        self._end(trial_id, TrialStatus.COMPLETED)

    def fail(self, trial_id: int, reason: str = "") -> None:
        """The trial crashed or diverged; it will not report again."""
        self._end(trial_id, TrialStatus.FAILED)

    def _set_status(self, trial_id: int, status: TrialStatus) -> None:
        self._status[trial_id] = status
        self.searcher.on_status(trial_id, status)

    def _end(self, trial_id: int, status: TrialStatus) -> None:
        self._set_status(trial_id, status)
        self.scheduler.on_end(trial_id, status)
