"""MO-ASHA: asynchronous successive halving that ranks each rung by Pareto dominance.

Schmucker, Donini, Zafar, Rodriguez, Archambeau: "Multi-objective Asynchronous Successive
Halving", arXiv:2106.12639, 2021 (and Salinas, Perrone, Archambeau, Cruchant: "A multi-objective
perspective on jointly tuning hardware and hyperparameters", NAS workshop at ICLR 2021).

The rungs are ASHA's (:mod:`hpo_methods.schedulers.asha`); what changes is the order of the
values recorded at a rung, which are now tuples of objectives to minimise. A rung is ordered by
:func:`hpo_methods.pareto.pareto_order`: by non-dominated front first, then within a front by

- ``epsnet`` (default, the paper's and Syne Tune's choice): the greedy epsilon-net order, which
  starts from the point best in the first objective and then always takes the point farthest
  from those already taken, so the top of the ranking covers the whole front. Deviation: the
  distances are computed on objectives scaled to [0, 1] over the front (Syne Tune uses raw
  values, where an objective in seconds would swamp one in error rates);
- ``nsga2``: NSGA-II's crowding distance (Deb et al. 2002), most isolated first.

Points still tied keep their order of arrival. A trial with a non-finite objective ranks last.

- ``stopping`` (the paper's variant): a trial reaching a rung with ``n`` recorded values (its own
  included) continues if its position ``p`` (0-based) in that order satisfies
  ``p <= (n - 1) / eta``. With one objective this is exactly ASHA's rule (a value no worse than
  the linearly interpolated ``1/eta`` quantile), up to ties. The first trial at a rung continues.
- ``promotion``: trials pause at each rung, and the first ``floor(n / eta)`` of the rung's order
  that are paused and not yet promoted may resume, highest rung first (ASHA's Algorithm 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hpo_methods.pareto import TIE_BREAKS, pareto_order, pareto_position
from hpo_methods.protocol import Decision
from hpo_methods.schedulers.asha import ASHAScheduler, AshaVariant


class MOASHAScheduler(ASHAScheduler):
    """ASHA whose rungs are ordered by Pareto dominance (see the module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        variant: str = "stopping",
        tie_break: str = "epsnet",
    ) -> None:
        super().__init__(max_epochs, seed, grace_period, reduction_factor, variant)
        if tie_break not in TIE_BREAKS:
            raise ValueError(
                f"tie_break must be one of {', '.join(TIE_BREAKS)} (got {tie_break!r})"
            )
        self.tie_break = tie_break

    def _rung_points(self, level: int) -> tuple[list[int], np.ndarray]:
        rung = self.recorded[level]
        ids = list(rung)
        return ids, np.array([_as_tuple(rung[t]) for t in ids], dtype=float).reshape(len(ids), -1)

    def rung_order(self, level: int, limit: int | None = None) -> list[int]:
        """The trial ids recorded at rung ``level``, best first (the first ``limit`` of them)."""
        ids, points = self._rung_points(level)
        if not ids:
            return []
        return [ids[i] for i in pareto_order(points, self.tie_break, limit)]

    def on_report(self, trial_id: int, epoch: int, value: Sequence[float] | float) -> Decision:
        if epoch not in self.recorded:
            return Decision.CONTINUE
        if self.variant is AshaVariant.PROMOTION:
            return super().on_report(trial_id, epoch, value)
        self.recorded[epoch][trial_id] = value
        ids, points = self._rung_points(epoch)
        position = pareto_position(points, ids.index(trial_id), self.tie_break)
        return Decision.CONTINUE if position <= (len(ids) - 1) / self.eta else Decision.STOP

    def _promotable(self, level: int) -> int | None:
        n_top = int(len(self.recorded[level]) // self.eta)
        if n_top == 0:
            return None
        for trial_id in self.rung_order(level, n_top):
            if trial_id in self.paused and trial_id not in self.promoted[level]:
                return trial_id
        return None


def _as_tuple(value: Sequence[float] | float) -> tuple[float, ...]:
    return tuple(value) if isinstance(value, Sequence | np.ndarray) else (float(value),)
