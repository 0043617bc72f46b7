"""The median stopping rule.

Golovin, Solnik, Moitra, Kochanski, Karro, Sculley: "Google Vizier: A Service for Black-Box
Optimization", KDD 2017, section 3.2.2.

The rule (values are minimised): when trial t reports epoch e, let ``best_t(e)`` be the lowest
value t reported at epochs 1..e, and for every *other* trial u in the comparison set that has
reported epoch e, let ``avg_u(e)`` be the mean of u's values at epochs 1..e (its running average
up to e). Trial t stops at epoch e if and only if

- ``e >= grace_period``, and
- at least ``min_samples`` other trials are in the comparison set at e, and
- ``best_t(e) > median{avg_u(e)}`` (strictly worse than the median; ``numpy.median``, so the
  mean of the two middle values for an even count).

The comparison set is every other trial that has reported epoch e, whatever it did afterwards
(running, stopped or completed), as Syne Tune and Ray Tune do; with ``completed_only=True`` it is
only the trials that have completed ``max_epochs`` epochs, as the paper states the rule ("all
completed trials"). A trial at ``max_epochs`` is never stopped (it completes anyway).
"""

from __future__ import annotations

import bisect
import math

from hpo_methods.protocol import Decision, Scheduler, TrialStatus


def sorted_median(ordered: list[float]) -> float:
    """The median of ascending values, as ``numpy.median``: the mean of the two middle ones for
    an even count."""
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2


class MedianStoppingScheduler(Scheduler):
    """The median stopping rule (see the module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        min_samples: int = 3,
        completed_only: bool = False,
    ) -> None:
        super().__init__(max_epochs, seed)
        if not 1 <= grace_period <= max_epochs:
            raise ValueError(
                f"grace_period must be between 1 and max_epochs={max_epochs} (got {grace_period})"
            )
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1 (got {min_samples})")
        self.grace_period = int(grace_period)
        self.min_samples = int(min_samples)
        self.completed_only = bool(completed_only)
        self._sum: dict[int, float] = {}
        self._best: dict[int, float] = {}
        self._epochs: dict[int, int] = {}
        # epoch -> {trial: running average of its values at epochs 1..epoch}
        self.running_average: dict[int, dict[int, float]] = {}
        self._sorted_averages: dict[int, list[float]] = {}  # the same values, ascending
        self.completed: set[int] = set()

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        last = self._epochs.get(trial_id, 0)
        if epoch != last + 1:
            raise RuntimeError(f"trial {trial_id} reported epoch {epoch} after epoch {last}")
        self._epochs[trial_id] = epoch
        total = self._sum.get(trial_id, 0.0) + value
        self._sum[trial_id] = total
        best = min(self._best.get(trial_id, math.inf), value)
        self._best[trial_id] = best
        averages = self.running_average.setdefault(epoch, {})
        ordered = self._sorted_averages.setdefault(epoch, [])
        others = ordered  # every other trial's average at this epoch (each reports it once)
        if self.completed_only:
            others = sorted(avg for other, avg in averages.items() if other in self.completed)
        averages[trial_id] = total / epoch
        decision = Decision.CONTINUE
        if self.grace_period <= epoch < self.max_epochs and len(others) >= self.min_samples:
            decision = Decision.STOP if best > sorted_median(others) else Decision.CONTINUE
        bisect.insort(ordered, total / epoch)
        return decision

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        if status == TrialStatus.COMPLETED:
            self.completed.add(trial_id)
