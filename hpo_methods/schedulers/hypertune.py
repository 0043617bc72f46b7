"""Hyper-Tune's scheduler: learned brackets over one shared rung system, delayed promotions.

Li, Shen, Jiang, Zhang, Li, Liu, Zhang, Cui: "Hyper-Tune: Towards Efficient Hyper-parameter
Tuning at Scale", PVLDB 15(6), 2022. This module is the scheduling half (the paper's resource
allocator and evaluation scheduler); the model half (per-level GPs whose ranking losses give the
level weights theta) is :mod:`hpo_methods.methods.hypertune`.

*Levels and brackets.* The shared geometry (:mod:`hpo_methods.schedulers.geometry`): with
``R = max_epochs``, ``r_min = grace_period`` and ``eta = reduction_factor`` the rung levels are
``r_0 < ... < r_{s_max} = R`` (``round(r_min * eta^k)`` below R, then R), and bracket s
(s = s_max, ..., 0, or the ``brackets`` most aggressive ones) has *base level*
``b_s = r_{s_max - s}``: one bracket per level, R included (bracket 0 trains to R without
stopping; Syne Tune: ``len(rung_levels) + 1`` brackets). R = 20, eta = 3: levels 1, 3, 9, 20 and
four brackets. All brackets share one rung system: a new trial draws its bracket, which only
decides the level it first stops at: a trial of bracket s trains to b_s and then competes with
every trial that reached b_s, whichever bracket it started in.

*Bracket distribution.* Without level weights, bracket s is drawn with probability
``p_s = n_s / sum_t n_t`` (n_s: the trials synchronous Hyperband starts in bracket s), as in
asynchronous Hyperband. Once the method supplies weights ``theta_r`` for the levels up to some
level T (``weight_source``; theta measures how well measurements at level r rank configurations
at T, see the method module), the brackets whose base level is at most T share the probability
mass they had by default in proportion to ``theta_{b_s} / b_s``; brackets with a higher base level
keep their default probability. When T = R this is ``p_s`` proportional to ``theta_{b_s} / b_s``:
a bracket is chosen more often when its first level ranks configurations well, and less often
the more each of its first evaluations costs. Since the default ``p_s`` is about
``(s_max + 1) / (s + 1) * R / b_s``, a weight growing with the level as ``(s_max + 1) / (s + 1)``
(1/4, 1/3, 1/2, 1 for four levels, normalised) keeps the default; R = 20 with theta = 0.1, 0.1,
0.1, 0.7 at levels 1, 3, 9, 20 gives p = 180/323, 60/323, 20/323, 63/323 (the full-training
bracket: 19.5% instead of its default 4/49 = 8.2%).

*Delayed asynchronous successive halving (D-ASHA).* A trial reaching a level below R records its
value there and pauses. When a worker asks for work, levels are searched from the highest down;
a rung of n recorded values may promote (resume towards the next level) its best paused trial
that is among the ``floor(n / eta)`` best values (ties: earlier arrival first; non-finite values
never) and was not promoted yet, *only while the rung has promoted fewer than floor(n / eta)
trials in all* (the delay: plain ASHA may promote more than a 1/eta share of a rung when later
arrivals push earlier promotions out of the top), and, with ``promotion_threshold``, *only once
the rung holds at least as many values as rung i of synchronous Hyperband's most aggressive
bracket* (n_i = floor(n_{s_max} eta^-i) for the i-th level: 27, 9, 3 for R = 27, eta = 3, and
also for R = 20, where the authors' ``R eta^-i`` would give 20, 6.7, 2.2), which
keeps early, noisy promotions out. Otherwise a new trial starts. A trial reaching R completes.

*No new trials* (trial budget spent, finite searcher used up): the delay and the threshold are
lifted, and a rung of n >= 1 values may promote its ``max(1, floor(n / eta))`` best (the rule
synchronous SH uses to close a rung, :mod:`hpo_methods.schedulers.sh`), so the best trial of the
highest rung still reaches R; ``on_no_new_trials`` returns True the first time. From then on a
rung can be *final*: no running trial is heading to it or to a lower level, and no lower rung
still has a trial to promote. A paused trial in a final rung that is not among its promotable ones
can never resume: ``trials_to_stop`` returns it (once), so it ends as stopped. While new trials
may still start, rungs keep growing and paused trials stay paused (as in ASHA's promotion variant).

*Sources, rule by rule.*

- Shared rung system, D-ASHA's promotion test, its candidates and the search from the highest
  rung down: the paper authors' implementation, github.com/thomas-young-2013/HyperTune,
  ``tuner/async_mq_sh.py`` (``can_promote``: a rung promotes while
  ``(promoted + 1) / n <= 1 / eta``, which is ``promoted < floor(n / eta)``; ``get_job``: the
  first unpromoted finite value among the ``int(n / eta)`` best), ``tuner/async_mq_hb.py`` (one
  rung list; a new trial enters the rung of its bracket's initial resource), and
  ``tuner/async_mq_mfes.py`` (``promotion_start_threshold = R * eta^-i`` for rung i, on by
  default in their method; it equals the Hyperband rung size above when R = r_min eta^s_max).
  Syne Tune's ``HyperbandScheduler`` also shares one rung system across brackets by default
  (``rung_system_per_bracket=False``), but its Hyper-Tune runs ASHA without the delay (the
  stopping variant by default, or the promotion variant).
- ``p_s`` proportional to ``theta_{b_s} / b_s``, and reweighting only the brackets with base
  level up to T before T reaches R: Syne Tune (``hypertune/gp_model.py``, ``fit_distributions``;
  ``hypertune_bracket_distribution.py``), which documents the latter as its own deviation (the
  paper waits for enough values at R). Where every weight of the head is zero Syne Tune puts all
  mass on the most aggressive bracket; here the default stays. The authors' code differs: it
  cycles through Hyperband's brackets in order until 24 trials reached R, then draws from
  ``theta_{b_s} n_s`` restricted to the two largest entries. The paper's text was not at hand to
  decide between the two; this module follows Syne Tune, whose documentation names the early
  start as its most important deviation from the paper (without listing the others).
- The end-of-run rules (no new trials) are tunebench's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from hpo_methods.protocol import Decision, Scheduler, TrialStatus
from hpo_methods.schedulers.async_hyperband import bracket_probabilities
from hpo_methods.schedulers.geometry import (
    check_reduction_factor,
    hyperband_brackets,
    rung_levels,
)

LevelWeights = Mapping[int, float]


def bracket_distribution(
    default: Mapping[int, float], base: Mapping[int, int], theta: LevelWeights | None
) -> dict[int, float]:
    """``{s: p_s}``: the default distribution reweighted by level weights (module docstring).

    ``default`` maps bracket s to its default probability, ``base`` to its base level; ``theta``
    maps levels to weights (levels without a weight keep their brackets' default mass).
    """
    out = dict(default)
    if not theta:
        return out
    head = [s for s in default if base[s] in theta]
    raw = {s: max(0.0, float(theta[base[s]])) / base[s] for s in head}
    total = sum(raw.values())
    if not head or total <= 0:
        return out
    mass = sum(default[s] for s in head)
    for s in head:
        out[s] = mass * raw[s] / total
    return out


class HyperTuneScheduler(Scheduler):
    """Learned brackets over one shared rung system with D-ASHA promotions (module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int | None = None,
        delayed_promotion: bool = True,
        promotion_threshold: bool = True,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.eta = check_reduction_factor(reduction_factor)
        self.default = bracket_probabilities(max_epochs, grace_period, self.eta, brackets)
        self.levels = rung_levels(grace_period, self.eta, max_epochs)
        s_max = len(self.levels) - 1
        self.base = {s: self.levels[s_max - s] for s in self.default}
        self.delayed_promotion = bool(delayed_promotion)
        sizes = hyperband_brackets(max_epochs, grace_period, self.eta)[0].rungs
        self.threshold = {
            lv: (sizes[i].size if promotion_threshold else 0)
            for i, lv in enumerate(self.levels[:-1])
        }
        # rung level -> {trial: value}, in arrival order
        self.recorded: dict[int, dict[int, float]] = {lv: {} for lv in self.levels[:-1]}
        self.promoted: dict[int, set[int]] = {lv: set() for lv in self.levels[:-1]}
        self.paused: dict[int, int] = {}  # paused trial -> the rung level it waits at
        self.heading: dict[int, int] = {}  # running trial -> the level it reports at next
        self.bracket_of: dict[int, int] = {}
        self.weight_source: Callable[[], LevelWeights | None] | None = None
        self.no_new_trials = False

    def probabilities(self) -> dict[int, float]:
        """The bracket distribution a new trial draws from now."""
        theta = self.weight_source() if self.weight_source is not None else None
        return bracket_distribution(self.default, self.base, theta)

    def sample_bracket(self) -> int:
        """Draw a bracket s from :meth:`probabilities`."""
        probabilities = self.probabilities()
        brackets = list(probabilities)
        weights = [probabilities[s] for s in brackets]
        total = sum(weights)
        index = self.rng.choice(len(brackets), p=[w / total for w in weights])
        return brackets[int(index)]

    def next_level(self, level: int) -> int:
        """The level after ``level`` (R after the highest rung)."""
        return next(lv for lv in self.levels if lv > level)

    def on_trial_start(self, trial_id: int) -> None:
        s = self.sample_bracket()
        self.bracket_of[trial_id] = s
        self.heading[trial_id] = self.base[s]

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        if epoch >= self.max_epochs or self.heading.get(trial_id) != epoch:
            return Decision.CONTINUE
        self.recorded[epoch][trial_id] = value
        self.paused[trial_id] = epoch
        del self.heading[trial_id]
        return Decision.PAUSE

    def trial_to_resume(self) -> int | None:
        for level in reversed(self.levels[:-1]):
            candidates = self._candidates(level)
            if candidates:
                trial_id = candidates[0]
                self.promoted[level].add(trial_id)
                del self.paused[trial_id]
                self.heading[trial_id] = self.next_level(level)
                return trial_id
        return None

    def _candidates(self, level: int) -> list[int]:
        """The paused trials the rung at ``level`` may promote now, best first."""
        rung = self.recorded[level]
        n_top = math.floor(len(rung) / self.eta + 1e-9)
        promoted = self.promoted[level]
        if self.no_new_trials:
            n_top = max(1, n_top) if rung else 0
        else:
            below_threshold = len(rung) < self.threshold[level]
            delayed = self.delayed_promotion and len(promoted) >= n_top
            if below_threshold or delayed:
                return []
        if n_top == 0:
            return []
        finite = [t for t in rung if math.isfinite(rung[t])]
        top = sorted(finite, key=rung.__getitem__)[:n_top]  # stable: ties by arrival order
        return [t for t in top if self.paused.get(t) == level and t not in promoted]

    def trials_to_stop(self) -> list[int]:
        """Paused trials in final rungs that cannot be promoted (module docstring)."""
        if not self.no_new_trials:
            return []
        lowest_running = min(self.heading.values(), default=self.max_epochs + 1)
        stop = []
        for level in self.levels[:-1]:
            if level >= lowest_running:
                break  # a running trial may still arrive here or below
            keep = set(self._candidates(level))
            waiting = [t for t in self.recorded[level] if self.paused.get(t) == level]
            stop += [t for t in waiting if t not in keep]
            if keep:
                break  # promotions to come: the rungs above may still grow
        for trial_id in stop:
            del self.paused[trial_id]
        return sorted(stop)

    def on_no_new_trials(self) -> bool:
        if self.no_new_trials:
            return False
        self.no_new_trials = True
        return True

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        self.paused.pop(trial_id, None)
        self.heading.pop(trial_id, None)
