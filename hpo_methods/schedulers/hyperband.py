"""Synchronous Hyperband.

Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar: "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization", JMLR 18(185), 2018.

The brackets are the shared geometry's (:mod:`hpo_methods.schedulers.geometry`): with rung
levels ``r_0 < ... < r_{s_max} = R`` (``round(r_min * eta^k)`` below R, then R), bracket s
(s = s_max, ..., 0) starts ``n = ceil((s_max + 1) / (s + 1) * eta^s)`` trials at level
``r_{s_max - s}``, and its rung i trains ``max(1, floor(n * eta^-i))`` trials to
``r_{s_max - s + i}``. For ``R = r_min * eta^k`` this is the paper's table; for R = 20, eta = 3,
r_min = 1 the levels are 1, 3, 9, 20 and the brackets start 27, 12, 6 and 4 trials (the paper's
formula would use levels 2, 7, 20, a grid no asynchronous method uses).

Each bracket is a synchronous successive halving run (:mod:`hpo_methods.schedulers.sh`); brackets
open in the order s = s_max, ..., 0 and then the cycle repeats until the budget ends. By default
a free worker that has no work in the open brackets opens the next one (as HpBandSter does), so
workers never wait while a bracket could start; ``max_concurrent_brackets = 1`` is the textbook
one-bracket-at-a-time algorithm. Trials not promoted are stopped when their rung closes, and
when no new trial can start the bracket still filling its bottom rung is closed with the trials it
has (both as in :mod:`hpo_methods.schedulers.sh`).
"""

from __future__ import annotations

from hpo_methods.schedulers.geometry import HyperbandBracket, Rung, hyperband_brackets
from hpo_methods.schedulers.sh import SynchronousBracketScheduler

__all__ = ["HyperbandBracket", "HyperbandScheduler", "hyperband_brackets"]


class HyperbandScheduler(SynchronousBracketScheduler):
    """Synchronous Hyperband (see the module docstring): SH brackets s = s_max..0, repeated."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        max_concurrent_brackets: int | None = None,
    ) -> None:
        super().__init__(max_epochs, seed, max_concurrent_brackets, reduction_factor)
        self.brackets = hyperband_brackets(max_epochs, grace_period, reduction_factor)

    def bracket(self, index: int) -> list[Rung]:
        return list(self.brackets[index % len(self.brackets)].rungs)

    def bracket_s(self, index: int) -> int:
        """The Hyperband index s of the ``index``-th bracket of the run."""
        return self.brackets[index % len(self.brackets)].s
