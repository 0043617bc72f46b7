"""Synchronous Hyperband.

Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar: "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization", JMLR 18(185), 2018.

With ``R = max_epochs``, ``r_min = grace_period`` and ``eta = reduction_factor``:
``s_max = floor(log_eta(R / r_min))`` (computed exactly: the largest s with
``r_min * eta^s <= R``). Bracket s (s = s_max, ..., 0) starts
``n = ceil((s_max + 1) / (s + 1) * eta^s)`` trials at ``r = R * eta^-s`` epochs, and its rung i
(i = 0..s) trains ``n_i = floor(n * eta^-i)`` trials to ``r_i = R * eta^(i - s)`` epochs, rounded
half up to whole epochs. Each bracket is a synchronous successive halving run
(:mod:`hpo_methods.schedulers.sh`); brackets run in the order s = s_max, ..., 0 and then the
cycle repeats until the budget ends. Trials not promoted are stopped when their rung closes, and
when no new trial can start the bracket still filling its bottom rung is closed with the trials it
has (both as in :mod:`hpo_methods.schedulers.sh`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpo_methods.schedulers.sh import (
    Rung,
    SynchronousBracketScheduler,
    check_reduction_factor,
    rung_sizes,
)


@dataclass(frozen=True)
class HyperbandBracket:
    """Bracket ``s`` of Hyperband: its rungs, bottom first."""

    s: int
    rungs: tuple[Rung, ...]

    @property
    def n(self) -> int:
        """Trials started in this bracket."""
        return self.rungs[0].size

    @property
    def r(self) -> int:
        """Epochs of the bottom rung."""
        return self.rungs[0].epochs


def max_bracket_index(max_epochs: int, grace_period: int, reduction_factor: float) -> int:
    """``s_max``: the largest s with ``grace_period * eta^s <= max_epochs``."""
    eta = check_reduction_factor(reduction_factor)
    if not 1 <= grace_period <= max_epochs:
        raise ValueError(
            f"grace_period must be between 1 and max_epochs={max_epochs} (got {grace_period})"
        )
    s = 0
    while grace_period * eta ** (s + 1) <= max_epochs * (1 + 1e-12):
        s += 1
    return s


def hyperband_brackets(
    max_epochs: int, grace_period: int = 1, reduction_factor: float = 3
) -> list[HyperbandBracket]:
    """Hyperband's bracket table, in the order the brackets run (s = s_max first)."""
    eta = check_reduction_factor(reduction_factor)
    s_max = max_bracket_index(max_epochs, grace_period, eta)
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) / (s + 1) * eta**s - 1e-9)
        epochs = [math.floor(max_epochs * eta ** (i - s) + 0.5) for i in range(s + 1)]
        sizes = rung_sizes(n, s + 1, eta)
        brackets.append(HyperbandBracket(s, tuple(map(Rung, epochs, sizes))))
    return brackets


class HyperbandScheduler(SynchronousBracketScheduler):
    """Synchronous Hyperband (see the module docstring): SH brackets s = s_max..0, repeated."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        max_concurrent_brackets: int = 1,
    ) -> None:
        super().__init__(max_epochs, seed, max_concurrent_brackets, reduction_factor)
        self.brackets = hyperband_brackets(max_epochs, grace_period, reduction_factor)

    def bracket(self, index: int) -> list[Rung]:
        return list(self.brackets[index % len(self.brackets)].rungs)

    def bracket_s(self, index: int) -> int:
        """The Hyperband index s of the ``index``-th bracket of the run."""
        return self.brackets[index % len(self.brackets)].s
