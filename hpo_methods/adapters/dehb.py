"""The ``dehb`` package (automl/DEHB) as a tunebench method, ``dehb_pkg``
(``pip install -e ".[dehb]"``).

Awad, Mallik, Hutter: "DEHB: Evolutionary Hyperband for Scalable, Robust and Efficient
Hyperparameter Optimization", IJCAI 2021. The package's own ``ask``/``tell`` drives the run
(:class:`~hpo_methods.adapters.common.AskTellMethod`); compare with our ``dehb``
(:mod:`hpo_methods.schedulers.dehb`), which follows the same paper.

*Fidelities are epochs.* ``min_fidelity`` = ``grace_period``, ``max_fidelity`` = the benchmark's
maximum epochs; the package spaces its fidelities as ``max * eta^-k`` (2.22, 6.67, 20 at R=20,
eta=3), rounded here to the nearest epoch (2, 7, 20). A job trains its trial to that many epochs
and tells the package the value of that epoch as ``fitness`` and the seconds trained as
``cost``.

*Pause/resume.* In the first Hyperband iteration the package promotes the best configurations of
a lower fidelity *as they are* (the same vector); afterwards every job is a new DE mutant. So a
trial that reaches its fidelity pauses while promotions by identity are still possible (the
package's bracket counter is below its number of brackets), and the package's job for the same
configuration at a higher fidelity resumes it; once the first iteration is over every paused
trial is dropped and trials stop at their fidelity. (The package itself would retrain a promoted
configuration from scratch; pausing makes the cost model that of our ``dehb``.)

*Space.* The package encodes every hyperparameter as one coordinate in [0, 1], decoded by
ConfigSpace type: a categorical or ordinal by equal-width bins, an integer by rounding (the
package's rule, which gives the two end values half the width of the others).

*Determinism.* The package's random generator and the configuration space are seeded with the
run's seed; a rerun is byte-identical. Its loguru log file and state files are not written
(``save_freq="end"`` and no log sink; ``run()`` is never called), and a single-worker instance
is built (no Dask client): the harness's workers run the jobs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import dehb as dehb_package
from loguru import logger

from hpo_methods.adapters.common import AskTellMethod, Job, SpaceMap
from hpo_methods.adapters.configspace import configspace, decode
from hpo_methods.problem import Problem
from hpo_methods.registry import MethodError

logger.disable("dehb")  # the package logs every ask and tell through loguru


class _QuietDEHB(dehb_package.DEHB):
    """The package's optimiser without its log file (a loguru sink per instance, never
    removed, each with a writer thread)."""

    def _setup_logger(self, kwargs: dict[str, Any]) -> None:
        self.output_path = Path(kwargs["output_path"])
        self.logger = logger
        self.log_filename = None


class DEHBMethod(AskTellMethod):
    """The ``dehb`` package behind the method protocol (module docstring)."""

    def __init__(self, problem: Problem, seed: int, settings: dict[str, Any]) -> None:
        if problem.multi_objective:
            raise MethodError("method 'dehb_pkg' optimises one objective")
        super().__init__(problem, "dehb_pkg")
        self.space = SpaceMap(problem.space)
        folder = Path(tempfile.mkdtemp(prefix="tunebench-dehb-"))
        try:
            self.dehb = _QuietDEHB(
                cs=configspace(self.space, seed), min_fidelity=settings.pop("grace_period"),
                max_fidelity=problem.max_epochs, seed=seed, n_workers=1, output_path=folder,
                save_freq="end", **settings,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _promotions_open(self) -> bool:
        return self.dehb.iteration_counter < self.dehb.max_SH_iter

    def _ask(self) -> Job:
        job = self.dehb.ask()
        return Job(decode(self.space, job["config"]), self.epochs_for(job["fidelity"]), job)

    def _tell(self, job: Job, value: float, cost: float) -> None:
        self.dehb.tell(job.token, {"fitness": float(value), "cost": float(cost)})

    def _tell_failure(self, job: Job) -> None:
        self.dehb.tell(job.token, {"fitness": float("inf"), "cost": 0.0})

    def _may_continue(self, job: Job) -> bool:
        return self._promotions_open()

    def _abandoned(self, paused: dict[int, Job]) -> list[int]:
        return [] if self._promotions_open() else sorted(paused)


def dehb(
    problem: Problem,
    seed: int,
    grace_period: int = 1,
    eta: int = 3,
    mutation_factor: float = 0.5,
    crossover_prob: float = 0.5,
    strategy: str = "rand1_bin",
    boundary_fix_type: str = "random",
) -> DEHBMethod:
    """The dehb package's DEHB (settings: ``conf/method/dehb_pkg.yaml``)."""
    if not (isinstance(grace_period, int) and 1 <= grace_period < problem.max_epochs):
        raise MethodError(
            f"method 'dehb_pkg': grace_period must be an integer in 1..{problem.max_epochs - 1} "
            f"(got {grace_period!r})"
        )
    return DEHBMethod(problem, seed, {
        "grace_period": grace_period, "eta": eta, "mutation_factor": mutation_factor,
        "crossover_prob": crossover_prob, "strategy": strategy,
        "boundary_fix_type": boundary_fix_type,
    })  # fmt: skip
