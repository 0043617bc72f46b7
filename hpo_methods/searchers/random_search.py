"""Random search (Bergstra and Bengio, 2012): independent uniform draws from the search space."""

from __future__ import annotations

from hpo_methods.protocol import Searcher
from hpo_methods.space import Config

MAX_DRAWS_FOR_NEW = 1000


class RandomSearcher(Searcher):
    """Draws configurations at random; never repeats one while a finite space has fresh ones.

    On a finite space it walks a seeded random permutation of the candidates (uniform sampling
    without replacement) and returns ``None`` once every candidate has been tried.
    """

    _order: list[int] | None = None

    def propose(self) -> Config | None:
        candidates = self.space.candidates
        if candidates is not None:
            if self._order is None:
                self._order = [int(i) for i in self.rng.permutation(len(candidates))[::-1]]
            keys = self.space.candidate_keys
            while self._order:
                index = self._order.pop()
                if keys[index] not in self.seen:
                    return dict(candidates[index])
            return None
        config = self.space.sample(self.rng)
        for _ in range(MAX_DRAWS_FOR_NEW):
            if self.space.key(config) not in self.seen:
                break
            config = self.space.sample(self.rng)
        return config
