"""Synchronous successive halving (SH), and the bracket machinery synchronous Hyperband shares.

Karnin, Koren, Somekh: "Almost Optimal Exploration in Multi-Armed Bandits", ICML 2013;
Jamieson and Talwalkar: "Non-stochastic Best Arm Identification and Hyperparameter
Optimization", AISTATS 2016.

A *bracket* is a list of rungs ``(epochs_0, n_0), (epochs_1, n_1), ...`` with increasing epochs,
the last at ``max_epochs``. It runs synchronously:

1. ``n_0`` new trials each train to ``epochs_0`` epochs and pause there.
2. Rung k is *complete* when every trial sent to it has reported at ``epochs_k`` or failed (a
   failed trial counts as done with the worst value, +inf). Only then are promotions decided: the
   ``n_{k+1}`` trials with the lowest value reported at ``epochs_k`` (ties: lower trial id first;
   failed or non-finite trials are never promoted, so a rung may get fewer trials than planned)
   resume from their checkpoint, best first, and train on to ``epochs_{k+1}``.
3. Trials that reach the top rung (``max_epochs``) complete; when the top rung is complete (or a
   rung has no trial left to promote), the bracket is finished.

While a rung is incomplete, there is no other work in its bracket. A free worker then opens the
next bracket (as HpBandSter's master starts the next iteration when no job of the running ones
can start), so by default no worker waits while a bracket could start: work is always taken from
the oldest unfinished bracket that has some (promotions first, then new trials), and a new
bracket opens only when none has any. ``max_concurrent_brackets = k`` caps the unfinished
brackets at k; with k = 1 (the textbook algorithm: one bracket at a time, the next one starts
when the previous one is finished) a free worker waits instead (``can_start_trial()`` is False
and ``trial_to_resume()`` is None), which leaves workers idle at every rung's end.

*Trials not promoted* are given up when their rung's promotions are decided: they are returned
(once) by ``trials_to_stop()``, so the method marks them stopped and the backend releases their
checkpoints. A bracket of ``eta^s`` trials thus ends with one completed trial and the rest stopped.

*No new trials* (the trial budget is spent, or a finite searcher has no configuration left):
``on_no_new_trials()`` *closes* the bracket whose bottom rung is still being filled. Its bottom
rung keeps the ``n >= 1`` trials it has, and every later rung k+1 holds
``min(planned n_{k+1}, max(1, floor(n_k / eta)))`` trials, where n_k is rung k's (possibly reduced)
size: the top ``floor(n / eta)`` of a closed rung go on, and at least one while the rung had any.
Once those n trials have reported, the bracket proceeds as above, so its best trial still reaches
``max_epochs``. Brackets whose bottom rung is full are not affected.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from hpo_methods.protocol import Decision, Scheduler, TrialStatus
from hpo_methods.schedulers.geometry import (
    Rung,
    check_reduction_factor,
    hyperband_brackets,
    rung_levels,
    rung_sizes,
)


def sh_bracket(
    max_epochs: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    bracket_size: int | None = None,
) -> list[Rung]:
    """The rungs of one SH bracket.

    Rung epochs are the shared levels (:func:`~hpo_methods.schedulers.geometry.rung_levels`,
    as in ASHA). By default this is Hyperband's most aggressive bracket s_max
    (:func:`~hpo_methods.schedulers.geometry.hyperband_brackets`): ``n = eta^s_max`` trials
    (rounded up), so exactly one trial reaches the top rung. With ``bracket_size`` n, rung i
    holds ``max(1, floor(n * eta^-i))`` trials.
    """
    eta = check_reduction_factor(reduction_factor)
    if bracket_size is None:
        return list(hyperband_brackets(max_epochs, grace_period, eta)[0].rungs)
    levels = rung_levels(grace_period, eta, max_epochs)
    sizes = rung_sizes(int(bracket_size), len(levels), eta)
    return [Rung(e, s) for e, s in zip(levels, sizes, strict=True)]


def check_concurrent_brackets(max_concurrent_brackets: int | None) -> int | None:
    """``max_concurrent_brackets``: None (no limit) or an integer >= 1."""
    if max_concurrent_brackets is None:
        return None
    value = max_concurrent_brackets
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"max_concurrent_brackets must be >= 1 or null (got {max_concurrent_brackets})"
        )
    return value


def closed_rung_sizes(rungs: Sequence[Rung], n: int, reduction_factor: float) -> list[Rung]:
    """The rungs of a bracket whose bottom rung was closed with ``n`` trials (module docstring)."""
    if n < 1:
        raise ValueError(f"a closed rung needs at least one trial (got {n})")
    sizes = [min(n, rungs[0].size)]
    for rung in rungs[1:]:
        sizes.append(min(rung.size, max(1, math.floor(sizes[-1] / reduction_factor + 1e-9))))
    return [Rung(r.epochs, size) for r, size in zip(rungs, sizes, strict=True)]


class _Bracket:
    """One synchronous SH bracket in progress."""

    def __init__(self, index: int, rungs: Sequence[Rung], reduction_factor: float) -> None:
        self.index = index
        self.rungs = list(rungs)
        self.eta = reduction_factor
        self.started = 0  # trials started at the bottom rung
        self.current = 0  # the rung being filled
        self.members: list[list[int]] = [[] for _ in self.rungs]
        self.target: dict[int, int] = {}  # trial -> the rung it trains to (or waits for)
        self.values: list[dict[int, float]] = [{} for _ in self.rungs]
        self.queue: deque[int] = deque()  # promoted trials waiting for a worker
        self.dropped: list[int] = []  # paused trials not promoted, not yet handed out
        self.finished = False

    def has_room(self) -> bool:
        return self.current == 0 and self.started < self.rungs[0].size

    def close(self) -> bool:
        """Close a bottom rung that is still being filled; False if there is none."""
        if not self.has_room() or self.started == 0:
            return False
        self.rungs = closed_rung_sizes(self.rungs, self.started, self.eta)
        return True

    def rung_complete(self, k: int) -> bool:
        if k == 0 and self.started < self.rungs[0].size:
            return False
        return len(self.values[k]) == len(self.members[k])

    def advance(self, failed: set[int]) -> None:
        """Decide promotions while the current rung is complete (see the module docstring)."""
        while not self.finished and self.rung_complete(self.current):
            k = self.current
            if k + 1 == len(self.rungs):
                self.finished = True
                return
            rung = self.values[k]
            alive = [t for t in rung if math.isfinite(rung[t]) and t not in failed]
            ranked = sorted(alive, key=lambda t: (rung[t], t))
            promoted = ranked[: self.rungs[k + 1].size]
            self.dropped.extend(ranked[len(promoted) :])  # paused at rung k, never resumed
            if not promoted:
                self.finished = True
                return
            self.current = k + 1
            self.members[k + 1] = promoted
            self.target.update((t, k + 1) for t in promoted)
            self.queue.extend(promoted)


class SynchronousBracketScheduler(Scheduler):
    """Runs synchronous SH brackets one after another; ``bracket(i)`` gives the i-th one's rungs.

    Subclasses define :meth:`bracket`; see the module docstring for the semantics.
    """

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        max_concurrent_brackets: int | None = None,
        reduction_factor: float = 3,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.eta = check_reduction_factor(reduction_factor)
        self.max_concurrent_brackets = check_concurrent_brackets(max_concurrent_brackets)
        self.active: list[_Bracket] = []
        self.brackets_opened = 0
        self.where: dict[int, _Bracket] = {}  # trial -> its bracket
        self.failed: set[int] = set()
        self._to_stop: list[int] = []

    def bracket(self, index: int) -> list[Rung]:
        """The rungs of the ``index``-th bracket (0, 1, ...) of the run."""
        raise NotImplementedError

    def _check_rungs(self, rungs: Sequence[Rung]) -> None:
        epochs = [r.epochs for r in rungs]
        if not rungs or epochs[-1] != self.max_epochs or epochs != sorted(set(epochs)):
            raise ValueError(f"bracket rungs must increase up to max_epochs (got {epochs})")
        if epochs[0] < 1 or any(r.size < 1 for r in rungs):
            raise ValueError(f"bracket rungs need epochs >= 1 and sizes >= 1 (got {rungs})")

    # -- the protocol -----------------------------------------------------------------------

    def _may_open(self) -> bool:
        limit = self.max_concurrent_brackets
        return limit is None or len(self.active) < limit

    def can_start_trial(self) -> bool:
        return any(b.has_room() for b in self.active) or self._may_open()

    def on_trial_start(self, trial_id: int) -> None:
        bracket = next((b for b in self.active if b.has_room()), None)
        if bracket is None:
            if not self._may_open():
                raise RuntimeError("a trial started while can_start_trial() was False")
            rungs = self.bracket(self.brackets_opened)
            self._check_rungs(rungs)
            bracket = _Bracket(self.brackets_opened, rungs, self.eta)
            self.brackets_opened += 1
            self.active.append(bracket)
        bracket.started += 1
        bracket.members[0].append(trial_id)
        bracket.target[trial_id] = 0
        self.where[trial_id] = bracket

    def trial_to_resume(self) -> int | None:
        for bracket in self.active:
            if bracket.queue:
                return bracket.queue.popleft()
        return None

    def trials_to_stop(self) -> list[int]:
        stop = [t for t in self._to_stop if t not in self.failed]
        self._to_stop = []
        return stop

    def on_no_new_trials(self) -> bool:
        """Close the bracket still filling its bottom rung (see the module docstring)."""
        closed = False
        for bracket in list(self.active):
            if bracket.close():
                closed = True
                self._advance(bracket)
        return closed and any(b.queue for b in self.active)

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        bracket = self.where[trial_id]
        k = bracket.target[trial_id]
        target = bracket.rungs[k].epochs
        if epoch < target:
            return Decision.CONTINUE
        if epoch > target:
            raise RuntimeError(f"trial {trial_id} reported epoch {epoch} past its rung {target}")
        bracket.values[k][trial_id] = value
        self._advance(bracket)
        return Decision.CONTINUE if target >= self.max_epochs else Decision.PAUSE

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        if status not in (TrialStatus.FAILED, TrialStatus.STOPPED):
            return
        self.failed.add(trial_id)
        bracket = self.where[trial_id]
        if trial_id in bracket.queue:
            bracket.queue.remove(trial_id)
        bracket.values[bracket.target[trial_id]].setdefault(trial_id, math.inf)
        self._advance(bracket)

    def _advance(self, bracket: _Bracket) -> None:
        bracket.advance(self.failed)
        self._to_stop.extend(bracket.dropped)
        bracket.dropped.clear()
        if bracket.finished and bracket in self.active:
            self.active.remove(bracket)


class SuccessiveHalvingScheduler(SynchronousBracketScheduler):
    """Synchronous successive halving: the same bracket (:func:`sh_bracket`) over and over."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        bracket_size: int | None = None,
        max_concurrent_brackets: int | None = None,
    ) -> None:
        super().__init__(max_epochs, seed, max_concurrent_brackets, reduction_factor)
        self.rungs = sh_bracket(max_epochs, grace_period, reduction_factor, bracket_size)

    def bracket(self, index: int) -> list[Rung]:
        return self.rungs
