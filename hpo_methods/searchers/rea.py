"""Regularised (aging) evolution (full fidelity).

Real, Aggarwal, Huang, Le: "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019.

The population is a queue of the last ``population_size`` finished trials, in the order they
finished (a failed trial counts with value +inf). While fewer than ``population_size`` trials have
been proposed, or none has finished, proposals are random. Afterwards each proposal samples
``sample_size`` members of the population uniformly without replacement (a tournament), takes the
one with the smallest value (ties: the older one) as the parent, and mutates one hyperparameter,
chosen uniformly: a choice switches to another category, a numeric hyperparameter moves by a
Gaussian step of sd ``mutation_sd`` in its encoded coordinate (reflected into [0, 1]; rounded for
integers, retried until the value changes). A finishing trial joins the population and, when the
population is full, the oldest member leaves, however good (the "aging" that regularises).

On a finite space the mutant is replaced by the nearest (Euclidean, encoded space) candidate not
tried yet. A mutant that repeats a tried configuration is redrawn (up to 100 times, then random).

Deviations from the references: the paper mutates architectures, so numeric hyperparameters have
no reference mutation; Syne Tune's ``RegularizedEvolution`` (population 100, sample 10 by default)
redraws a numeric hyperparameter uniformly over its whole domain and samples the tournament with
replacement, where this searcher takes a local Gaussian step and samples without replacement; the
defaults here (population 10, sample 5) suit runs of a few hundred trials.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from hpo_methods.protocol import TrialStatus
from hpo_methods.searchers.common import BaseSearcher, check_fraction, check_int
from hpo_methods.space import Choice, Config, SearchSpace

MAX_MUTATION_TRIES = 100
MAX_STEP_TRIES = 20


class REASearcher(BaseSearcher):
    """Regularised evolution (see the module docstring); ``parents`` logs each mutant's parent."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_epochs: int,
        population_size: int = 10,
        sample_size: int = 5,
        mutation_sd: float = 0.2,
    ) -> None:
        super().__init__(space, seed, max_epochs)
        self.population_size = check_int("population_size", population_size)
        self.sample_size = check_int("sample_size", sample_size)
        if self.sample_size > self.population_size:
            raise ValueError(
                f"sample_size ({sample_size}) must not exceed population_size ({population_size})"
            )
        self.mutation_sd = check_fraction("mutation_sd", mutation_sd, 1e-6, 1.0)
        self.population: deque[tuple[int, float]] = deque()  # (trial_id, value), oldest first
        self.parents: list[int | None] = []  # parent trial id of each proposal (None: random)

    def on_status(self, trial_id: int, status: TrialStatus) -> None:
        super().on_status(trial_id, status)
        if status not in (TrialStatus.COMPLETED, TrialStatus.FAILED):
            return
        trial = self.trials[trial_id]
        value = trial.values.get(trial.last_epoch, math.inf) if trial.values else math.inf
        if status == TrialStatus.FAILED or not math.isfinite(value):
            value = math.inf
        self.population.append((trial_id, value))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def propose(self) -> Config | None:
        fresh = self.pool.fresh(self.seen) if self.pool is not None else None
        if fresh is not None and len(fresh) == 0:
            return None
        if len(self.trials) >= self.population_size and self.population:
            parent = self.tournament()
            for _ in range(MAX_MUTATION_TRIES):
                child = self._project(self.mutate(self.trials[parent].config), fresh)
                if self.space.key(child) not in self.seen:
                    self.sources.append("mutation")
                    self.parents.append(parent)
                    return child
        self.parents.append(None)
        return self.random_proposal()

    def tournament(self) -> int:
        """The trial id of the best of ``sample_size`` members drawn without replacement."""
        size = min(self.sample_size, len(self.population))
        picked = self.rng.choice(len(self.population), size=size, replace=False)
        members = [self.population[i] for i in sorted(picked)]  # oldest first: ties go to it
        return min(members, key=lambda m: m[1])[0]

    def mutate(self, config: Config) -> Config:
        """A copy of ``config`` with one hyperparameter changed (see the module docstring)."""
        domain = self.space.domains[int(self.rng.integers(len(self.space.domains)))]
        child = dict(config)
        if isinstance(domain, Choice):
            if len(domain.categories) > 1:
                others = [c for c in domain.categories if c != config[domain.name]]
                child[domain.name] = others[int(self.rng.integers(len(others)))]
            return child
        u = float(domain.encode(config[domain.name])[0])
        for _ in range(MAX_STEP_TRIES):
            step = u + self.rng.normal(0.0, self.mutation_sd)
            step = abs(step) % 2.0
            step = 2.0 - step if step > 1.0 else step  # reflect into [0, 1]
            value = domain.decode(np.array([step]))
            if value != config[domain.name]:
                child[domain.name] = value
                break
        return child

    def _project(self, child: Config, fresh: np.ndarray | None) -> Config:
        """On a finite space, the fresh candidate nearest to ``child``; else ``child``."""
        if self.pool is None or fresh is None:
            return child
        distance = np.sum((self.pool.encoded[fresh] - self.space.encode(child)) ** 2, axis=1)
        return dict(self.pool.configs[int(fresh[int(np.argmin(distance))])])
