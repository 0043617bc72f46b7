"""Random search (Bergstra and Bengio, JMLR 2012), every trial trained to the maximum epochs."""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.random_search import RandomSearcher


def make(problem: Problem, seed: int) -> Method:
    """Random search with FIFO scheduling."""
    space, max_epochs = problem.space, problem.max_epochs
    searcher = RandomSearcher(space, seed, max_epochs)
    return Method(searcher, FIFOScheduler(max_epochs, seed), problem, "random")
