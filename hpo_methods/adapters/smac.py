"""SMAC3's facades as tunebench methods (``pip install -e ".[smac]"``).

Lindauer, Eggensperger, Feurer, Biedenkapp, Deng, Benjamins, Ruhkopf, Sass, Hutter: "SMAC3: A
Versatile Bayesian Optimization Package for Hyperparameter Optimization", JMLR 23(54), 2022.
Driven through ``ask``/``tell`` (:class:`~hpo_methods.adapters.common.AskTellMethod`):

- ``smac_hpo``: :class:`smac.HyperparameterOptimizationFacade` (a random forest, log EI, local +
  random search, a Sobol initial design of ``min(10 x hyperparameters, 25% of n_trials)``
  configurations, the default configuration first). Every trial trains to the maximum epochs.
- ``smac_hyperband``: :class:`smac.HyperbandFacade`: random configurations under SMAC's
  Hyperband intensifier.
- ``smac_mf``: :class:`smac.MultiFidelityFacade`: the random forest of ``smac_hpo`` proposing
  the configurations of SMAC's Hyperband (SMAC's BOHB-like method).

*Budgets are epochs.* The scenario's budgets run from ``min_budget`` (``grace_period``) to the
benchmark's maximum epochs; SMAC's Hyperband asks for ``max_budget * eta^-k`` (2.22, 6.67, 20 at
R=20, eta=3), rounded here to the nearest epoch (2, 7, 20), within 1..max. A job (config,
budget) trains its trial to that many epochs, and the value of that epoch is told.

*Pause/resume, not restart* (``resume: true``, default). SMAC's own target functions train a
promoted configuration again from scratch at the higher budget; the harness can checkpoint, so
here a trial that reached its budget pauses while SMAC may still promote its configuration (it
is in SMAC's Hyperband tracker, ``intensifier.get_state()``), and SMAC's job for the same
configuration at the next budget resumes it: the promoted trial pays only the extra epochs, as
in our ``hyperband``, and the comparison is of the algorithms, not of restart costs. A paused
trial whose configuration left the tracker (not promoted) is dropped. ``resume: false`` stops
every trial at its budget and trains promotions from scratch (SMAC's own cost model).

*Finite spaces.* SMAC never proposes a configuration it has evaluated: on a table's recorded
configurations (one categorical, :mod:`hpo_methods.adapters.common`) its configuration selector
gives up after ``retries`` (16) draws that are all known, raising
``ConfigurationSpaceExhaustedException``, which also ends its Hyperband (a pending promotion
included). From then on the method has nothing to suggest, its paused trials are dropped, and
the run ends once the running trials finish ("ended by method"), typically after 80-95% of the
recorded configurations.

Needs SMAC >= 2.4.1, whose random forest is scikit-learn's (2.3 and earlier need ``pyrfr``, a
swig-built extension; SMAC 2.4 keeps it only for its ``old`` facades).

The run's seed is the scenario's seed and the configuration space's; SMAC's output folder is a
temporary one removed at once (nothing is written beside the results) and its logging is left
alone. A rerun with the same seed is byte-identical. The problem must have one objective.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from smac import HyperbandFacade, HyperparameterOptimizationFacade, MultiFidelityFacade, Scenario
from smac.main.exceptions import ConfigurationSpaceExhaustedException
from smac.runhistory.dataclasses import TrialValue
from smac.runhistory.enumerations import StatusType

from hpo_methods.adapters.common import AskTellMethod, Job, SpaceMap, plain
from hpo_methods.adapters.configspace import configspace, decode
from hpo_methods.problem import Problem
from hpo_methods.registry import MethodError

logging.getLogger("smac").setLevel(logging.WARNING)  # SMAC logs every incumbent change at INFO


class SMACMethod(AskTellMethod):
    """A SMAC3 facade behind the method protocol (module docstring)."""

    def __init__(
        self,
        problem: Problem,
        seed: int,
        name: str,
        facade: type,
        multi_fidelity: bool,
        resume: bool,
        scenario_args: dict[str, Any],
        intensifier_args: dict[str, Any],
        design_args: dict[str, Any],
        selector_args: dict[str, Any] | None = None,
    ) -> None:
        if problem.multi_objective:
            raise MethodError(f"method '{name}' optimises one objective")  # build() says more
        super().__init__(problem, name)
        self.space = SpaceMap(problem.space)
        self.multi_fidelity = multi_fidelity
        self.resume = resume
        cs = configspace(self.space, seed)
        folder = Path(tempfile.mkdtemp(prefix="tunebench-smac-"))
        try:
            budgets = (
                {"min_budget": scenario_args.pop("min_budget"), "max_budget": problem.max_epochs}
                if multi_fidelity else {}
            )  # fmt: skip
            scenario = Scenario(
                cs, name="tunebench", output_directory=folder, seed=seed, **budgets,
                **scenario_args,
            )  # fmt: skip
            self.smac = facade(
                scenario, _budgeted_target if multi_fidelity else _target,
                intensifier=facade.get_intensifier(scenario, **intensifier_args),
                initial_design=facade.get_initial_design(scenario, **design_args),
                config_selector=facade.get_config_selector(scenario, **(selector_args or {})),
                logging_level=False, overwrite=True,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _ask(self) -> Job | None:
        try:
            info = self.smac.ask()
        except (ConfigurationSpaceExhaustedException, StopIteration):
            return None  # SMAC never proposes a configuration twice (module docstring)
        epochs = self.epochs_for(info.budget) if self.multi_fidelity else self.problem.max_epochs
        return Job(decode(self.space, info.config), epochs, info)

    def _tell(self, job: Job, value: float, cost: float) -> None:
        self.smac.tell(job.token, TrialValue(cost=value, time=cost), save=False)

    def _tell_failure(self, job: Job) -> None:
        self.smac.tell(
            job.token, TrialValue(cost=math.inf, status=StatusType.CRASHED), save=False
        )

    def _may_continue(self, job: Job) -> bool:
        return self.resume and self.multi_fidelity

    def _abandoned(self, paused: dict[int, Job]) -> list[int]:
        tracked = {
            self.problem.space.key(self.space.decode({k: plain(v) for k, v in config.items()}))
            for pairs in self.smac.intensifier.get_state()["tracker"].values()
            for _, configs in pairs
            for config in configs
        }
        return [tid for tid, job in paused.items()
                if self.problem.space.key(job.config) not in tracked]


def _target(config: Any, seed: int = 0) -> float:
    """Never called: the harness evaluates every job (SMAC requires a target function)."""
    raise RuntimeError("tunebench drives SMAC through ask/tell")


def _budgeted_target(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    """Never called (as :func:`_target`, with SMAC's budget argument)."""
    raise RuntimeError("tunebench drives SMAC through ask/tell")


def _check(name: str, eta: int, grace_period: int, problem: Problem) -> None:
    if not (isinstance(eta, int) and eta >= 2):
        raise MethodError(f"method '{name}': eta must be an integer >= 2 (got {eta!r})")
    if not (isinstance(grace_period, int) and 1 <= grace_period < problem.max_epochs):
        raise MethodError(
            f"method '{name}': grace_period must be an integer in 1..{problem.max_epochs - 1} "
            f"(got {grace_period!r})"
        )


def hpo(
    problem: Problem,
    seed: int,
    n_trials: int = 100,
    n_initial: int | None = None,
    deterministic: bool = True,
    retrain_after: int = 8,
) -> SMACMethod:
    """SMAC3's HPO facade, full fidelity (settings: ``conf/method/smac_hpo.yaml``)."""
    return SMACMethod(
        problem, seed, "smac_hpo", HyperparameterOptimizationFacade, False, False,
        {"n_trials": n_trials, "deterministic": deterministic},
        {"max_config_calls": 1 if deterministic else 3}, {"n_configs": n_initial},
        {"retrain_after": retrain_after},
    )  # fmt: skip


def hyperband(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    eta: int = 3,
    resume: bool = True,
) -> SMACMethod:
    """SMAC3's Hyperband facade (settings: ``conf/method/smac_hyperband.yaml``)."""
    _check("smac_hyperband", eta, grace_period, problem)
    return SMACMethod(
        problem, seed, "smac_hyperband", HyperbandFacade, True, resume,
        {"min_budget": grace_period, "deterministic": True}, {"eta": eta}, {},
    )  # fmt: skip


def multi_fidelity(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    eta: int = 3,
    resume: bool = True,
    n_trials: int = 100,
    n_initial: int | None = None,
) -> SMACMethod:
    """SMAC3's multi-fidelity facade (settings: ``conf/method/smac_mf.yaml``)."""
    _check("smac_mf", eta, grace_period, problem)
    return SMACMethod(
        problem, seed, "smac_mf", MultiFidelityFacade, True, resume,
        {"min_budget": grace_period, "deterministic": True, "n_trials": n_trials},
        {"eta": eta}, {"n_configs": n_initial},
    )  # fmt: skip

