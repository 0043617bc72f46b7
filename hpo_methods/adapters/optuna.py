"""Optuna's samplers and pruners as tunebench methods (``pip install -e ".[optuna]"``).

Akiba, Sano, Yanase, Ohta, Koyama: "Optuna: A Next-generation Hyperparameter Optimization
Framework", KDD 2019. One in-memory study per run, driven through ask/tell:

- ``suggest`` asks the study for a trial and reads every hyperparameter from it (the mapping:
  :mod:`hpo_methods.adapters.common`; an ordinal grid is asked as the integer index into it);
- ``report`` passes each epoch's value to ``trial.report(value, epoch)``; with a pruner,
  ``trial.should_prune()`` answers STOP and the trial is told ``PRUNED`` (Optuna then keeps its
  last reported value, as in its own ``optimize`` loop);
- ``complete`` tells the value of the last epoch; ``fail`` tells ``FAIL``. Trials that are
  running are known to the study (``RUNNING``), so samplers that handle them (TPE's constant
  liar, the GP sampler) see the pending work of the other workers.

Methods (settings as Optuna names them; defaults are Optuna's unless said otherwise):

- ``optuna_tpe``: :class:`optuna.samplers.TPESampler` (Watanabe 2023, "Tree-Structured Parzen
  Estimator: Understanding Its Algorithm Components..."); ``constant_liar`` is on, as Optuna
  recommends for parallel workers (and as it defaults to since 5.0).
- ``optuna_gp``: :class:`optuna.samplers.GPSampler` (needs torch: the ``optuna`` extra installs
  it). Torch runs with one thread, as Optuna's documentation advises for this sampler: on this
  project's busy 2-core machine a 300 s run took 97 s instead of 363 s, with identical results.
- ``optuna_cmaes``: :class:`optuna.samplers.CmaEsSampler` (Hansen 2016). CMA-ES has no
  categorical dimension: Optuna samples a ``choice`` hyperparameter with its independent
  (random) sampler, and so on a table whose configurations are one categorical CMA-ES is random
  search.
- ``optuna_nsga2``: :class:`optuna.samplers.NSGAIISampler` (Deb et al. 2002), for problems with
  several objectives (every objective is minimised: :meth:`Problem.values`).
- ``optuna_sh`` / ``optuna_hyperband``: TPE with :class:`~optuna.pruners.SuccessiveHalvingPruner`
  (asynchronous SH, Li et al. 2020) or :class:`~optuna.pruners.HyperbandPruner` (Li et al. 2018;
  each trial joins a bracket chosen from a hash of the study name and trial number, and TPE then
  learns from that bracket's trials only). Any Optuna method takes ``pruner: sh|hyperband``;
  ``min_resource`` and ``reduction_factor`` default to the harness's geometry (1 epoch, 3)
  rather than the SH pruner's own ``auto``/4. Pruners need intermediate values, which Optuna
  supports for one objective only.

A problem's constraints are set on each finished trial with ``trial.set_constraint`` (Optuna 5;
one value per constraint, named as the constraint, <= 0 where it holds, from the trial's last
epoch), which TPE, the GP sampler and NSGA-II take into account.

Determinism: every sampler is seeded with the run's seed and the study is named ``tunebench``
(the Hyperband pruner hashes that name), so a rerun is byte-identical. The GP sampler fits with
torch on the CPU; its results are identical on one machine and torch version, but may differ in
the last digits across CPUs or torch versions.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import optuna

from hpo_methods.adapters.common import CATEGORICAL, FLOAT, INT, ORDINAL, SpaceMap
from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision, Metrics, Suggestion, TrialStatus
from hpo_methods.registry import MethodError, MissingExtraError

STUDY_NAME = "tunebench"
PRUNERS = ("none", "sh", "hyperband")


class OptunaMethod:
    """An Optuna study behind the method protocol (module docstring)."""

    def __init__(
        self,
        problem: Problem,
        sampler: optuna.samplers.BaseSampler,
        pruner: optuna.pruners.BasePruner | None,
        name: str,
        multi_objective: bool,
    ) -> None:
        if problem.multi_objective and not multi_objective:
            self.multi_objective = False  # registry.build() refuses it with the list of methods
        else:
            self.multi_objective = problem.multi_objective
        if pruner is not None and problem.multi_objective:
            raise MethodError(
                f"method '{name}': Optuna's pruners need one objective (it has no intermediate "
                f"values for several); use pruner=none"
            )
        self.problem = problem
        self.name = name
        self.space = SpaceMap(problem.space)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name=STUDY_NAME,
            sampler=sampler,
            pruner=pruner if pruner is not None else optuna.pruners.NopPruner(),
            directions=["minimize"] * len(problem.objectives),
        )
        self._pruning = pruner is not None
        self._trials: dict[int, optuna.Trial] = {}
        self._last: dict[int, Metrics] = {}
        self._status: dict[int, TrialStatus] = {}

    def suggest(self, allow_new: bool = True) -> Suggestion | None:
        if not allow_new:
            return None  # Optuna never pauses, so there is nothing to resume
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = self.study.ask()
            values = {p.name: _suggest(trial, p) for p in self.space.params}
        trial_id = len(self._trials)
        self._trials[trial_id] = trial
        self._status[trial_id] = TrialStatus.RUNNING
        return Suggestion(trial_id, self.space.decode(values))

    def report(self, trial_id: int, epoch: int, metrics: Metrics) -> Decision:
        trial = self._trials[trial_id]
        self._last[trial_id] = metrics
        if self.problem.multi_objective:
            return Decision.CONTINUE  # Optuna has no intermediate values for several objectives
        value = self.problem.value(metrics)
        if not math.isfinite(value):
            return Decision.STOP  # diverged: the backend calls fail()
        trial.report(value, epoch)
        if self._pruning and epoch < self.problem.max_epochs and trial.should_prune():
            self._set_constraints(trial, metrics)
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            self._status[trial_id] = TrialStatus.STOPPED
            return Decision.STOP
        return Decision.CONTINUE

    def complete(self, trial_id: int) -> None:
        trial, metrics = self._trials[trial_id], self._last[trial_id]
        self._set_constraints(trial, metrics)
        values = self.problem.values(metrics)
        self.study.tell(trial, list(values) if self.problem.multi_objective else values[0])
        self._status[trial_id] = TrialStatus.COMPLETED

    def fail(self, trial_id: int, reason: str = "") -> None:
        if self._status[trial_id] == TrialStatus.RUNNING:
            self.study.tell(self._trials[trial_id], state=optuna.trial.TrialState.FAIL)
        self._status[trial_id] = TrialStatus.FAILED

    def dropped_trials(self) -> list[int]:
        return []  # Optuna never pauses a trial

    def _set_constraints(self, trial: optuna.Trial, metrics: Metrics) -> None:
        values = _constraint_values(self.problem, metrics)
        for constraint, value in zip(self.problem.constraints, values, strict=True):
            trial.set_constraint(str(constraint), value)


def _suggest(trial: optuna.Trial, param) -> Any:
    if param.kind == FLOAT:
        return trial.suggest_float(param.name, param.low, param.high, log=param.log)
    if param.kind == INT:
        return trial.suggest_int(param.name, int(param.low), int(param.high), log=param.log)
    if param.kind == CATEGORICAL:
        return trial.suggest_categorical(param.name, param.choices)
    assert param.kind == ORDINAL
    return param.choices[trial.suggest_int(param.name, 0, len(param.choices) - 1)]


def _constraint_values(problem: Problem, metrics: Metrics) -> list[float]:
    """One value per constraint, <= 0 where it holds (Optuna's convention)."""
    values = []
    for constraint in problem.constraints:
        violation = constraint.violation(metrics)
        if not math.isfinite(violation):
            values.append(1e300)
        elif violation > 0:
            values.append(violation)
        else:
            value = float(metrics[constraint.metric])
            values.append(value - constraint.bound if constraint.sense == "<=" else
                          constraint.bound - value)
    return values


def _pruner(problem: Problem, name: str, pruner: str, min_resource: int, reduction_factor: int,
            bootstrap_count: int) -> optuna.pruners.BasePruner | None:
    if pruner not in PRUNERS:
        raise MethodError(f"method '{name}': pruner must be one of {', '.join(PRUNERS)} "
                          f"(got {pruner!r})")
    if pruner == "sh":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_resource, reduction_factor=reduction_factor,
            bootstrap_count=bootstrap_count,
        )  # fmt: skip
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=problem.max_epochs,
            reduction_factor=reduction_factor, bootstrap_count=bootstrap_count,
        )  # fmt: skip
    return None


def tpe(
    problem: Problem,
    seed: int,
    n_startup_trials: int = 10,
    n_ei_candidates: int = 24,
    multivariate: bool = False,
    group: bool = False,
    constant_liar: bool = True,
    pruner: str = "none",
    min_resource: int = 1,
    reduction_factor: int = 3,
    bootstrap_count: int = 0,
) -> OptunaMethod:
    """Optuna's TPE (settings: ``conf/method/optuna_tpe.yaml``)."""
    name = {"none": "optuna_tpe", "sh": "optuna_sh", "hyperband": "optuna_hyperband"}.get(
        pruner, "optuna_tpe"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=n_startup_trials, n_ei_candidates=n_ei_candidates,
            multivariate=multivariate, group=group, constant_liar=constant_liar,
        )  # fmt: skip
    return OptunaMethod(
        problem, sampler,
        _pruner(problem, name, pruner, min_resource, reduction_factor, bootstrap_count),
        name, multi_objective=True,
    )  # fmt: skip


tpe_sh = functools.partial(tpe, pruner="sh")
tpe_hyperband = functools.partial(tpe, pruner="hyperband")


def gp(
    problem: Problem,
    seed: int,
    n_startup_trials: int = 10,
    deterministic_objective: bool = False,
    pruner: str = "none",
    min_resource: int = 1,
    reduction_factor: int = 3,
    bootstrap_count: int = 0,
) -> OptunaMethod:
    """Optuna's GP sampler (settings: ``conf/method/optuna_gp.yaml``)."""
    try:
        import torch  # the GP sampler imports it lazily, mid-run
    except ImportError as err:
        raise MissingExtraError("optuna_gp", "optuna", f"torch ({err})") from err
    torch.set_num_threads(1)  # Optuna's advice for the GP sampler (OMP_NUM_THREADS=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=n_startup_trials,
            deterministic_objective=deterministic_objective, warn_independent_sampling=False,
        )  # fmt: skip
    return OptunaMethod(
        problem, sampler,
        _pruner(problem, "optuna_gp", pruner, min_resource, reduction_factor, bootstrap_count),
        "optuna_gp", multi_objective=True,
    )  # fmt: skip


def cmaes(
    problem: Problem,
    seed: int,
    n_startup_trials: int = 1,
    sigma0: float | None = None,
    restart_strategy: str | None = None,
    popsize: int | None = None,
    with_margin: bool = False,
    pruner: str = "none",
    min_resource: int = 1,
    reduction_factor: int = 3,
    bootstrap_count: int = 0,
) -> OptunaMethod:
    """Optuna's CMA-ES sampler (settings: ``conf/method/optuna_cmaes.yaml``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=n_startup_trials, sigma0=sigma0,
            restart_strategy=restart_strategy, popsize=popsize, with_margin=with_margin,
            warn_independent_sampling=False,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
        )  # fmt: skip
    return OptunaMethod(
        problem, sampler,
        _pruner(problem, "optuna_cmaes", pruner, min_resource, reduction_factor, bootstrap_count),
        "optuna_cmaes", multi_objective=False,
    )  # fmt: skip


def nsga2(
    problem: Problem,
    seed: int,
    population_size: int = 50,
    mutation_prob: float | None = None,
    crossover_prob: float = 0.9,
    swapping_prob: float = 0.5,
) -> OptunaMethod:
    """Optuna's NSGA-II (settings: ``conf/method/optuna_nsga2.yaml``)."""
    sampler = optuna.samplers.NSGAIISampler(
        seed=seed, population_size=population_size, mutation_prob=mutation_prob,
        crossover_prob=crossover_prob, swapping_prob=swapping_prob,
    )  # fmt: skip
    return OptunaMethod(problem, sampler, None, "optuna_nsga2", multi_objective=True)
