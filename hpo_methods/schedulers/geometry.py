"""The rung geometry every multi-fidelity method shares: rung levels and Hyperband's brackets.

With ``r_min = grace_period``, ``eta = reduction_factor`` and ``R = max_epochs``:

*Rung levels* (:func:`rung_levels`): ``r_k = round(r_min * eta^k)`` for k = 0, 1, ... while
``r_k < R`` (a level equal to the previous one, possible for a non-integer eta, is dropped), then
``R`` itself. So the lowest rung is ``grace_period``; the top rung is always ``R``; when R is not
``r_min`` times a power of eta the last step is shorter than eta (R = 20, eta = 3: 1, 3, 9, 20).
This is Syne Tune's ``successive_halving_rung_levels`` plus ``max_t``.

*Brackets* (:func:`hyperband_brackets`): with ``S`` levels, ``s_max = S - 1``. Bracket s
(s = s_max, ..., 0) uses the top ``s + 1`` levels: it starts ``n_s = ceil((s_max + 1) / (s + 1) *
eta^s)`` trials at level ``r_{s_max - s}``, and its rung i (i = 0..s) holds
``max(1, floor(n_s * eta^-i))`` trials at level ``r_{s_max - s + i}``. Bracket s_max is successive
halving from the lowest rung (ASHA's rungs); bracket 0 trains its ``n_0`` trials straight to R.
For ``R = r_min * eta^k`` this is exactly Hyperband's table (Li et al., JMLR 2018: s_max = k,
``r_i = R eta^(i - s)``). For any other R it keeps Hyperband's formula for n_s on the shared
levels, so every rung promotes the best ``1/eta`` of its trials (as ASHA does at every rung).
Compared with the references:

- Hyperband's own formula at R = 20 would give ``s_max = floor(log_3 20) = 2`` and levels
  ``R eta^-i`` rounded (2, 7, 20): a grid ASHA never uses, and no bracket at 1 epoch.
- Syne Tune's synchronous Hyperband (``SynchronousHyperbandRungSystem.geometric``) has the same
  levels and brackets (``s_max = ceil(log_eta(R / r_min))``) and the same bottom-rung sizes; it
  rounds every rung up, ``ceil((s_max + 1) / (s + 1) * eta^(s - i))``, where this module floors
  ``n_s eta^-i`` (R = 20: bracket s = 2 is 12, 4, 2 there and 12, 4, 1 here).
- Syne Tune's asynchronous Hyperband draws bracket s with probability proportional to
  ``(s_max + 1) / ((s + 1) r_{s_max - s})`` (``R / r`` in place of eta^s); tunebench draws it
  proportional to the integer n_s above (:mod:`hpo_methods.schedulers.async_hyperband`).
- DEHB's reference implementation uses Hyperband's own formula (budgets ``R eta^-i``, floats).

All of sh, hyperband, bohb, dehb, asha, async_hyperband, mobster and hypertune take their rungs
and brackets from this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Rung:
    """A rung of a bracket: ``size`` trials train to ``epochs`` epochs."""

    epochs: int
    size: int


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


def rung_levels(grace_period: int, reduction_factor: float, max_epochs: int) -> list[int]:
    """Epochs where trials are compared: ``round(grace_period * eta^k)`` below max_epochs, then
    max_epochs (module docstring)."""
    if grace_period < 1:
        raise ValueError(f"grace_period must be >= 1 (got {grace_period})")
    if not (math.isfinite(reduction_factor) and reduction_factor > 1):
        raise ValueError(f"reduction_factor must be > 1 (got {reduction_factor})")
    if grace_period > max_epochs:
        raise ValueError(f"grace_period ({grace_period}) exceeds max_epochs ({max_epochs})")
    levels: list[int] = []
    k = 0
    while True:
        level = round(grace_period * reduction_factor**k)
        if level >= max_epochs:
            break
        if not levels or level > levels[-1]:
            levels.append(level)
        k += 1
    return [*levels, max_epochs]


def check_reduction_factor(reduction_factor: float) -> float:
    """The reduction factor eta as a float; Hyperband's brackets need eta >= 2."""
    eta = float(reduction_factor)
    if not (math.isfinite(eta) and eta >= 2):
        raise ValueError(f"reduction_factor must be a number >= 2 (got {reduction_factor})")
    return eta


def rung_sizes(bracket_size: int, n_rungs: int, reduction_factor: float) -> list[int]:
    """``n_i = max(1, floor(n * eta^-i))`` for i = 0 .. n_rungs - 1 (Hyperband's rung sizes)."""
    if bracket_size < 1:
        raise ValueError(f"bracket_size must be >= 1 (got {bracket_size})")
    eta = float(reduction_factor)
    return [max(1, math.floor(bracket_size * eta**-i + 1e-9)) for i in range(n_rungs)]


def trials_in_bracket(s: int, s_max: int, reduction_factor: float) -> int:
    """``n_s = ceil((s_max + 1) / (s + 1) * eta^s)``: the trials bracket s starts."""
    return math.ceil((s_max + 1) / (s + 1) * float(reduction_factor) ** s - 1e-9)


def hyperband_brackets(
    max_epochs: int, grace_period: int = 1, reduction_factor: float = 3
) -> list[HyperbandBracket]:
    """Hyperband's bracket table on the shared rung levels, in the order the brackets run
    (s = s_max first; module docstring)."""
    eta = check_reduction_factor(reduction_factor)
    levels = rung_levels(grace_period, eta, max_epochs)
    s_max = len(levels) - 1
    brackets = []
    for s in range(s_max, -1, -1):
        sizes = rung_sizes(trials_in_bracket(s, s_max, eta), s + 1, eta)
        epochs = levels[s_max - s :]
        brackets.append(HyperbandBracket(s, tuple(map(Rung, epochs, sizes))))
    return brackets
