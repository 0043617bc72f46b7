"""The objective interface shared by real, surrogate and tabular objectives.

An objective trains one trial epoch by epoch. Each epoch returns its metrics (the objective's
``metric`` among them, minimised) and the seconds it took. The backend owns the clock: it adds
the epoch times up (simulated backend) or measures them (local backend).

Where the objective knows it, an epoch also carries the *noise-free* value of every metric
(``EpochResult.true_metrics``): what the configuration reaches at that epoch on average over
training seeds. The surrogate knows it (its mean curve), a table estimates it (the mean over the
seeds it recorded of that configuration), real training does not (None: results hold NaN).
Methods never see it; results record it as ``true_<metric>`` so analysis can score the
configuration a method would return by its true quality rather than by its luckiest report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo_methods.problem import COST_METRIC, Constraint, Goal, Problem, ProblemError
from hpo_methods.space import Config, SearchSpace


@dataclass(frozen=True)
class EpochResult:
    """One epoch of one trial: its metrics and how long it took (training plus validation).

    ``true_metrics``: the noise-free values of the metrics at this epoch where the objective
    knows them (see the module docstring), else None.
    """

    metrics: dict[str, float]
    epoch_time: float
    true_metrics: dict[str, float] | None = None


class TrialRun(ABC):
    """One trial in progress. ``next_epoch`` trains epoch ``epochs_done + 1``.

    After ``pause()`` the trial holds no expensive resources; the next ``next_epoch()`` continues
    the same learning curve (from a checkpoint where training is real).
    """

    epochs_done: int = 0

    @abstractmethod
    def next_epoch(self) -> EpochResult:
        """Train and evaluate one more epoch."""

    def pause(self) -> None:  # noqa: B027 - optional hook
        """Release resources; training continues on the next ``next_epoch``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """The trial is over; release everything."""


class Objective(ABC):
    """A tuning problem: a search space, a maximum number of epochs, and trials to run."""

    name: str
    space: SearchSpace
    max_epochs: int
    metric: str = "val_error"
    metric_names: tuple[str, ...] = ("val_error",)

    @abstractmethod
    def start_trial(self, trial_id: int, config: Config, seed: int) -> TrialRun:
        """Begin a trial of ``config``; ``seed`` fixes its randomness."""

    def resume_trial(self, trial_id: int, config: Config, seed: int, epochs_done: int) -> TrialRun:
        """Continue a paused trial in another process (the local backend's workers).

        The default replays: it starts the trial again and skips ``epochs_done`` epochs, which is
        exact and cheap for objectives whose curves are a function of (config, seed). Objectives
        that really train override it to load the checkpoint that ``TrialRun.pause`` wrote.
        """
        run = self.start_trial(trial_id, config, seed)
        for _ in range(epochs_done):
            run.next_epoch()
        return run

    def for_run(self, run_id: str) -> Objective:
        """This objective with whatever paused trials save (checkpoints) kept apart under
        ``run_id`` (unique per run), so that concurrent runs never share it. Objectives that
        save nothing return themselves."""
        return self

    def discard_paused(self, trial_id: int) -> None:  # noqa: B027 - optional hook
        """Delete what paused trial ``trial_id`` saved: it will not resume."""

    def discard_run(self) -> None:  # noqa: B027 - optional hook
        """Delete everything the trials of this run (see :meth:`for_run`) saved."""

    def best_known_value(self) -> float | None:
        """The best value of ``metric`` known for this problem (for normalised regret)."""
        return None

    def worst_known_value(self) -> float | None:
        """A fixed worst reference of ``metric`` (normalised regret is 1 there)."""
        return None

    def metric_range(self, metric: str) -> tuple[float, float] | None:
        """The smallest and largest value ``metric`` (``epoch_time`` included) takes on this
        benchmark, fixed by the benchmark (a table's recorded range; a surrogate never predicts
        outside it); ``None`` where unknown (real training). Constraint bounds are checked
        against it, and multi-objective analysis normalises objectives by it."""
        return None

    def metric_ranges(self) -> dict[str, list[float]]:
        """:meth:`metric_range` of every metric that has one (what run.json records)."""
        ranges = {}
        for name in (*self.metric_names, COST_METRIC):
            found = self.metric_range(name)
            if found is not None:
                ranges[name] = [float(found[0]), float(found[1])]
        return ranges

    def describe(self) -> dict:
        """What results files record about this objective."""
        return {"name": self.name, "max_epochs": self.max_epochs, "metric": self.metric}

    def problem(
        self,
        objectives: Iterable[str | Mapping[str, Any]] | None = None,
        constraints: Iterable[str | Mapping[str, Any]] = (),
    ) -> Problem:
        """The problem methods solve on this objective: by default, minimise ``metric``.

        ``objectives`` are metric names (minimised) or ``{metric, mode}``; ``constraints`` are
        ``"metric<=bound"`` strings or ``{metric, bound, sense}``. Names must be metrics of this
        objective (``metric_names`` or ``epoch_time``), and a constraint's bound must lie strictly
        inside the metric's range on this benchmark (:meth:`metric_range`, where known): outside
        it every configuration would be feasible, or none.
        """
        goals = tuple(
            Goal(g) if isinstance(g, str) else Goal(str(g["metric"]), str(g.get("mode", "min")))
            for g in (objectives if objectives is not None else [self.metric])
        )
        problem = Problem(
            space=self.space,
            max_epochs=self.max_epochs,
            objectives=goals,
            constraints=tuple(Constraint.parse(c) for c in constraints),
            metrics=(*self.metric_names, COST_METRIC),
        )
        for constraint in problem.constraints:
            found = self.metric_range(constraint.metric)
            if found is not None and not found[0] < constraint.bound < found[1]:
                low, high = found
                none_or_all = (constraint.bound <= low) == (constraint.sense == "<=")
                raise ProblemError(
                    f"constraint {constraint}: the bound is outside the range of "
                    f"{constraint.metric} on benchmark '{self.name}' ([{low:.6g}, {high:.6g}]), "
                    f"so {'no' if none_or_all else 'every'} configuration would be feasible"
                )
        return problem


class CurveRun(TrialRun):
    """A trial whose whole curve is known up front (tabular replay, surrogate prediction):
    epoch ``e`` returns ``metrics[e - 1]`` (one value per name) and ``epoch_times[e - 1]``,
    and ``true_metrics[e - 1]`` as its noise-free values when given."""

    def __init__(
        self,
        names: tuple[str, ...],
        metrics: np.ndarray,
        epoch_times: np.ndarray,
        true_metrics: np.ndarray | None = None,
    ):
        self._names = names
        self._metrics = np.asarray(metrics, dtype=float).tolist()
        self._times = np.asarray(epoch_times, dtype=float).tolist()
        self._true = (
            np.asarray(true_metrics, dtype=float).tolist() if true_metrics is not None else None
        )
        self.epochs_done = 0

    def next_epoch(self) -> EpochResult:
        i = self.epochs_done
        if i >= len(self._times):
            raise RuntimeError(f"the curve has only {len(self._times)} epochs")
        self.epochs_done += 1
        true = dict(zip(self._names, self._true[i], strict=True)) if self._true else None
        return EpochResult(
            dict(zip(self._names, self._metrics[i], strict=True)), self._times[i], true
        )


PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def resolve_path(path: str | Path) -> Path:
    """``path`` as given if it exists (or is absolute), else relative to the installed package
    root if it exists there (so shipped data such as ``surrogates/data/...`` is found from any
    working directory)."""
    path = Path(path).expanduser()
    if path.exists() or path.is_absolute():
        return path
    alternative = PACKAGE_ROOT / path
    return alternative if alternative.exists() else path


def trial_seed(run_seed: int, trial_id: int) -> int:
    """A seed for one trial, derived from the run's seed and the trial id only."""
    return int(np.random.SeedSequence([int(run_seed), int(trial_id)]).generate_state(1)[0])
