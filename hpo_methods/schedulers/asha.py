"""Asynchronous successive halving (ASHA).

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar: "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020.

Rung levels are the shared geometry's (:func:`~hpo_methods.schedulers.geometry.rung_levels`:
``round(grace_period * eta**k)`` epochs below ``max_epochs``, then ``max_epochs``); with
``skip_rungs = j`` the scheduler uses only the levels from the j-th on (asynchronous Hyperband's
bracket s is ASHA with ``skip_rungs = s_max - s``, as Syne Tune's rung systems do). Two variants:

- ``stopping``: a trial reaching a rung records its value there and continues only if the value is
  no worse than the ``1/eta`` quantile (linear interpolation) of all values recorded at that rung so
  far, its own included; otherwise it stops. The first trial at a rung always continues.
- ``promotion``: a trial pauses at every rung. When a worker asks for work, the rungs are scanned
  from the highest down; a rung with at least two recorded values promotes its best paused trial
  not yet promoted (ties: the earlier arrival) if that trial's value is no worse than the ``1/eta``
  quantile (linear interpolation) of all values recorded there, promoted ones included (it resumes
  from its checkpoint up to the next rung); otherwise a new trial starts at the bottom rung.

Both variants follow Syne Tune's rung systems (``StoppingRungSystem``, ``PromotionRungSystem``), so
the two variants share one rule; ``tests/test_parity.py`` replays a hand-computed Syne Tune trace.
Deviations: Syne Tune's quantile at rung j is ``r_j / r_{j+1}``, the same 1/eta except at the last
step of an R that is not a power of eta (9/20 instead of 1/3 at R = 20). The paper's Algorithm 2
promotes among the top ``floor(n_k / eta)`` of a rung's ``n_k`` trials, where the quantile rule
allows ``floor((n_k - 1) / eta) + 1`` (n_k >= 2, no ties): with eta = 3, one promotion at 2
recorded trials instead of none, two at 4 instead of one.
"""

from __future__ import annotations

import bisect
import math
from enum import StrEnum

from hpo_methods.protocol import Decision, Scheduler, TrialStatus
from hpo_methods.schedulers.geometry import rung_levels


class AshaVariant(StrEnum):
    STOPPING = "stopping"
    PROMOTION = "promotion"


def linear_quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of ascending ``ordered`` values, linear interpolation (numpy's default).

    Hyndman and Fan's definition 7: position ``h = (n - 1) q``, value
    ``x[floor(h)] + (h - floor(h)) (x[floor(h) + 1] - x[floor(h)])``. An exact position returns
    its value, so +inf values (failed trials) never turn the result into NaN.
    """
    if not ordered:
        raise ValueError("quantile of no values")
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    gamma = h - lo
    if gamma == 0.0:
        return ordered[lo]
    return ordered[lo] + gamma * (ordered[lo + 1] - ordered[lo])


class ASHAScheduler(Scheduler):
    """Asynchronous successive halving, stopping or promotion variant (see the module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        variant: str = "stopping",
        skip_rungs: int = 0,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.eta = float(reduction_factor)
        if variant not in tuple(AshaVariant):
            raise ValueError(f"variant must be one of {', '.join(AshaVariant)} (got {variant!r})")
        self.variant = AshaVariant(variant)
        levels = rung_levels(grace_period, self.eta, max_epochs)
        if not 0 <= skip_rungs < len(levels):
            raise ValueError(
                f"skip_rungs must be between 0 and {len(levels) - 1} (got {skip_rungs})"
            )
        self.rungs = levels[skip_rungs:]
        # rung epoch -> {trial_id: value recorded there}, in order of arrival
        self.recorded: dict[int, dict[int, float]] = {r: {} for r in self.rungs[:-1]}
        self.promoted: dict[int, set[int]] = {r: set() for r in self.rungs[:-1]}
        self.ordered: dict[int, list[float]] = {r: [] for r in self.rungs[:-1]}  # sorted values
        self.paused: set[int] = set()

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        if epoch not in self.recorded:
            return Decision.CONTINUE
        rung = self.recorded[epoch]
        again = trial_id in rung
        rung[trial_id] = value
        if self.variant is AshaVariant.STOPPING:
            if again:
                self.ordered[epoch] = sorted(rung.values())
            else:
                bisect.insort(self.ordered[epoch], value)
            cutoff = linear_quantile(self.ordered[epoch], 1.0 / self.eta)
            return Decision.CONTINUE if value <= cutoff else Decision.STOP
        self.paused.add(trial_id)
        return Decision.PAUSE

    def trial_to_resume(self) -> int | None:
        if self.variant is AshaVariant.STOPPING:
            return None
        for level in reversed(self.rungs[:-1]):
            trial_id = self._promotable(level)
            if trial_id is not None:
                self.promoted[level].add(trial_id)
                self.paused.discard(trial_id)
                return trial_id
        return None

    def _promotable(self, level: int) -> int | None:
        rung = self.recorded[level]
        if len(rung) < 2:
            return None
        ranked = sorted(rung, key=rung.__getitem__)  # stable: ties by arrival order
        cutoff = linear_quantile([rung[t] for t in ranked], 1.0 / self.eta)
        for trial_id in ranked:
            if trial_id in self.paused and trial_id not in self.promoted[level]:
                return trial_id if rung[trial_id] <= cutoff else None
        return None

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        self.paused.discard(trial_id)
