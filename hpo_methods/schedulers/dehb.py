"""DEHB: differential evolution on top of Hyperband's brackets.

Awad, Mallik, Hutter: "DEHB: Evolutionary Hyperband for Scalable, Robust and Efficient
Hyperparameter Optimization", IJCAI 2021. This module follows the paper and the authors' reference
implementation (github.com/automl/DEHB) with these exact rules:

*Brackets.* Hyperband's bracket table on the rung levels every multi-fidelity method shares
(:func:`~hpo_methods.schedulers.geometry.hyperband_brackets`), brackets s = s_max..0 in turn,
repeated; the budgets ``b_0 < ... < b_{S-1}`` (S = s_max + 1) are the rungs of bracket s_max,
and rung k of bracket s trains to budget ``j = S - 1 - s + k``. Each bracket is synchronous:
its rung k+1 starts only when rung k is complete (every trial reported at its budget or failed).
When no open bracket has work for a free worker, a new bracket opens (as in the reference
implementation), up to ``max_concurrent_brackets`` open at once (None: no limit).

*Vectors.* DE works on one coordinate in [0, 1] per hyperparameter (:class:`DEVectors`, the
reference's ``configspace_to_vector``): a numeric hyperparameter's encoded coordinate, and for a
choice of k categories index / k, decoded by binning (category ``min(floor(k v), k - 1)``).

*Populations.* One per budget: ``P_j`` holds ``N_j`` members, N_j the largest number of trials any
bracket runs at b_j (R=81, eta=3: 81, 34, 15, 8, 5; R=20: 27, 12, 6, 4 at budgets 1, 3, 9, 20),
initialised with the vectors of random configurations, of fitness +inf (not evaluated). Every job
at budget j takes the next member of P_j round-robin as its *parent* (DE's target).

*Configurations.* In the first S brackets (the first Hyperband iteration), rung k > 0 promotes as
in successive halving: the ``n_k`` best trials of the bracket's rung k-1 resume from their
checkpoints. Every other job is a new trial trained from scratch to ``b_j``:

- a bottom-rung job whose parent is not evaluated yet evaluates the parent itself (so the first
  bracket is random search under successive halving);
- otherwise DE/rand/1/bin: the *pool* is the ``n_k`` best evaluated members of ``P_{j-1}`` (rung
  k > 0) or of ``P_j`` (bottom rung), filled up to 3 with distinct random members of all
  populations; the mutant is ``a + F (b - c)`` for three distinct random pool members a, b, c
  (``F = mutation_factor``); coordinates outside [0, 1] are redrawn uniformly; binomial crossover
  with the parent takes each coordinate from the mutant with probability ``crossover_prob`` (one
  random coordinate when none was taken). The vector is decoded to a configuration and kept as it
  is (a promoted trial keeps its vector; for a finite space: see below).

*Finite spaces* (``SearchSpace.candidates``, e.g. a tabular benchmark; the reference
implementation has no such notion, so this rule is this module's own). Each initial population
``P_j`` draws its members from the candidates without replacement (with replacement only for
members beyond the number of candidates). A job's vector becomes the candidate nearest to it
(squared Euclidean distance between vectors, after moving each choice's coordinate to the
category it decodes to; ties: the first in candidate order) *among
those not yet trained at its budget b_j* — a configuration is trained at b_j once a new trial
started with it at b_j or a trial holding it was promoted to b_j. So no new trial repeats a
configuration at a budget while an unused candidate remains there; once every candidate was
trained at b_j, the nearest of all candidates is taken (DE's proposals never run out). This also
applies to a bottom-rung job that evaluates its unevaluated parent: if the parent's configuration
was trained at b_j already, the job evaluates the nearest unused candidate instead, and that
candidate is what selection puts into P_j.

*Selection.* When a trial reports at its budget b_j a finite value no worse than its parent's
fitness, it replaces the parent in P_j.

*Decisions.* A trial reaching its budget b_j < R pauses in the first Hyperband iteration (it may
be promoted) and stops afterwards (DEHB never continues a trial there); at R it completes. A
first-iteration trial that is not promoted when its rung's promotions are decided is returned
(once) by ``trials_to_stop()``, so the method marks it stopped.

*No new trials* (trial budget spent): a first-iteration bracket still filling its bottom rung is
closed with the ``n >= 1`` trials it has, and its rung k+1 then promotes
``min(planned n_{k+1}, max(1, floor(n_k / eta)))`` trials, as in
:mod:`hpo_methods.schedulers.sh`, so its best trial still reaches R. Brackets of later
iterations start a new trial for every job, so they cannot go on without new trials and are left
as they are. (DE's proposals never run out, even on a finite space, so only the trial budget
triggers this.)

*Where the reference implementation differs.* Its budgets are Hyperband's own
``R eta^(i - s_max)`` with ``s_max = floor(log_eta(R / r_min))`` (R = 20: 2.2, 6.7 and 20
epochs, three brackets), where this module uses the shared levels (1, 3, 9, 20, four brackets:
the same grid as ASHA); for ``R = r_min eta^k`` both are the same. It sizes brackets with
``floor((s_max + 1) / (s + 1)) * eta^s`` instead of Hyperband's ceil; its first-iteration
promotions take the best members of ``P_{j-1}`` not already in ``P_j`` (re-training them from
scratch) where this module promotes the bracket's own best trials and resumes their checkpoints;
its very first bottom rung evaluates DE mutants of the random population rather than the
random population itself; its mutation pool is the ``n_k`` best members of the lower population
by fitness, unevaluated ones included when too few were evaluated, and when that is fewer than 3
it adds mutants of all populations (this module: evaluated members only, filled with random
members of all populations); and an integer's coordinate maps linearly onto [low, high] and is
rounded, where here each integer owns an equal share of [0, 1]
(:class:`~hpo_methods.space.SearchSpace`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from hpo_methods.protocol import Decision, Scheduler, Searcher, TrialStatus
from hpo_methods.schedulers.geometry import hyperband_brackets
from hpo_methods.schedulers.sh import check_concurrent_brackets
from hpo_methods.searchers.common import CandidatePool
from hpo_methods.space import Choice, Config, SearchSpace

MIN_POOL = 3  # rand/1 needs three distinct members


@dataclass(frozen=True)
class Slot:
    """A new trial's place: bracket, rung k, budget index j, and its rung's size n_k."""

    bracket: int
    rung: int
    budget: int
    size: int


@dataclass
class _Bracket:
    index: int
    first_iteration: bool
    budgets: list[int]  # budget index j of each rung
    sizes: list[int]
    current: int = 0
    issued: int = 0  # new trials started in the current rung
    members: list[list[int]] = field(default_factory=list)
    values: list[dict[int, float]] = field(default_factory=list)
    queue: deque[int] = field(default_factory=deque)
    finished: bool = False

    def __post_init__(self) -> None:
        self.members = [[] for _ in self.sizes]
        self.values = [{} for _ in self.sizes]

    def promotes(self, k: int) -> bool:
        """Whether rung k resumes the previous rung's best instead of starting new trials."""
        return self.first_iteration and k > 0

    def has_new_slot(self) -> bool:
        k = self.current
        return not self.finished and not self.promotes(k) and self.issued < self.sizes[k]

    def close(self, reduction_factor: float) -> bool:
        """Close a first-iteration bottom rung still being filled; False if there is none."""
        if not (self.first_iteration and self.current == 0 and 0 < self.issued < self.sizes[0]):
            return False
        self.sizes[0] = self.issued
        for k in range(1, len(self.sizes)):
            reduced = max(1, math.floor(self.sizes[k - 1] / reduction_factor + 1e-9))
            self.sizes[k] = min(self.sizes[k], reduced)
        return True

    def complete(self, k: int) -> bool:
        if not self.promotes(k) and self.issued < self.sizes[k]:
            return False
        return len(self.values[k]) == len(self.members[k])


class DEVectors:
    """DEHB's vector form of configurations: one coordinate in [0, 1] per hyperparameter, as the
    reference's ``configspace_to_vector`` / ``vector_to_configspace``. A numeric hyperparameter
    uses its own encoded coordinate (:class:`~hpo_methods.space.SearchSpace`); a choice of k
    categories is category index / k, and any value v in [0, 1] decodes to category
    ``min(floor(k v), k - 1)`` (the reference's binning), so DE's arithmetic moves a choice
    between categories instead of producing one-hot vectors that are no category at all."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.sizes = [d.width if isinstance(d, Choice) else 0 for d in space.domains]

    @property
    def dim(self) -> int:
        return len(self.sizes)

    def encode(self, config: Config) -> np.ndarray:
        out = np.empty(self.dim)
        for i, (domain, k) in enumerate(zip(self.space.domains, self.sizes, strict=True)):
            value = config[domain.name]
            out[i] = domain.index(value) / k if k else domain.encode(value)[0]
        return out

    def encode_many(self, configs: list[Config]) -> np.ndarray:
        return np.array([self.encode(c) for c in configs]).reshape(len(configs), self.dim)

    def category(self, v: float, k: int) -> int:
        """The category index a coordinate value decodes to."""
        return min(max(math.floor(v * k), 0), k - 1)

    def decode(self, x: np.ndarray) -> Config:
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        config = {}
        for i, (domain, k) in enumerate(zip(self.space.domains, self.sizes, strict=True)):
            if k:
                config[domain.name] = domain.categories[self.category(x[i], k)]
            else:
                config[domain.name] = domain.decode(x[i : i + 1])
        return config

    def snap(self, x: np.ndarray) -> np.ndarray:
        """``x`` with each choice's coordinate moved to the vector of the category it decodes to
        (numeric coordinates unchanged): distances to candidates then respect the binning."""
        x = np.array(x, dtype=float, copy=True)
        for i, k in enumerate(self.sizes):
            if k:
                x[i] = self.category(x[i], k) / k
        return x


class DEPopulations(Searcher):
    """DEHB's configuration side: one DE population per budget (see the module docstring)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        sizes: list[int],
        mutation_factor: float = 0.5,
        crossover_prob: float = 0.5,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        if not (math.isfinite(mutation_factor) and mutation_factor > 0):
            raise ValueError(f"mutation_factor must be > 0 (got {mutation_factor})")
        if not 0 <= crossover_prob <= 1:
            raise ValueError(f"crossover_prob must be between 0 and 1 (got {crossover_prob})")
        self.mutation_factor = float(mutation_factor)
        self.crossover_prob = float(crossover_prob)
        self.vectors = DEVectors(space)
        self.candidates = CandidatePool(space) if space.is_finite else None
        # the candidates in vector form (finite spaces)
        self.candidate_vectors = (
            self.vectors.encode_many(self.candidates.configs) if self.candidates is not None
            else np.zeros((0, self.vectors.dim))
        )
        self._rows: dict[tuple, list[int]] = {}  # candidate key -> its rows in the pool
        for row, key in enumerate(self.candidates.keys if self.candidates is not None else []):
            self._rows.setdefault(key, []).append(row)
        # trained[j][i]: candidate i was trained at budget j (finite spaces; module docstring)
        n_candidates = len(self.candidates.configs) if self.candidates is not None else 0
        self.trained = np.zeros((len(sizes), n_candidates), dtype=bool)
        self.population = [self._initial_population(n) for n in sizes]
        self.fitness = [np.full(n, math.inf) for n in sizes]
        self._next_parent = [0] * len(sizes)
        self.slot_source: DEHBScheduler | None = None
        self._proposal: tuple[int, int, np.ndarray] | None = None
        self.jobs: dict[int, tuple[int, int, np.ndarray]] = {}  # trial -> (budget, parent, x)

    def _initial_population(self, n: int) -> np.ndarray:
        """n random members: uniform draws, distinct candidates on a finite space where possible."""
        if self.candidates is None:
            return self.vectors.encode_many([self.space.sample(self.rng) for _ in range(n)])
        count = len(self.candidates.configs)
        rows = self.rng.permutation(count)[: min(n, count)]
        extra = self.rng.integers(count, size=max(0, n - count))
        return self.candidate_vectors[np.concatenate([rows, extra])].copy()

    def next_parent(self, j: int) -> int:
        """The next member of P_j, round-robin."""
        parent = self._next_parent[j]
        self._next_parent[j] = (parent + 1) % len(self.fitness[j])
        return parent

    def propose(self) -> Config | None:
        if self.slot_source is None:
            raise RuntimeError("DEPopulations needs its DEHBScheduler (slot_source)")
        slot = self.slot_source.next_slot()
        j, parent = slot.budget, self.next_parent(slot.budget)
        if slot.rung == 0 and math.isinf(self.fitness[j][parent]):
            x = self.population[j][parent]
        else:
            pool_budget = j - 1 if slot.rung > 0 else j
            x = self._offspring(self.population[j][parent], self._pool(pool_budget, slot.size))
        config, x = self._to_config(x, j)
        self._proposal = (j, parent, x)
        return config

    def on_trial_start(self, trial_id: int, config: Config) -> None:
        super().on_trial_start(trial_id, config)
        if self._proposal is None:
            raise RuntimeError("a DEHB trial started without a proposal")
        self.jobs[trial_id], self._proposal = self._proposal, None
        self._mark_trained(config, self.jobs[trial_id][0])

    def promote(self, trial_id: int, j: int) -> None:
        """Trial ``trial_id`` resumes to budget j: it gets the next parent of P_j (and keeps its
        vector)."""
        config = self.trials[trial_id].config
        self.jobs[trial_id] = (j, self.next_parent(j), self.jobs[trial_id][2])
        self._mark_trained(config, j)

    def _mark_trained(self, config: Config, j: int) -> None:
        if self.candidates is not None:
            self.trained[j, self._rows.get(self.space.key(config), [])] = True

    def select(self, trial_id: int, value: float) -> None:
        """DE selection at the trial's budget (see the module docstring)."""
        j, parent, x = self.jobs[trial_id]
        if math.isfinite(value) and value <= self.fitness[j][parent]:
            self.population[j][parent] = x
            self.fitness[j][parent] = value

    # -- DE operators -----------------------------------------------------------------------

    def _pool(self, j: int, n: int) -> np.ndarray:
        fitness = self.fitness[j]
        evaluated = np.flatnonzero(np.isfinite(fitness))
        best = evaluated[np.argsort(fitness[evaluated], kind="stable")][:n]
        pool = self.population[j][best]
        if len(pool) < MIN_POOL:
            everyone = np.concatenate(self.population)
            picks = self.rng.choice(len(everyone), MIN_POOL - len(pool), replace=False)
            pool = np.concatenate([pool, everyone[picks]])
        return pool

    def _offspring(self, target: np.ndarray, pool: np.ndarray) -> np.ndarray:
        a, b, c = pool[self.rng.choice(len(pool), 3, replace=False)]
        mutant = a + self.mutation_factor * (b - c)
        outside = (mutant < 0) | (mutant > 1)
        mutant[outside] = self.rng.random(int(outside.sum()))
        take = self.rng.random(len(target)) < self.crossover_prob
        if not take.any():  # as the reference: one random coordinate only when none was taken
            take[self.rng.integers(len(target))] = True
        return np.where(take, mutant, target)

    def _to_config(self, x: np.ndarray, j: int) -> tuple[Config, np.ndarray]:
        """The configuration a job at budget j evaluates for vector x, and the vector it keeps:
        x itself (as the reference keeps it), or the chosen candidate's on a finite space."""
        if self.candidates is not None:
            snapped = self.vectors.snap(x)
            row = nearest_unused(self.candidate_vectors, self.trained[j], snapped)
            return dict(self.candidates.configs[row]), self.candidate_vectors[row].copy()
        return self.vectors.decode(x), np.array(x, dtype=float)


def nearest_unused(candidates: np.ndarray, used: np.ndarray, x: np.ndarray) -> int:
    """Row of ``candidates`` nearest to ``x`` (squared Euclidean; ties: the lowest row) among
    those with ``used`` False, or among all rows when every one is used."""
    distance = ((candidates - x) ** 2).sum(axis=1)
    if not used.all():
        distance = np.where(used, np.inf, distance)
    return int(np.argmin(distance))


class DEHBScheduler(Scheduler):
    """DEHB's bracket side: synchronous SH slots and decisions (see the module docstring)."""

    def __init__(
        self,
        max_epochs: int,
        seed: int,
        populations: DEPopulations,
        grace_period: int = 1,
        reduction_factor: float = 3,
        max_concurrent_brackets: int | None = None,
    ) -> None:
        super().__init__(max_epochs, seed)
        self.max_concurrent_brackets = check_concurrent_brackets(max_concurrent_brackets)
        self.eta = float(reduction_factor)
        self.table = hyperband_brackets(max_epochs, grace_period, reduction_factor)
        self.budgets = [r.epochs for r in self.table[0].rungs]
        self.populations = populations
        populations.slot_source = self
        self.active: list[_Bracket] = []
        self.opened = 0
        self.where: dict[int, tuple[_Bracket, int]] = {}  # trial -> (bracket, rung)
        self.failed: set[int] = set()
        self._to_stop: list[int] = []

    @staticmethod
    def population_sizes(
        max_epochs: int, grace_period: int = 1, reduction_factor: float = 3
    ) -> list[int]:
        """N_j: the most trials any Hyperband bracket runs at budget b_j."""
        table = hyperband_brackets(max_epochs, grace_period, reduction_factor)
        sizes = {r.epochs: 0 for r in table[0].rungs}
        for bracket in table:
            for rung in bracket.rungs:
                sizes[rung.epochs] = max(sizes[rung.epochs], rung.size)
        return list(sizes.values())

    # -- slots ------------------------------------------------------------------------------

    def _open_bracket(self) -> _Bracket:
        hb = self.table[self.opened % len(self.table)]
        offset = len(self.budgets) - 1 - hb.s
        bracket = _Bracket(
            index=self.opened,
            first_iteration=self.opened < len(self.table),
            budgets=[offset + k for k in range(len(hb.rungs))],
            sizes=[r.size for r in hb.rungs],
        )
        self.opened += 1
        self.active.append(bracket)
        return bracket

    def _bracket_with_slot(self, open_new: bool) -> _Bracket | None:
        for bracket in self.active:
            if bracket.has_new_slot():
                return bracket
        limit = self.max_concurrent_brackets
        if limit is not None and len(self.active) >= limit:
            return None
        return self._open_bracket() if open_new else None

    def can_start_trial(self) -> bool:
        if self._bracket_with_slot(open_new=False) is not None:
            return True
        limit = self.max_concurrent_brackets
        return limit is None or len(self.active) < limit

    def next_slot(self) -> Slot:
        """Where the next new trial goes (opens a bracket if needed)."""
        bracket = self._bracket_with_slot(open_new=True)
        if bracket is None:
            raise RuntimeError("a DEHB trial was proposed while can_start_trial() was False")
        k = bracket.current
        return Slot(bracket.index, k, bracket.budgets[k], bracket.sizes[k])

    def on_trial_start(self, trial_id: int) -> None:
        bracket = self._bracket_with_slot(open_new=False)
        if bracket is None:
            raise RuntimeError("a DEHB trial started without a slot")
        bracket.issued += 1
        bracket.members[bracket.current].append(trial_id)
        self.where[trial_id] = (bracket, bracket.current)

    def trial_to_resume(self) -> int | None:
        for bracket in self.active:
            if bracket.queue:
                trial_id = bracket.queue.popleft()
                self.populations.promote(trial_id, bracket.budgets[bracket.current])
                return trial_id
        return None

    def trials_to_stop(self) -> list[int]:
        stop = [t for t in self._to_stop if t not in self.failed]
        self._to_stop = []
        return stop

    def on_no_new_trials(self) -> bool:
        """Close a first-iteration bracket still filling its bottom rung (module docstring)."""
        closed = False
        for bracket in list(self.active):
            if bracket.close(self.eta):
                closed = True
                self._advance(bracket)
        return closed and any(b.queue for b in self.active)

    # -- reports ----------------------------------------------------------------------------

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        bracket, k = self.where[trial_id]
        budget = self.budgets[bracket.budgets[k]]
        if epoch < budget:
            return Decision.CONTINUE
        if epoch > budget:
            raise RuntimeError(f"trial {trial_id} reported epoch {epoch} past its budget {budget}")
        bracket.values[k][trial_id] = value
        self.populations.select(trial_id, value)
        self._advance(bracket)
        if budget >= self.max_epochs:
            return Decision.CONTINUE
        return Decision.PAUSE if bracket.first_iteration else Decision.STOP

    def on_end(self, trial_id: int, status: TrialStatus) -> None:
        if status != TrialStatus.FAILED:
            return
        self.failed.add(trial_id)
        bracket, k = self.where[trial_id]
        if trial_id in bracket.queue:
            bracket.queue.remove(trial_id)
        bracket.values[k].setdefault(trial_id, math.inf)
        self._advance(bracket)

    def _advance(self, bracket: _Bracket) -> None:
        while not bracket.finished and bracket.complete(bracket.current):
            k = bracket.current
            if k + 1 == len(bracket.sizes):
                bracket.finished = True
                break
            bracket.current, bracket.issued = k + 1, 0
            if bracket.promotes(k + 1):
                rung = bracket.values[k]
                alive = [t for t in rung if math.isfinite(rung[t]) and t not in self.failed]
                ranked = sorted(alive, key=lambda t: (rung[t], t))
                promoted = ranked[: bracket.sizes[k + 1]]
                self._to_stop.extend(ranked[len(promoted) :])  # paused, never resumed
                if not promoted:
                    bracket.finished = True
                    break
                bracket.members[k + 1] = promoted
                bracket.queue.extend(promoted)
                for t in promoted:
                    self.where[t] = (bracket, k + 1)
        if bracket.finished and bracket in self.active:
            self.active.remove(bracket)
