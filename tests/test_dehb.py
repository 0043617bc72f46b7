"""DEHB on finite spaces: no new trial repeats a configuration at its budget while one is unused."""

from collections import defaultdict

import numpy as np
import pytest

from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.tabular import TabularObjective
from hpo_methods.methods import dehb
from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision, Method
from hpo_methods.registry import make_method
from hpo_methods.schedulers.dehb import nearest_unused
from hpo_methods.space import SearchSpace
from tests.driving import resumed_trials, start_trials
from tests.tables import synthetic_table


def _line(values: list[float]) -> SearchSpace:
    """A 1-D finite space: x in [0, 1] (encoded as itself), candidates x = each value."""
    spec = {"x": {"type": "uniform", "low": 0.0, "high": 1.0}}
    return SearchSpace.from_spec(spec, [{"x": v} for v in values])


def _xs(method: Method, trial_ids) -> list[float]:
    return [method.searcher.trials[t].config["x"] for t in trial_ids]


def test_nearest_unused():
    candidates = np.array([[0.0], [0.25], [0.5], [0.75], [1.0]])
    none = np.zeros(5, dtype=bool)
    assert nearest_unused(candidates, none, np.array([0.55])) == 2
    used = np.array([False, False, True, False, False])
    assert nearest_unused(candidates, used, np.array([0.55])) == 3  # 0.04 < 0.09
    assert nearest_unused(candidates, used, np.array([0.5])) == 1  # tie 0.25 / 0.75: lower row
    assert nearest_unused(candidates, ~none, np.array([0.55])) == 2  # all used: nearest of all


def test_initial_population_is_distinct_candidates_then_repeats_once_all_are_used():
    m = dehb.make(Problem(_line([0.0, 0.25, 0.5, 0.75, 1.0]), 9), 0, max_concurrent_brackets=1)
    p0 = m.searcher.population[0][:, 0].tolist()
    assert sorted(p0[:5]) == [0.0, 0.25, 0.5, 0.75, 1.0]  # without replacement first
    # Bracket s=2: 9 trials at 1 epoch evaluate P_0's members; the first 5 are every candidate,
    # then all are trained at that budget and the nearest of all (the member itself) is taken.
    assert start_trials(m, 9) == list(range(9))
    assert _xs(m, range(9)) == p0


def test_new_trials_take_the_nearest_candidate_not_trained_at_their_budget():
    m = dehb.make(Problem(_line([i / 10 for i in range(10)]), 9), 0, max_concurrent_brackets=1)
    pops = m.searcher
    pops.population[0] = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4], [0.3], [0.2], [0.1]])
    pops.population[1] = np.array([[0.0], [0.0], [0.0], [0.3], [0.2]])
    # Bracket 0 (s=2): 9 trials at 1 epoch; value = x, so x = 0.1, 0.2, 0.3 go on to 3 epochs.
    start_trials(m, 9)
    assert _xs(m, range(9)) == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    for t, x in enumerate(_xs(m, range(9))):
        assert m.report(t, 1, {"val_error": x}) == Decision.PAUSE
    assert resumed_trials(m) == [8, 7, 6]  # promoted to 3 epochs: 0.1, 0.2, 0.3 are trained there
    for t in (8, 7, 6):
        for epoch in (2, 3):
            m.report(t, epoch, {"val_error": _xs(m, [t])[0]})
    assert resumed_trials(m) == [8]
    for epoch in range(4, 10):
        m.report(8, epoch, {"val_error": 0.1})
    m.complete(8)
    # Bracket 1 (s=1): 5 new trials at 3 epochs. Parents 3 and 4 of P_1 (unevaluated) are
    # x = 0.3 and 0.2, both trained at 3 epochs: the nearest unused are 0.4 (0.1 away; 0.0 is
    # 0.3 away), then 0.0 (0.2 away; 0.4 is taken now, 0.5 is 0.3 away). Parents 0..2 are
    # evaluated: DE offspring, here fixed at 0.33, whose nearest unused are 0.5, 0.6, 0.7.
    pops._offspring = lambda target, pool: np.array([0.33])
    assert start_trials(m, 5) == [9, 10, 11, 12, 13]
    assert _xs(m, range(9, 14)) == [0.4, 0.0, 0.5, 0.6, 0.7]
    # What selection stores is the candidate evaluated, not the vector it came from.
    for t in range(9, 14):
        for epoch in (1, 2, 3):
            m.report(t, epoch, {"val_error": 0.05})
    np.testing.assert_allclose(pops.population[1][:, 0], [0.5, 0.6, 0.7, 0.4, 0.0])


@pytest.fixture(scope="module")
def objective(tmp_path_factory) -> TabularObjective:
    return TabularObjective(synthetic_table(tmp_path_factory.mktemp("t") / "t", 12, 9))


def test_a_run_never_repeats_a_configuration_at_a_budget_before_all_are_used(objective):
    method = make_method("dehb", objective.problem(), 3)
    pops, key = method.searcher, objective.space.key
    events: list[tuple[str, int, tuple]] = []  # (new | promoted, budget index, config key)
    start, promote = pops.on_trial_start, pops.promote

    def on_trial_start(trial_id, config):
        start(trial_id, config)
        events.append(("new", pops.jobs[trial_id][0], key(config)))

    def on_promote(trial_id, j):
        promote(trial_id, j)
        events.append(("promoted", j, key(pops.trials[trial_id].config)))

    pops.on_trial_start, pops.promote = on_trial_start, on_promote
    SimulatedBackend(method, objective, 4, Budget(trials=80), 3).run()
    everything = set(objective.space.candidate_keys)
    trained: dict[int, set[tuple]] = defaultdict(set)
    repeats = 0
    for kind, j, k in events:
        if kind == "new" and k in trained[j]:
            assert trained[j] == everything, f"repeat at budget {j} with unused candidates left"
            repeats += 1
        trained[j].add(k)
    assert sum(kind == "new" for kind, _, _ in events) == 80
    assert repeats > 0  # 80 trials over 12 candidates and 3 budgets: the fallback ran too


def test_finite_runs_are_deterministic(objective):
    def run(seed):
        method = make_method("dehb", objective.problem(), seed)
        return SimulatedBackend(method, objective, 4, Budget(trials=40), seed).run().reports

    assert run(1) == run(1)
    assert run(1) != run(2)
