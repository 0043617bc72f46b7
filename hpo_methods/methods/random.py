"""Random search (Bergstra and Bengio, JMLR 2012), every trial trained to the maximum epochs."""

from __future__ import annotations

from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace


def make(space: SearchSpace, max_epochs: int, seed: int) -> Method:
    """Random search with FIFO scheduling."""
    searcher = RandomSearcher(space, seed, max_epochs)
    return Method(searcher, FIFOScheduler(max_epochs, seed), "random")
