"""Asynchronous Hyperband: ASHA brackets sampled per trial.

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar: "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020 (asynchronous Hyperband loops ASHA over brackets);
the per-trial bracket sampling follows Syne Tune's ``HyperbandScheduler`` with ``brackets > 1``.

The brackets are the shared geometry's
(:func:`~hpo_methods.schedulers.geometry.hyperband_brackets`): with rung levels
``r_0 < ... < r_{s_max} = R`` there are ``s_max + 1`` brackets, one per level, R included
(Syne Tune: ``len(rung_levels) + 1`` brackets, its rung levels excluding R):

- Each new trial draws its bracket s from ``{s_max, ..., s_max - brackets + 1}`` (all
  ``s_max + 1`` brackets by default) with probability exactly ``p_s = n_s / sum_t n_t`` over the
  brackets in use, where ``n_s = ceil((s_max + 1) / (s + 1) * eta^s)`` is the integer number of
  trials bracket s starts in synchronous Hyperband. For R = 81, r_min = 1, eta = 3:
  n = 81, 34, 15, 8, 5, so p = 81/143, 34/143, 15/143, 8/143, 5/143 for s = 4, 3, 2, 1, 0; for the
  default benchmark's R = 20 (levels 1, 3, 9, 20): n = 27, 12, 6, 4, p = 27/49, 12/49, 6/49, 4/49.
  Draws use the scheduler's own random stream (:func:`~hpo_methods.protocol.random_stream`).
  Syne Tune weighs bracket s by ``(s_max + 1) / ((s + 1) r_{s_max - s})``, i.e. ``R / r`` in
  place of ``eta^s``: the same for R = r_min eta^k, and 0.536, 0.238, 0.119, 0.107 at R = 20.
- Bracket s is an independent ASHA (stopping variant, :mod:`hpo_methods.schedulers.asha`) on the
  levels from ``r_{s_max - s}`` up (``skip_rungs = s_max - s``), holding only its own trials'
  values. Bracket s_max is plain ASHA; bracket 0 has no rung below R, so its trials always train
  to R without stopping (the full-training bracket of Hyperband).
"""

from __future__ import annotations

import numpy as np

from hpo_methods.protocol import Decision, Scheduler, TrialStatus
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.schedulers.geometry import hyperband_brackets


def bracket_probabilities(
    max_epochs: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int | None = None,
) -> dict[int, float]:
    """``{s: p_s}`` for the brackets in use, most aggressive (s = s_max) first."""
    table = hyperband_brackets(max_epochs, grace_period, reduction_factor)
    if brackets is not None:
        if not 1 <= brackets <= len(table):
            raise ValueError(
                f"brackets must be between 1 and {len(table)} for max_epochs={max_epochs}, "
                f"grace_period={grace_period}, reduction_factor={reduction_factor} "
                f"(got {brackets})"
            )
        table = table[:brackets]
    total = sum(b.n for b in table)
    return {b.s: b.n / total for b in table}


class AsyncHyperbandScheduler(Scheduler):
    """Asynchronous Hyperband (see the module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int | None = None,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.probabilities = bracket_probabilities(
            max_epochs, grace_period, reduction_factor, brackets
        )
        self._s = np.array(list(self.probabilities), dtype=int)
        self._p = np.array(list(self.probabilities.values()))
        s_max = len(hyperband_brackets(max_epochs, grace_period, reduction_factor)) - 1
        eta = float(reduction_factor)
        self.asha: dict[int, ASHAScheduler] = {
            s: ASHAScheduler(max_epochs, seed, grace_period, eta, "stopping", s_max - s)
            for s in self.probabilities
        }
        self.bracket_of: dict[int, int] = {}

    def sample_bracket(self) -> int:
        """Draw a bracket index s with the probabilities of the module docstring."""
        return int(self._s[self.rng.choice(len(self._s), p=self._p)])

    def on_trial_start(self, trial_id: int) -> None:
        s = self.sample_bracket()
        self.bracket_of[trial_id] = s
        self.asha[s].on_trial_start(trial_id)

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        return self.asha[self.bracket_of[trial_id]].on_report(trial_id, epoch, value)

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        self.asha[self.bracket_of[trial_id]].on_end(trial_id, status)
