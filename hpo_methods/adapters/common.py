"""What the library adapters share: the search space in a library's terms, and the bookkeeping of
libraries that hand out (configuration, epochs) jobs through ask/tell.

*The search space* (:class:`SpaceMap`) is mapped exactly, one library parameter per domain of
:mod:`hpo_methods.space`:

==================  ================================================================
``uniform``         a float in [low, high]
``loguniform``      a float in [low, high] on a log scale
``randint``         an integer in low..high
``lograndint``      an integer in low..high on a log scale
``choice``          a categorical over the categories (as labels ``str(category)``)
``finrange``        an ordinal over the exact grid of ``size`` values
``logfinrange``     an ordinal over the exact (geometric) grid
==================  ================================================================

A *finite* space (a table's recorded configurations, ``SearchSpace.candidates``) is mapped to
what the library can evaluate and nothing else: if the configurations form a full grid (every
combination of each hyperparameter's recorded values is recorded), one ordinal per numeric
hyperparameter over its recorded values (a categorical per ``choice``); otherwise one categorical
parameter ``configuration`` whose categories are the recorded configurations. (The libraries have
no notion of "score these candidates"; a categorical is exact but gives their models no way to
generalise between configurations, which the comparison in ``scripts/compare_references.py``
must be read with.)

*Ask/tell jobs* (:class:`AskTellMethod`): SMAC3 and DEHB ask for a configuration *at a budget*.
A job becomes a trial trained to that many epochs. When the trial reaches them, the value of
the last epoch is told to the library, and the trial pauses if the library may still ask for
the same configuration at a higher budget (so that job resumes it from its checkpoint instead of
training from scratch, as our own Hyperband does), else it stops. Paused trials the library
will never ask for again are handed back through ``dropped_trials()``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision, Metrics, Suggestion, TrialStatus
from hpo_methods.space import (
    Choice,
    Config,
    FinRange,
    LogRandInt,
    LogUniform,
    RandInt,
    SearchSpace,
    SearchSpaceError,
    Uniform,
)

FLOAT, INT, CATEGORICAL, ORDINAL = "float", "int", "categorical", "ordinal"
CONFIGURATION = "configuration"  # the one parameter of a finite space that is not a grid


@dataclass(frozen=True)
class Param:
    """One library parameter: ``kind`` float/int (``low``..``high``, ``log``), categorical
    (``choices``: string labels) or ordinal (``choices``: the ordered values)."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()


class SpaceMap:
    """A search space as library parameters (module docstring), and back."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.params: list[Param] = []
        self._values: dict[str, dict[Any, Any]] = {}  # categorical label -> value
        self._configs: list[Config] | None = None  # a finite space that is not a grid
        self._grid: dict[tuple, Config] | None = None  # a finite grid: key -> its candidate
        self.table_param: str | None = None  # the one categorical of a finite non-grid space
        if space.candidates is None:
            for domain in space.domains:
                self._add(domain.name, _param(domain), getattr(domain, "categories", None))
        elif (grid := _grid(space)) is not None:
            pairs = zip(space.candidate_keys, space.candidates or [], strict=True)
            self._grid = {key: dict(config) for key, config in pairs}
            for domain in space.domains:
                values = grid[domain.name]
                if isinstance(domain, Choice):
                    self._add(domain.name, Param(domain.name, CATEGORICAL), values)
                else:
                    self._add(domain.name, Param(domain.name, ORDINAL, choices=tuple(values)), None)
        else:
            self._configs = _distinct(space)
            name = CONFIGURATION
            while name in space.names:
                name = f"_{name}"
            self._add(name, Param(name, CATEGORICAL), list(range(len(self._configs))))
            self.table_param = name

    def _add(self, name: str, param: Param, categories: Sequence[Any] | None) -> None:
        if param.kind == CATEGORICAL:
            assert categories is not None
            labels = [str(c) for c in categories]
            if len(set(labels)) != len(labels):
                labels = [f"{i}:{c!r}" for i, c in enumerate(categories)]
            param = Param(name, CATEGORICAL, choices=tuple(labels))
            self._values[name] = dict(zip(labels, categories, strict=True))
        self.params.append(param)

    def decode(self, values: Mapping[str, Any]) -> Config:
        """The configuration for a library's parameter values (ordinals: the value itself)."""
        if self._configs is not None:
            (param,) = self.params
            return dict(self._configs[self._values[param.name][str(values[param.name])]])
        config: Config = {}
        for param, domain in zip(self.params, self.space.domains, strict=True):
            value = values[param.name]
            if param.kind == CATEGORICAL:
                config[domain.name] = self._values[param.name][str(value)]
            elif param.kind == ORDINAL:
                config[domain.name] = _nearest(param.choices, float(value))
            elif param.kind == INT:
                config[domain.name] = int(min(param.high, max(param.low, round(float(value)))))
            else:
                config[domain.name] = float(min(param.high, max(param.low, float(value))))
        if self._grid is not None:
            return dict(self._grid[self.space.key(config)])
        self.space.validate(config)
        return config


def _param(domain: Any) -> Param:
    if isinstance(domain, Choice):
        return Param(domain.name, CATEGORICAL)
    if isinstance(domain, FinRange):  # and LogFinRange: the grid itself
        return Param(domain.name, ORDINAL, choices=tuple(domain.values))
    if isinstance(domain, RandInt):  # and LogRandInt
        return Param(domain.name, INT, domain.low, domain.high, isinstance(domain, LogRandInt))
    if isinstance(domain, Uniform):  # and LogUniform
        return Param(domain.name, FLOAT, domain.low, domain.high, isinstance(domain, LogUniform))
    raise SearchSpaceError(
        f"hyperparameter '{domain.name}': no library mapping for domain type {domain.kind!r}"
    )


def _distinct(space: SearchSpace) -> list[Config]:
    """The candidates, each distinct configuration once, in candidate order."""
    seen: set[tuple] = set()
    configs = []
    for config, key in zip(space.candidates or [], space.candidate_keys, strict=True):
        if key not in seen:
            seen.add(key)
            configs.append(dict(config))
    return configs


def _grid(space: SearchSpace) -> dict[str, list[Any]] | None:
    """Each hyperparameter's recorded values if the candidates are their full product."""
    keys = set(space.candidate_keys)
    values: dict[str, list[Any]] = {}
    for i, domain in enumerate(space.domains):
        distinct = {key[i]: None for key in space.candidate_keys}
        if isinstance(domain, Choice):
            values[domain.name] = [c for c in domain.categories if c in distinct]
        else:
            values[domain.name] = sorted(distinct)
    size = math.prod(len(v) for v in values.values())
    return values if size == len(keys) else None


def _nearest(values: Sequence[Any], value: float) -> Any:
    return values[int(np.argmin([abs(float(v) - value) for v in values]))]


@dataclass
class Job:
    """What a library asked for: ``config`` trained to ``epochs``; ``token`` is the library's
    own handle, given back when the result is told."""

    config: Config
    epochs: int
    token: Any


@dataclass
class _Trial:
    trial_id: int
    config: Config
    key: tuple
    job: Job
    status: TrialStatus = TrialStatus.RUNNING
    epochs: int = 0
    job_start: int = 0  # epochs trained when the current job started
    cost: float = 0.0  # seconds trained in the current job
    told: bool = False  # the current job's result was told
    values: dict[int, float] = field(default_factory=dict)


class AskTellMethod(ABC):
    """A library that hands out (configuration, epochs) jobs, behind the method protocol.

    Subclasses implement :meth:`_ask`, :meth:`_tell`, :meth:`_tell_failure`, and may
    implement :meth:`_may_continue` (pause rather than stop at the job's budget) and
    :meth:`_abandoned` (paused trials the library will never ask for again).
    """

    multi_objective = False
    MAX_ASKS = 1000  # asks answered from known results in one suggest() before giving up

    def __init__(self, problem: Problem, name: str) -> None:
        self.problem = problem
        self.name = name
        self._trials: dict[int, _Trial] = {}
        self._paused: dict[int, tuple] = {}  # paused trial id -> its configuration's key
        self._held: Job | None = None  # asked while no new trial may start
        self._dropped: list[int] = []
        self.exhausted = False  # the library has no configuration left to propose

    @abstractmethod
    def _ask(self) -> Job | None:
        """The library's next job; ``None`` if it has no configuration left (for good)."""

    @abstractmethod
    def _tell(self, job: Job, value: float, cost: float) -> None:
        """The job's result: the minimised value at its budget and the seconds it trained."""

    @abstractmethod
    def _tell_failure(self, job: Job) -> None:
        """The job's trial crashed or diverged."""

    def _may_continue(self, job: Job) -> bool:
        """Whether the library may later ask for ``job.config`` at more epochs."""
        return False

    def _abandoned(self, paused: dict[int, Job]) -> list[int]:
        """Which of the paused trials (id -> their last job) the library will never resume."""
        return []

    def epochs_for(self, budget: float) -> int:
        """A library budget in epochs: rounded to the nearest whole epoch, within 1..max."""
        return int(min(self.problem.max_epochs, max(1, math.floor(float(budget) + 0.5))))

    # -- the method protocol --------------------------------------------------------------------

    def suggest(self, allow_new: bool = True) -> Suggestion | None:
        """The library's next job: a paused trial resumed, or (if allowed) a new trial."""
        for _ in range(self.MAX_ASKS):
            if self.exhausted:
                return None
            job, self._held = self._held or self._ask(), None
            if job is None:
                self.exhausted = True
                return None
            key = self.problem.space.key(job.config)
            paused = [self._trials[t] for t, k in self._paused.items() if k == key]
            behind = [t for t in paused if t.epochs < job.epochs]
            if behind:  # the paused trial of this configuration that trained the most
                trial = max(behind, key=lambda t: (t.epochs, -t.trial_id))
                del self._paused[trial.trial_id]
                self._start_job(trial, job)
                return Suggestion(trial.trial_id, dict(trial.config), resume=True)
            known = [t for t in paused if job.epochs in t.values]
            if known:  # trained that far already: answer at once
                self._tell(job, known[0].values[job.epochs], 0.0)
                continue
            if not allow_new:
                self._held = job
                return None
            trial_id = len(self._trials)
            trial = _Trial(trial_id, dict(job.config), key, job)
            self._trials[trial_id] = trial
            self._start_job(trial, job)
            return Suggestion(trial_id, dict(job.config))
        raise RuntimeError(f"{self.name}: the library asked for {self.MAX_ASKS} known results")

    def _start_job(self, trial: _Trial, job: Job) -> None:
        trial.job, trial.job_start, trial.cost, trial.told = job, trial.epochs, 0.0, False
        trial.status = TrialStatus.RUNNING

    def report(self, trial_id: int, epoch: int, metrics: Metrics) -> Decision:
        """Continue to the job's budget; there, tell the library and pause or stop."""
        trial = self._trials[trial_id]
        value = self.problem.value(metrics)
        trial.epochs = epoch
        trial.values[epoch] = value
        cost = self.problem.cost(metrics)
        trial.cost += cost if math.isfinite(cost) else 0.0
        if not math.isfinite(value):
            return Decision.STOP  # diverged: the backend calls fail()
        if epoch < trial.job.epochs:
            return Decision.CONTINUE
        self._tell(trial.job, value, trial.cost)
        trial.told = True
        if epoch >= self.problem.max_epochs:
            return Decision.CONTINUE  # the backend calls complete()
        if self._may_continue(trial.job):
            trial.status = TrialStatus.PAUSED
            self._paused[trial_id] = trial.key
            return Decision.PAUSE
        trial.status = TrialStatus.STOPPED
        return Decision.STOP

    def complete(self, trial_id: int) -> None:
        self._trials[trial_id].status = TrialStatus.COMPLETED

    def fail(self, trial_id: int, reason: str = "") -> None:
        trial = self._trials[trial_id]
        self._paused.pop(trial_id, None)
        if not trial.told:
            self._tell_failure(trial.job)
            trial.told = True
        trial.status = TrialStatus.FAILED

    def dropped_trials(self) -> list[int]:
        """Paused trials the library will never ask for again (now stopped); all of them once
        the library has no configuration left (it can no longer be asked)."""
        if self._paused:
            paused = {tid: self._trials[tid].job for tid in sorted(self._paused)}
            for trial_id in sorted(paused) if self.exhausted else self._abandoned(paused):
                trial = self._trials[trial_id]
                del self._paused[trial_id]
                trial.status = TrialStatus.STOPPED
                self._dropped.append(trial_id)
        dropped, self._dropped = self._dropped, []
        return dropped


def plain(value: Any) -> Any:
    """A library's numpy scalar as the Python value (numpy ints, floats and strings)."""
    return value.item() if isinstance(value, np.generic) else value
