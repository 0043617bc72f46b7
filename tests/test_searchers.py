"""The model-based searchers: BO, TPE, REA, BOHB's KDE searcher, MOBSTER, and their methods."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.synthetic import SyntheticCurvesObjective, SyntheticObjective
from benchmarks.tabular import TabularObjective
from hpo_methods.protocol import Searcher, TrialStatus
from hpo_methods.registry import make_method
from hpo_methods.searchers.acquisition import log_expected_improvement
from hpo_methods.searchers.common import snap, uniform_points
from hpo_methods.searchers.gp import (
    Fantasies,
    GPModel,
    Matern52,
    _Posterior,
    make_kernel,
    refit_due,
    transform_targets,
)
from hpo_methods.searchers.gp_bo import GPBOSearcher, bounded_history
from hpo_methods.searchers.kde_bohb import KDEBOHBSearcher
from hpo_methods.searchers.mobster import MobsterSearcher
from hpo_methods.searchers.rea import REASearcher
from hpo_methods.searchers.tpe import TPESearcher, good_size
from hpo_methods.space import SearchSpace
from tests.tables import SPACE_SPEC, synthetic_table

MODEL_METHODS = ("bo", "tpe", "rea", "bohb", "mobster")
UNIT_SQUARE = {
    "x": {"type": "uniform", "low": 0.0, "high": 1.0},
    "y": {"type": "uniform", "low": 0.0, "high": 1.0},
}


def finish(searcher: Searcher, trial_id: int, config: dict, value: float, epoch: int = 1) -> None:
    """Feed one started-and-completed full-fidelity trial to a searcher."""
    searcher.on_trial_start(trial_id, config)
    searcher.on_report(trial_id, epoch, value)
    searcher.on_status(trial_id, TrialStatus.COMPLETED)


def distance_to_corner(config: dict) -> float:
    return math.hypot(config["x"] - 0.2, config["y"] - 0.8)


@pytest.fixture(scope="module")
def small_table(tmp_path_factory: pytest.TempPathFactory) -> TabularObjective:
    path: Path = tmp_path_factory.mktemp("tables") / "t25"
    return TabularObjective(synthetic_table(path, n_configs=25, max_epochs=9))


def run(method: str, objective, seed: int, budget: Budget, workers: int = 4, **settings):
    tuner = make_method(method, objective.problem(), seed, **settings)
    return SimulatedBackend(tuner, objective, workers, budget, seed).run(), tuner


# -- BO -----------------------------------------------------------------------------------------


def test_bo_gives_four_pending_trials_four_distinct_configurations():
    objective = SyntheticObjective("branin")
    searcher = GPBOSearcher(objective.space, seed=0, max_epochs=1)
    rng = np.random.default_rng(1)
    for t in range(10):
        config = objective.space.sample(rng)
        finish(searcher, t, config, objective.evaluate(config))
    proposals = []
    for t in range(10, 14):  # each proposal starts and stays pending
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        proposals.append(objective.space.encode(config))
    assert searcher.sources[-4:] == ["model"] * 4
    points = np.array(proposals)
    gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert gaps.min() > 0.05  # without the fantasies they are 1e-5 apart: different keys only


def test_bo_starts_with_the_random_design_then_uses_the_model():
    objective = SyntheticObjective("hartmann6")
    _, tuner = run("bo", objective, 0, Budget(trials=12), workers=1)
    assert tuner.searcher.n_initial == 7  # max(5, 6 + 1)
    assert tuner.searcher.sources == ["random"] * 7 + ["model"] * 5
    assert tuner.searcher.model.n_refits >= 1


def test_bo_rebuilds_after_every_fourth_percent_and_reuses_the_model_between():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = GPBOSearcher(space, seed=0, max_epochs=1, max_history=60)
    rng = np.random.default_rng(0)
    for t in range(100):
        config = space.sample(rng)
        finish(searcher, t, config, distance_to_corner(config))
    searcher.on_trial_start(100, searcher.propose())
    assert searcher.n_rebuilds == 1
    for t in range(101, 104):  # 3 < 100 // 25 new observations: the cached model is reused
        finish(searcher, t - 1, searcher.trials[t - 1].config, 0.5)
        searcher.on_trial_start(t, searcher.propose())
    assert searcher.n_rebuilds == 1
    assert searcher.sources[-4:] == ["model"] * 4
    finish(searcher, 103, searcher.trials[103].config, 0.5)  # the 4th: rebuild
    searcher.propose()
    assert searcher.n_rebuilds == 2


def test_fantasy_variances_equal_refitting_on_the_fantasies():
    rng = np.random.default_rng(0)
    x = rng.random((30, 3))
    model = GPModel(3, seed=0)
    model.fit(x, np.sin(3 * x).sum(axis=1), optimize=True)
    query, pending = rng.random((50, 3)), rng.random((7, 3))
    q_parts, p_parts = model.parts(query), model.parts(pending)
    posterior = model._posterior
    refit = _Posterior.condition(
        posterior.kernel, np.vstack([x, pending]), np.concatenate([posterior.z, p_parts.mean])
    ).parts(query)
    assert np.allclose(model.fantasy_variance(q_parts, p_parts), refit.var, atol=1e-10)
    fantasies = Fantasies(model, q_parts)  # added in batches: the same result
    for rows in (slice(0, 3), slice(3, 4), slice(4, 7)):
        fantasies.add(model.parts(pending[rows]))
    assert np.allclose(fantasies.variance(), refit.var, atol=1e-10)
    assert np.allclose(refit.mean, q_parts.mean, atol=1e-10)  # the believer keeps the mean
    assert fantasies.min_mean == pytest.approx(p_parts.mean.min())


def test_numpy_kernel_equals_scikit_learns():
    kernel = make_kernel(3).clone_with_theta(np.log([2.0, 0.3, 0.7, 1.5, 0.01]))
    a, b = np.random.default_rng(0).random((5, 3)), np.random.default_rng(1).random((4, 3))
    fast = Matern52(kernel)
    assert np.allclose(fast(a), kernel(a)) and np.allclose(fast(a, b), kernel(a, b))
    assert np.allclose(fast.diag(a), kernel.diag(a))


def test_bounded_history_keeps_the_best_half_and_the_most_recent():
    observations = [(i, {}, v) for i, v in enumerate([5.0, 0.1, 4.0, 0.2, 3.0, 2.0, 9.0, 8.0])]
    kept = bounded_history(observations, 4)
    # best two: trials 1 (0.1) and 3 (0.2); most recent two: trials 7 and 6
    assert [t for t, _, _ in kept] == [1, 3, 6, 7]
    assert bounded_history(observations, 8) == observations


def test_refit_schedule_every_k_then_every_fifth():
    assert refit_due(3, None, 5)
    assert not refit_due(9, 5, 5) and refit_due(10, 5, 5)
    assert not refit_due(110, 100, 5) and refit_due(120, 100, 5)  # 20% of 100


def test_log_expected_improvement_matches_the_formula_and_stays_ordered_in_the_tail():
    from scipy.stats import norm

    mean = np.array([-1.0, 0.0, 0.5, 2.0, 6.0])
    std = np.array([1.0, 0.5, 2.0, 1.0, 0.5])
    z = (0.0 - mean) / std
    direct = np.log(std * (z * norm.cdf(z) + norm.pdf(z)))
    assert np.allclose(log_expected_improvement(mean, std, 0.0), direct, rtol=1e-10)
    far = log_expected_improvement(np.array([30.0, 40.0, 1e4]), np.ones(3), 0.0)
    assert np.all(np.isfinite(far)) and far[0] > far[1] > far[2]


def test_transform_targets():
    y = np.array([0.2, 0.5, np.inf])
    assert np.allclose(transform_targets(y, "none"), [0.2, 0.5, 0.5])
    assert np.allclose(transform_targets(y, "logit"), np.log([0.25, 1.0, 1.0]))
    assert np.allclose(transform_targets(y, "log"), np.log([0.003, 0.303, 0.303]))
    with pytest.raises(ValueError, match="target_transform"):
        transform_targets(y, "sqrt")


def test_snap_gives_the_encoding_of_the_decoded_configuration():
    space = SearchSpace.from_spec(SPACE_SPEC)
    raw = np.random.default_rng(0).random((50, space.dim))
    snapped = snap(space, raw)
    for row_raw, row in zip(raw, snapped, strict=True):
        assert np.allclose(row, space.encode(space.decode(row_raw)))
    for row in uniform_points(space, np.random.default_rng(1), 20):
        space.validate(space.decode(row))


# -- TPE ----------------------------------------------------------------------------------------


def test_tpe_good_group_size_follows_optuna_and_hyperopt_by_hand():
    # Optuna's default_gamma: min(ceil(0.1 n), 25)
    assert [good_size(n, 0.1) for n in (2, 10, 11, 30, 100, 250, 251, 1000)] == [
        1, 1, 2, 3, 10, 25, 25, 25
    ]
    # hyperopt (Optuna's hyperopt_default_gamma): min(ceil(0.25 sqrt(n)), 25)
    sqrt = [good_size(n, 0.25, "sqrt") for n in (2, 16, 17, 100, 10_000, 10_001)]
    assert sqrt == [1, 1, 2, 3, 25, 25]  # ceil(0.354), ceil(1), ceil(1.03), ceil(2.5), 25, cap
    # the old rule, ceil(0.25 n) uncapped
    assert [good_size(n, 0.25, "linear", None) for n in (4, 10, 200)] == [1, 3, 50]
    assert good_size(5, 0.99, "linear", None) == 4  # at most n - 1: the bad group is never empty
    with pytest.raises(ValueError, match="gamma_rule"):
        good_size(10, 0.1, "log")


def test_tpe_splits_finished_trials_and_counts_running_ones_as_bad():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = TPESearcher(space, seed=0, max_epochs=1, n_initial=5)
    rng = np.random.default_rng(0)
    for t in range(12):
        config = space.sample(rng)
        finish(searcher, t, config, distance_to_corner(config))
    searcher.on_trial_start(12, space.sample(rng))
    searcher.on_trial_start(13, space.sample(rng))
    searcher.on_trial_start(14, space.sample(rng))
    searcher.on_status(14, TrialStatus.PAUSED)  # not running: no lie for it
    searcher.propose()
    assert searcher.last_split == (2, 10 + 2)  # ceil(0.1 * 12) good; 10 bad + 2 running
    hyperopt = TPESearcher(space, seed=0, max_epochs=1, n_initial=5, gamma=0.25, gamma_rule="sqrt")
    for t in range(12):
        finish(hyperopt, t, searcher.trials[t].config, searcher.trials[t].values[1])
    hyperopt.propose()
    assert hyperopt.last_split == (1, 11)  # ceil(0.25 sqrt(12)) = ceil(0.87)


def test_tpe_waits_for_n_initial_finished_trials():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = TPESearcher(space, seed=0, max_epochs=1, n_initial=4)
    for t in range(6):  # six trials start, only three finish: still random (as in Optuna)
        searcher.on_trial_start(t, searcher.propose())
    for t in range(3):
        searcher.on_report(t, 1, float(t))
        searcher.on_status(t, TrialStatus.COMPLETED)
    searcher.on_trial_start(6, searcher.propose())
    finish(searcher, 7, searcher.propose(), 0.5)  # (proposed with three finished)
    searcher.propose()  # four finished
    assert searcher.sources == ["random"] * 8 + ["model"]


def test_tpe_and_bohb_model_proposals_move_towards_the_good_region():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(40)]
    tpe = TPESearcher(space, seed=0, max_epochs=1, n_initial=5, constant_liar=False)
    bohb = KDEBOHBSearcher(space, seed=0, max_epochs=1, random_fraction=0.0)
    for t, config in enumerate(configs):
        finish(tpe, t, config, distance_to_corner(config))
        finish(bohb, t, config, distance_to_corner(config))
    random_mean = np.mean([distance_to_corner(c) for c in configs])
    for searcher in (tpe, bohb):
        proposals = [searcher.propose() for _ in range(10)]
        assert len({space.key(c) for c in proposals}) == 10
        assert searcher.sources[-10:] == ["model"] * 10
        assert np.mean([distance_to_corner(c) for c in proposals]) < 0.5 * random_mean


# -- REA ----------------------------------------------------------------------------------------


def test_rea_parent_is_the_best_member_and_the_oldest_member_ages_out():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = REASearcher(space, seed=0, max_epochs=1, population_size=3, sample_size=3)
    configs = []
    for t, value in enumerate([0.1, 0.5, 0.3]):
        config = searcher.propose()
        configs.append(config)
        finish(searcher, t, config, value)
    assert searcher.sources == ["random"] * 3
    assert list(searcher.population) == [(0, 0.1), (1, 0.5), (2, 0.3)]

    child = searcher.propose()  # tournament over the whole population: trial 0 (0.1) wins
    assert searcher.parents[-1] == 0
    assert sum(child[k] != configs[0][k] for k in ("x", "y")) == 1  # one hyperparameter mutated
    finish(searcher, 3, child, 0.9)
    assert list(searcher.population) == [(1, 0.5), (2, 0.3), (3, 0.9)]  # trial 0 aged out

    searcher.propose()
    assert searcher.parents[-1] == 2  # the best of the survivors, although 0 was better


def test_rea_tournament_of_one_picks_members_uniformly_and_failures_count_as_worst():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = REASearcher(space, seed=3, max_epochs=1, population_size=3, sample_size=1)
    for t, value in enumerate([0.1, 0.5, 0.3]):
        finish(searcher, t, space.sample(searcher.rng), value)
    counts = Counter(searcher.tournament() for _ in range(300))
    assert set(counts) == {0, 1, 2} and min(counts.values()) > 70
    searcher.on_trial_start(3, space.sample(searcher.rng))
    searcher.on_status(3, TrialStatus.FAILED)
    assert list(searcher.population)[-1] == (3, math.inf)


# -- BOHB ---------------------------------------------------------------------------------------


def test_bohb_good_and_bad_sets_are_disjoint_as_in_hpbandster():
    searcher = KDEBOHBSearcher(SearchSpace.from_spec(UNIT_SQUARE), seed=0, max_epochs=9)
    assert searcher.min_points == 3  # two hyperparameters + 1
    # HpBandSter: n_good = max(3, 15 n // 100), n_bad = max(3, 85 n // 100); bad = the next n_bad
    assert searcher.split_sizes(5) == (3, 4)  # but only 2 rows are left for the bad set
    assert searcher.split_sizes(20) == (3, 17)
    assert searcher.split_sizes(40) == (6, 34)
    assert searcher.split_sizes(99) == (14, 84)  # the worst observation is in neither set
    # a model needs more rows than hyperparameters (2) in both sets: n - 3 >= 3
    assert [searcher.has_model(n) for n in range(2, 8)] == [False] * 4 + [True] * 2
    values = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8]  # trials 0..6 at budget 1
    for t, value in enumerate(values):
        searcher.on_trial_start(t, {"x": t / 10, "y": 0.5})
        searcher.on_report(t, 1, value)
    good, bad = searcher.split(1)
    assert good == [1, 5, 3]  # the three best: 0.1, 0.2, 0.3
    assert bad == [2, 4, 6, 0]  # the rest, disjoint from the good set (n_bad = floor(5.95) = 5)
    with pytest.raises(ValueError, match="min_points_in_model"):
        KDEBOHBSearcher(searcher.space, seed=0, max_epochs=9, min_points_in_model=2)


def test_bohb_switches_to_the_model_once_a_budget_has_enough_observations():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = KDEBOHBSearcher(space, seed=0, max_epochs=9, budgets=[1, 3, 9], random_fraction=0.0)
    for t in range(10):  # ten trials start; 6 observations at a budget give a model (d = 2)
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        if t < 7:
            searcher.on_report(t, 1, distance_to_corner(config))
        if t < 5:
            searcher.on_report(t, 2, distance_to_corner(config))  # not a budget: ignored
            searcher.on_report(t, 3, distance_to_corner(config))
    # reports at epoch 1 arrive while proposing: 0 before proposal 0, ..., 6 before proposal 6
    assert searcher.sources == ["random"] * 6 + ["model"] * 4
    assert searcher.model_budgets[6:] == [1] * 4
    assert 2 not in searcher.observations
    searcher.on_report(5, 3, 0.5)
    searcher.propose()
    assert searcher.model_budgets[-1] == 3  # the largest budget with a model


# -- MOBSTER ------------------------------------------------------------------------------------


def test_mobster_target_level_is_the_largest_rung_with_enough_data():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = MobsterSearcher(space, seed=0, max_epochs=9, levels=[1, 3, 9])
    assert searcher.min_points_at_target == 3
    assert searcher.level_coordinate(1) == 0.0 and searcher.level_coordinate(9) == 1.0
    assert searcher.level_coordinate(3) == pytest.approx(0.5)
    for t in range(6):
        searcher.on_trial_start(t, space.sample(searcher.rng))
        searcher.on_report(t, 1, 0.5 + t / 10)
        if t < 2:
            searcher.on_report(t, 2, 0.4)  # not a rung level
            searcher.on_report(t, 3, 0.3)
    assert searcher.target_level() == 1
    searcher.on_report(2, 3, 0.35)
    assert searcher.target_level() == 3
    config = searcher.propose()
    assert searcher.sources[-1] == "model" and searcher.targets[-1] == 3
    space.validate(config)


def test_mobster_gives_pending_trials_distinct_spread_out_configurations():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = MobsterSearcher(space, seed=0, max_epochs=9, levels=[1, 3, 9])
    rng = np.random.default_rng(0)
    for t in range(12):
        config = space.sample(rng)
        searcher.on_trial_start(t, config)
        for level in (1, 3):
            value = math.sin(6 * config["x"]) * math.cos(5 * config["y"]) + 0.3 / level
            searcher.on_report(t, level, value)
        searcher.on_status(t, TrialStatus.STOPPED)
    points = []
    for t in range(12, 16):
        config = searcher.propose()
        searcher.on_trial_start(t, config)
        points.append(space.encode(config))
    assert searcher.sources[-4:] == ["model"] * 4 and searcher.targets[-4:] == [3] * 4
    points = np.array(points)
    gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert gaps.min() > 0.02  # without the fantasies: 0.0002 apart


def test_mobster_pending_trials_are_the_running_ones_at_their_next_rung():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = MobsterSearcher(space, seed=0, max_epochs=9, levels=[1, 3, 9])
    rng = np.random.default_rng(0)
    for t in range(4):
        searcher.on_trial_start(t, space.sample(rng))
        searcher.on_report(t, 1, 0.5 + t / 10)
    searcher.on_status(0, TrialStatus.PAUSED)  # paused at rung 1: not pending
    searcher.on_status(1, TrialStatus.PAUSED)
    searcher.on_status(1, TrialStatus.RUNNING)  # promoted: trains towards rung 3
    searcher.on_report(2, 3, 0.4)  # (stopping variant) continues towards 9
    searcher.on_status(3, TrialStatus.STOPPED)
    searcher.on_trial_start(4, space.sample(rng))  # new: trains towards rung 1
    assert searcher.running == {1, 2, 4}
    assert searcher.pending_points() == [(1, 3), (2, 9), (4, 1)]
    known = searcher.known_keys()
    assert searcher.fantasy_keys(known) == [(1, 3), (2, 9), (4, 1)]
    searcher.on_report(4, 1, 0.3)  # a report since: fantasised where it was made, and 4 goes on
    assert searcher.fantasy_keys(known) == [(1, 3), (2, 9), (4, 1), (4, 3)]
    inputs = searcher.key_inputs([(1, 3), (2, 9)])
    assert np.allclose(inputs[:, :2], searcher.encode_trials([1, 2]))
    assert np.allclose(inputs[:, 2], [0.5, 1.0])  # log(level) / log(9)


def test_mobster_does_not_rebuild_for_paused_trials():
    space = SearchSpace.from_spec(UNIT_SQUARE)
    searcher = MobsterSearcher(space, seed=0, max_epochs=9, levels=[1, 3, 9])
    rng = np.random.default_rng(0)
    for t in range(150):  # 150 trials pause at rung 1, 10 of them (promoted) at rung 3
        config = space.sample(rng)
        searcher.on_trial_start(t, config)
        searcher.on_report(t, 1, distance_to_corner(config))
        if t < 10:
            searcher.on_report(t, 3, distance_to_corner(config) - 0.1)
        searcher.on_status(t, TrialStatus.PAUSED)
    for t in range(150, 153):
        searcher.on_trial_start(t, searcher.propose())
    assert searcher.targets[-3:] == [3, 3, 3]
    # the 140 trials paused below the target are no fantasies; with them (more than
    # MAX_FANTASIES = 128) every proposal rebuilt the GP
    assert searcher.n_rebuilds == 1
    assert searcher.fantasy_keys(searcher.known_keys()) == [(150, 1), (151, 1), (152, 1)]


# -- all methods --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", MODEL_METHODS)
def test_methods_are_deterministic_and_propose_legal_configurations(method):
    objective = SyntheticCurvesObjective(max_epochs=9)
    budget = Budget(trials=24)
    first, tuner = run(method, objective, 7, budget)
    second, _ = run(method, objective, 7, budget)
    other, _ = run(method, objective, 8, budget)
    assert first.reports == second.reports
    assert first.trials == second.trials
    assert [r["trial_id"] for r in first.trials] == list(range(24))
    assert first.reports != other.reports
    assert all(r["status"] != "failed" for r in first.trials)  # start_trial validates configs
    for trial in tuner.searcher.trials.values():
        objective.space.validate(trial.config)
    assert "model" in tuner.searcher.sources or "mutation" in tuner.searcher.sources


@pytest.mark.parametrize("method", MODEL_METHODS)
def test_methods_propose_only_recorded_configurations_without_repeats(method, small_table):
    result, tuner = run(method, small_table, 0, Budget(trials=40))
    keys = [small_table.space.key(t.config) for t in tuner.searcher.trials.values()]
    recorded = {small_table.space.key(c) for c in small_table.space.candidates}
    assert len(keys) == len(set(keys)) == 25  # every candidate once, then nothing left
    assert set(keys) == recorded
    assert all(r["status"] != "failed" for r in result.trials)
    assert tuner.searcher.propose() is None


@pytest.mark.parametrize(
    ("method", "settings", "message"),
    [
        ("bo", {"target_transform": "sqrt"}, "target_transform"),
        ("bo", {"refit_every": 0}, "refit_every"),
        ("tpe", {"gamma": 1.0}, "gamma"),
        ("rea", {"sample_size": 11, "population_size": 10}, "sample_size"),
        ("bohb", {"random_fraction": 1.5}, "random_fraction"),
        ("mobster", {"max_history": 1}, "max_history"),
    ],
)
def test_bad_settings_get_one_line_errors(method, settings, message):
    objective = SyntheticCurvesObjective(max_epochs=9)
    with pytest.raises(ValueError, match=message):
        make_method(method, objective.problem(), 0, **settings)
