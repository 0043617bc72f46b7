"""Independent random streams for searcher, scheduler and model, and common random numbers
(the same first configurations for a seed) across methods."""

import numpy as np
import pytest
from scipy.stats import kendalltau

from hpo_methods.methods import hypertune
from hpo_methods.problem import Problem
from hpo_methods.protocol import Method, Stream, random_stream
from hpo_methods.registry import make_method
from hpo_methods.schedulers.async_hyperband import AsyncHyperbandScheduler
from hpo_methods.searchers.gp_bo import GPBOSearcher
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace
from tests.tables import NOISY_SPACE_SPEC

SPACE = SearchSpace.from_spec(NOISY_SPACE_SPEC)  # the chapter's five hyperparameters
PROBLEM = Problem(SPACE, 20)


def test_streams_are_the_children_of_one_seed_sequence():
    children = np.random.SeedSequence(7).spawn(len(Stream))
    for stream in Stream:
        assert random_stream(7, stream).generate_state(4).tolist() == (
            children[stream].generate_state(4).tolist()
        )
    states = {tuple(random_stream(7, s).generate_state(4)) for s in Stream}
    assert len(states) == len(Stream)


@pytest.mark.parametrize("seed", range(20))
def test_searcher_scheduler_and_model_draw_from_different_streams(seed):
    searcher = RandomSearcher(SPACE, seed, 20).rng.random(4)
    scheduler = AsyncHyperbandScheduler(20, seed).rng.random(4)
    model = GPBOSearcher(SPACE, seed, 20).model._rng.random(4)
    assert len({tuple(searcher), tuple(scheduler), tuple(model)}) == 3


def test_hypertune_level_models_have_streams_of_their_own():
    searcher = hypertune.make(PROBLEM, 3).searcher
    draws = [tuple(m._rng.random(3)) for m in searcher.models.values()]
    draws.append(tuple(searcher.rng.random(3)))
    assert len(set(draws)) == len(searcher.models) + 1


def test_first_bracket_is_not_a_function_of_the_first_learning_rate():
    # Async Hyperband draws each trial's bracket; with one stream for searcher and scheduler the
    # first bracket was a monotone function of the first trial's learning rate (tau = -0.80).
    rates, brackets = [], []
    for seed in range(300):
        method = make_method("async_hyperband", PROBLEM, seed)
        suggestion = method.suggest()
        rates.append(suggestion.config["learning_rate"])
        brackets.append(method.scheduler.bracket_of[suggestion.trial_id])
    tau = kendalltau(rates, brackets).statistic
    assert abs(tau) < 0.12  # s.e. of tau under independence: about 0.04 at n = 300
    assert set(brackets) == {0, 1, 2, 3}


class GreedySearcher(RandomSearcher):
    """Random search that also draws three numbers for itself before every proposal."""

    def propose(self):
        self.rng.random(3)
        return super().propose()


def test_scheduler_draws_do_not_depend_on_how_often_the_searcher_draws():
    brackets, configs = [], []
    for searcher_class in (RandomSearcher, GreedySearcher):
        method = Method(searcher_class(SPACE, 5, 20), AsyncHyperbandScheduler(20, 5), PROBLEM)
        ids = [method.suggest().trial_id for _ in range(40)]
        brackets.append([method.scheduler.bracket_of[t] for t in ids])
        configs.append([method.searcher.trials[t].config for t in ids])
    assert configs[0] != configs[1]  # the searchers drew differently ...
    assert brackets[0] == brackets[1]  # ... and the scheduler drew the same brackets


# -- common random numbers across methods (hpo_methods.protocol, module docstring) -------------

CRN_METHODS = [
    "random", "tpe", "bo", "rea", "bohb", "asha", "sh", "hyperband", "async_hyperband",
    "median_stopping", "mobster", "dehb", "hypertune",
]  # fmt: skip


def _first_configs(name: str, seed: int, n: int) -> list[dict]:
    method = make_method(name, PROBLEM, seed)
    return [method.suggest().config for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_methods_start_from_the_same_random_configurations_for_a_seed(seed):
    # bo's initial design is max(5, encoded dimension + 1) = 8 configurations on this space; the
    # others start with at least as many random ones.
    reference = _first_configs("random", seed, 8)
    for name in CRN_METHODS[1:]:
        assert _first_configs(name, seed, 8) == reference, name
    assert _first_configs("random", seed + 10, 8) != reference  # other seeds, other designs
