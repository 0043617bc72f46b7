"""Random search (Bergstra and Bengio, 2012): independent uniform draws from the search space."""

from __future__ import annotations

from hpo_methods.protocol import Searcher
from hpo_methods.space import Config

MAX_DRAWS_FOR_NEW = 1000


class RandomSearcher(Searcher):
    """Draws configurations at random; never repeats one while a finite space has fresh ones."""

    def propose(self) -> Config | None:
        seen = {self.space.key(t.config) for t in self.trials.values()}
        if self.space.candidates is not None:
            fresh = [c for c in self.space.candidates if self.space.key(c) not in seen]
            if not fresh:
                return None
            return dict(fresh[int(self.rng.integers(len(fresh)))])
        config = self.space.sample(self.rng)
        for _ in range(MAX_DRAWS_FOR_NEW):
            if self.space.key(config) not in seen:
                break
            config = self.space.sample(self.rng)
        return config
