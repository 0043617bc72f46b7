"""Hyper-Tune's scheduler: asynchronous Hyperband with delayed promotions and learned brackets.

Li, Shen, Jiang, Zhang, Zhang, Cui: "Hyper-Tune: Towards Efficient Hyper-parameter Tuning at
Scale", PVLDB 15(6), 2022. This module is the scheduling half; the model half (per-level GPs
whose ranking losses give the level weights theta) is :mod:`hpo_methods.methods.hypertune`.

*Brackets.* As in :mod:`hpo_methods.schedulers.async_hyperband`: with ``R = max_epochs``,
``r_min = grace_period`` and ``eta = reduction_factor``, bracket s (s = s_max, ..., 0, or the
``brackets`` most aggressive ones) has rung levels ``round(r_min * eta^(s_max - s)) * eta^k``
below R, then R; its *base level* ``b_s`` is the lowest of them. Each new trial draws its bracket.

*Bracket distribution.* Without level weights, bracket s is drawn with probability
``p_s = n_s / sum_t n_t`` (n_s: the trials synchronous Hyperband starts in bracket s), as in
asynchronous Hyperband. Once the method supplies weights ``theta_r`` for the levels up to some
level T (``weight_source``; theta measures how well measurements at level r rank configurations
at T, see the method module), the brackets whose base level is at most T share the probability
mass they had by default in proportion to ``theta_{b_s} / b_s``; brackets with a higher base level
keep their default probability. When T = R this is exactly ``p_s proportional to
theta_{b_s} / b_s``: a bracket is chosen more often when its first rung ranks configurations
well, and less often the more each of its first evaluations costs.

*Delayed asynchronous successive halving (D-ASHA).* Each bracket is an ASHA of the promotion
variant (the paper's asynchronous scheme): a trial reaching a rung level below R records its
value there and pauses. When a worker asks for work, rungs are searched from the highest level
down (ties between brackets: the most aggressive bracket first); a rung of n recorded trials
promotes a paused trial that is among its ``floor(n / eta)`` best (ties: earlier arrival first;
non-finite values never) and was not promoted yet, *and only while the rung has promoted fewer
than floor(n / eta) trials in total* (the delay: plain ASHA may promote more than a 1/eta share
of a rung when later arrivals push earlier promotions out of the top). Otherwise a new trial
starts. A trial reaching R completes.

*No new trials* (trial budget spent, finite searcher used up): the delay is lifted, and a rung of
n >= 1 trials may promote its ``max(1, floor(n / eta))`` best (the rule synchronous SH uses to
close a rung, :mod:`hpo_methods.schedulers.sh`), so the best trial of the highest rung still
reaches R; ``on_no_new_trials`` returns True the first time. From then on a rung can be *final*:
no running trial of its bracket is heading to it or to a lower rung, and no lower rung of the
bracket still has a trial to promote. A paused trial in a final rung that is not among its
promotable ones can never resume: ``trials_to_stop`` returns it (once), so it ends as stopped.
While new trials may still start, rungs keep growing and paused trials stay paused (as in ASHA's
promotion variant).

*Where this differs from the paper (or may).* The paper's text was not at hand when this was
written. The D-ASHA condition above and the ``theta_{b_s} / b_s`` rule are this module's reading
of it; the latter is what Syne Tune's Hyper-Tune implementation does, and Syne Tune documents as
its own deviation that it reweights the brackets with base level up to T before there are enough
values at R (the paper waits for those), keeping the default for the other brackets, as here.
The end-of-run rules (no new trials) are tunebench's. Check these against the paper before
citing them as its method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from hpo_methods.protocol import Decision, Scheduler, TrialStatus
from hpo_methods.schedulers.asha import rung_levels
from hpo_methods.schedulers.async_hyperband import bracket_probabilities
from hpo_methods.schedulers.sh import check_reduction_factor

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
    """Asynchronous Hyperband with D-ASHA promotions and learned brackets (module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int | None = None,
        delayed_promotion: bool = True,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.eta = check_reduction_factor(reduction_factor)
        self.default = bracket_probabilities(max_epochs, grace_period, self.eta, brackets)
        s_max = max(self.default)
        self.rungs: dict[int, list[int]] = {
            s: rung_levels(round(grace_period * self.eta ** (s_max - s)), self.eta, max_epochs)
            for s in self.default
        }
        self.base = {s: levels[0] for s, levels in self.rungs.items()}
        self.levels = sorted({lv for levels in self.rungs.values() for lv in levels})
        self.delayed_promotion = bool(delayed_promotion)
        # bracket -> rung level -> {trial: value}, in arrival order
        self.recorded = {s: {lv: {} for lv in lvs[:-1]} for s, lvs in self.rungs.items()}
        self.promoted = {s: {lv: set() for lv in lvs[:-1]} for s, lvs in self.rungs.items()}
        self.paused: dict[int, int] = {}  # paused trial -> the rung level it waits at
        self.heading: dict[int, int] = {}  # running trial -> the level it reports at next
        self.bracket_of: dict[int, int] = {}
        self.weight_source: Callable[[], LevelWeights | None] | None = None
        self.no_new_trials = False
        # (level, s) pairs, highest level first, then the most aggressive bracket
        self._search_order = sorted(
            ((lv, s) for s, lvs in self.rungs.items() for lv in lvs[:-1]),
            key=lambda p: (-p[0], -p[1]),
        )

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

    def on_trial_start(self, trial_id: int) -> None:
        s = self.sample_bracket()
        self.bracket_of[trial_id] = s
        self.heading[trial_id] = self.base[s]

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        if epoch >= self.max_epochs:
            return Decision.CONTINUE
        rung = self.recorded[self.bracket_of[trial_id]].get(epoch)
        if rung is None:
            return Decision.CONTINUE
        rung[trial_id] = value
        self.paused[trial_id] = epoch
        self.heading.pop(trial_id, None)
        return Decision.PAUSE

    def trial_to_resume(self) -> int | None:
        for level, s in self._search_order:
            trial_id = self._promotable(s, level)
            if trial_id is not None:
                self.promoted[s][level].add(trial_id)
                del self.paused[trial_id]
                levels = self.rungs[s]
                self.heading[trial_id] = levels[levels.index(level) + 1]
                return trial_id
        return None

    def _promotable(self, s: int, level: int) -> int | None:
        candidates = self._candidates(s, level)
        return candidates[0] if candidates else None

    def _candidates(self, s: int, level: int) -> list[int]:
        """The paused trials rung (s, level) may promote now, best first."""
        rung = self.recorded[s][level]
        n_top = math.floor(len(rung) / self.eta + 1e-9)
        if self.no_new_trials and rung:
            n_top = max(1, n_top)
        promoted = self.promoted[s][level]
        if n_top == 0:
            return []
        if self.delayed_promotion and not self.no_new_trials and len(promoted) >= n_top:
            return []
        finite = [t for t in rung if math.isfinite(rung[t])]
        top = sorted(finite, key=rung.__getitem__)[:n_top]  # stable: ties by arrival order
        return [t for t in top if self.paused.get(t) == level and t not in promoted]

    def trials_to_stop(self) -> list[int]:
        """Paused trials in final rungs that cannot be promoted (module docstring)."""
        if not self.no_new_trials:
            return []
        stop = []
        for s, levels in self.rungs.items():
            running = [lv for t, lv in self.heading.items() if self.bracket_of[t] == s]
            lowest_running = min(running, default=self.max_epochs + 1)
            for level in levels[:-1]:
                if level >= lowest_running:
                    break  # a running trial may still arrive here or below
                keep = set(self._candidates(s, level))
                stop += [
                    t
                    for t in self.recorded[s][level]
                    if self.paused.get(t) == level and t not in keep
                ]
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
