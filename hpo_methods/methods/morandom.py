"""Multi-objective random search: random search whose trials serve every objective.

Bergstra and Bengio: "Random Search for Hyper-Parameter Optimization", JMLR 2012. Independent
uniform draws, every trial trained to the maximum epochs; nothing is ranked, so the method is the
same for one objective or several. It is the baseline of the multi-objective methods (as in
Schmucker et al. 2021, who compare MO-ASHA against it): the attained Pareto front is formed in
the analysis from every report.
"""

from __future__ import annotations

from hpo_methods.problem import Problem
from hpo_methods.protocol import Method
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.random_search import RandomSearcher

MULTI_OBJECTIVE = True


def make(problem: Problem, seed: int) -> Method:
    """Random search with FIFO scheduling, for any number of objectives."""
    space, max_epochs = problem.space, problem.max_epochs
    method = Method(
        RandomSearcher(space, seed, max_epochs), FIFOScheduler(max_epochs, seed), problem,
        "morandom",
    )  # fmt: skip
    method.multi_objective = True
    return method
