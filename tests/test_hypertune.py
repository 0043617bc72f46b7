"""Hyper-Tune: bracket distribution, D-ASHA promotions, ranking-loss weights, end-to-end runs."""

from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import kendalltau
from sklearn.gaussian_process import GaussianProcessRegressor

from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.tabular import TabularObjective
from hpo_methods.methods import hypertune
from hpo_methods.methods.hypertune import (
    HyperTuneSearcher,
    bounded_history,
    discordant_fraction,
    ensemble_weights,
    fold_sizes,
    joint_posterior,
    joint_samples,
    product_of_experts,
)
from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision, Method, TrialStatus
from hpo_methods.registry import make_method, method_settings
from hpo_methods.schedulers.hypertune import HyperTuneScheduler, bracket_distribution
from hpo_methods.searchers.gp import JITTER, GPModel
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace
from tests.tables import synthetic_table

CONF = Path(__file__).resolve().parents[1] / "conf" / "method" / "hypertune.yaml"
X_SPACE = SearchSpace.from_spec({"x": {"type": "uniform", "low": 0.0, "high": 1.0}})

# R = 27, eta = 3: Hyperband starts n_s = 27, 12, 6, 4 trials in brackets s = 3, 2, 1, 0, whose
# base levels are 1, 3, 9, 27 epochs.
DEFAULT_27 = {3: Fraction(27, 49), 2: Fraction(12, 49), 1: Fraction(6, 49), 0: Fraction(4, 49)}
BASE_27 = {3: 1, 2: 3, 1: 9, 0: 27}


# -- the bracket distribution --------------------------------------------------------------------


def test_scheduler_levels_bases_and_thresholds():
    s = HyperTuneScheduler(27, 0)
    assert s.levels == [1, 3, 9, 27]  # one rung system shared by every bracket
    assert s.base == BASE_27
    # Synchronous Hyperband's most aggressive bracket has rungs of 27, 9 and 3 trials below R,
    # which is R * eta^-i, the authors' promotion_start_threshold.
    assert s.threshold == {1: 27, 3: 9, 9: 3}
    assert s.probabilities() == pytest.approx({k: float(v) for k, v in DEFAULT_27.items()})
    assert HyperTuneScheduler(27, 0, brackets=2).base == {3: 1, 2: 3}
    assert HyperTuneScheduler(27, 0, promotion_threshold=False).threshold == {1: 0, 3: 0, 9: 0}


# R = 20 (the default benchmark) is not a power of eta: levels 1, 3, 9, then 20, and one bracket
# per level, the last one starting at 20 (Syne Tune: len(rung_levels) + 1 brackets). Hyperband's
# bracket sizes on these levels: n_s = ceil(4 / (s + 1) * 3^s) = 27, 12, 6, 4 for s = 3, 2, 1, 0.
DEFAULT_20 = {3: Fraction(27, 49), 2: Fraction(12, 49), 1: Fraction(6, 49), 0: Fraction(4, 49)}
BASE_20 = {3: 1, 2: 3, 1: 9, 0: 20}


def test_scheduler_at_twenty_epochs_has_a_bracket_per_level():
    twenty = HyperTuneScheduler(20, 0)
    assert twenty.levels == [1, 3, 9, 20]
    assert twenty.base == BASE_20
    assert twenty.threshold == {1: 27, 3: 9, 9: 3}  # the rungs of bracket s = 3 below R
    assert twenty.probabilities() == pytest.approx({k: float(v) for k, v in DEFAULT_20.items()})


def test_weights_at_twenty_epochs_reach_the_full_training_bracket():
    # The target level 20 ranks best (theta 0.7). As in Syne Tune (hypertune/gp_model.py,
    # fit_distributions: theta * [1 / r for r in rung_levels + [max_t]], normalised), bracket s
    # gets theta_{b_s} / b_s = 0.1/1 : 0.1/3 : 0.1/9 : 0.7/20 = 180 : 60 : 20 : 63 (times 1/1800).
    # So the full-training bracket rises from its default 4/49 = 8.2% to 63/323 = 19.5%, and the
    # 1-epoch bracket stays near its default 27/49 (55.1% -> 55.7%). Without a bracket at level
    # 20, theta_20 never entered the distribution and the 1-epoch bracket got 0.1/(0.1 + 0.1/3 +
    # 0.1/9) = 69%.
    default = {k: float(v) for k, v in DEFAULT_20.items()}
    theta = {1: 0.1, 3: 0.1, 9: 0.1, 20: 0.7}
    expected = {3: 180 / 323, 2: 60 / 323, 1: 20 / 323, 0: 63 / 323}
    assert bracket_distribution(default, BASE_20, theta) == pytest.approx(expected)
    s = HyperTuneScheduler(20, 0)
    s.weight_source = lambda: theta
    assert s.probabilities() == pytest.approx(expected)


def test_the_full_training_bracket_never_pauses():
    s = HyperTuneScheduler(20, 0)
    s.weight_source = lambda: {1: 0.0, 3: 0.0, 9: 0.0, 20: 1.0}  # all mass on bracket 0
    s.on_trial_start(0)
    assert s.bracket_of[0] == 0
    assert [s.on_report(0, e, 0.99) for e in range(1, 21)] == [Decision.CONTINUE] * 20


def test_bracket_distribution_by_hand():
    default = {k: float(v) for k, v in DEFAULT_27.items()}
    assert bracket_distribution(default, BASE_27, None) == default
    # Weights up to T = 3: brackets 3 and 2 share their default mass 39/49 in proportion to
    # theta / base = 0.5 / 1 and 0.5 / 3, i.e. 3 : 1; brackets 1 and 0 keep 6/49 and 4/49.
    half = bracket_distribution(default, BASE_27, {1: 0.5, 3: 0.5})
    assert half == pytest.approx({3: 117 / 196, 2: 39 / 196, 1: 6 / 49, 0: 4 / 49})
    # Weights up to T = R: p_s proportional to theta / base = 0, 0.1, 0.6/9, 0.1/27, i.e. to
    # 0 : 2.7 : 1.8 : 0.1 (times 1/27).
    full = bracket_distribution(default, BASE_27, {1: 0.0, 3: 0.3, 9: 0.6, 27: 0.1})
    assert full == pytest.approx({3: 0.0, 2: 27 / 46, 1: 18 / 46, 0: 1 / 46})
    # Weights that are all zero carry no information: the default stays.
    assert bracket_distribution(default, BASE_27, {1: 0.0, 3: 0.0}) == default


def test_bracket_draws_follow_the_learned_distribution():
    s = HyperTuneScheduler(27, seed=5)
    s.weight_source = lambda: {1: 0.0, 3: 0.3, 9: 0.6, 27: 0.1}
    n = 20_000
    for t in range(n):
        s.on_trial_start(t)
    counts = Counter(s.bracket_of.values())
    assert counts[3] == 0
    # Standard error of a frequency is at most 0.0036 at n=20000; allow 4 of them.
    for bracket, p in {2: 27 / 46, 1: 18 / 46, 0: 1 / 46}.items():
        assert counts[bracket] / n == pytest.approx(p, abs=0.015)


# -- D-ASHA --------------------------------------------------------------------------------------


def _single_bracket(delayed: bool = True, threshold: bool = False) -> HyperTuneScheduler:
    """R = 9, only the most aggressive bracket: levels 1, 3, then 9."""
    s = HyperTuneScheduler(
        9, 0, brackets=1, delayed_promotion=delayed, promotion_threshold=threshold
    )
    for t in range(12):
        s.on_trial_start(t)
    return s


# (values recorded at a rung, trials promoted from it already) -> may it promote one more?
# The authors' test: (promoted + 1) / n <= 1 / eta, with eta = 3.
PROMOTION_TABLE = [
    (2, 0, False),  # 1/2 > 1/3
    (3, 0, True),  # 1/3
    (5, 1, False),  # 2/5 > 1/3
    (6, 1, True),  # 2/6
    (8, 2, False),  # 3/8 > 1/3
    (9, 2, True),  # 3/9
    (9, 3, False),  # 4/9 > 1/3
]


@pytest.mark.parametrize(("n", "promoted", "allowed"), PROMOTION_TABLE)
def test_d_asha_promotion_test_by_hand(n, promoted, allowed):
    s = _single_bracket()
    # Rung 1 holds values 0.1, 0.2, ... in arrival order: the best is the earliest.
    for t in range(n):
        s.on_report(t, 1, 0.1 * (t + 1))
    for _ in range(promoted):
        s.trial_to_resume()
    assert s.promoted[1] == set(range(promoted))
    assert s.trial_to_resume() == (promoted if allowed else None)


def test_d_asha_promotes_at_most_a_third_of_each_rung_highest_level_first():
    s = _single_bracket()
    for t, v in [(0, 0.5), (1, 0.4), (2, 0.6)]:
        assert s.on_report(t, 1, v) == Decision.PAUSE
    assert s.trial_to_resume() == 1  # n = 3: the best one
    assert s.trial_to_resume() is None
    for t, v in [(3, 0.1), (4, 0.2), (5, 0.3)]:
        s.on_report(t, 1, v)
    # n = 6: the top 2 are trials 3 and 4; trial 1 was promoted already, so only one more.
    assert s.trial_to_resume() == 3
    assert s.trial_to_resume() is None  # plain ASHA would promote trial 4 too (next test)
    assert s.on_report(1, 2, 0.38) == Decision.CONTINUE
    assert s.on_report(1, 3, 0.35) == Decision.PAUSE
    assert s.on_report(3, 3, 0.05) == Decision.PAUSE
    for t, v in [(6, 0.9), (7, 0.8), (8, 0.7)]:
        s.on_report(t, 1, v)
    assert s.trial_to_resume() == 4  # n = 9: a third promoted
    s.on_report(4, 3, 0.2)
    for t, v in [(9, 0.01), (10, 0.02), (11, 0.03)]:
        s.on_report(t, 1, v)
    # Rung 3 (n = 3: trial 3 is best) comes before rung 1 (n = 12: trial 9 is best).
    assert [s.trial_to_resume() for _ in range(3)] == [3, 9, None]
    assert s.on_report(3, 9, 0.04) == Decision.CONTINUE  # max_epochs: completes


def test_plain_asha_promotion_without_the_delay():
    s = _single_bracket(delayed=False)
    for t, v in [(0, 0.5), (1, 0.4), (2, 0.6)]:
        s.on_report(t, 1, v)
    assert s.trial_to_resume() == 1
    for t, v in [(3, 0.1), (4, 0.2), (5, 0.3)]:
        s.on_report(t, 1, v)
    # The top 2 of 6 are trials 3 and 4, both go on: 3 promotions from a rung of 6.
    assert [s.trial_to_resume() for _ in range(3)] == [3, 4, None]


def test_promotion_threshold_waits_for_hyperbands_rung_sizes():
    s = _single_bracket(threshold=True)  # R = 9: rungs 1 and 3 need 9 and 3 values
    for t in range(8):
        s.on_report(t, 1, 0.9 - 0.1 * t)
    assert s.trial_to_resume() is None  # 8 < 9, though floor(8 / 3) = 2
    s.on_report(8, 1, 0.95)
    assert [s.trial_to_resume() for _ in range(4)] == [7, 6, 5, None]  # the best 3 of 9
    s.on_report(7, 3, 0.3)
    s.on_report(6, 3, 0.2)
    assert s.trial_to_resume() is None  # 2 < 3 values at level 3
    s.on_report(5, 3, 0.25)
    assert s.trial_to_resume() == 6


def test_brackets_share_one_rung_system():
    s = HyperTuneScheduler(9, 0, promotion_threshold=False)
    only = {1: {1: 1.0, 3: 0.0, 9: 0.0}, 3: {1: 0.0, 3: 1.0, 9: 0.0}}  # theta / base: one bracket
    s.weight_source = lambda: only[1]
    for t in range(3):
        s.on_trial_start(t)
    s.weight_source = lambda: only[3]
    for t in (3, 4):
        s.on_trial_start(t)
    assert s.bracket_of == {0: 2, 1: 2, 2: 2, 3: 1, 4: 1}
    for t, v in [(0, 0.5), (1, 0.4), (2, 0.6)]:
        assert s.on_report(t, 1, v) == Decision.PAUSE
    for t, v in [(3, 0.3), (4, 0.2)]:
        assert s.on_report(t, 1, 0.0) == Decision.CONTINUE  # bracket 1 starts at level 3
        assert s.on_report(t, 2, 0.0) == Decision.CONTINUE
        assert s.on_report(t, 3, v) == Decision.PAUSE
    assert s.recorded == {1: {0: 0.5, 1: 0.4, 2: 0.6}, 3: {3: 0.3, 4: 0.2}}
    assert s.trial_to_resume() == 1  # level 3: floor(2 / 3) = 0; level 1: trial 1
    s.on_report(1, 2, 0.2)
    assert s.on_report(1, 3, 0.1) == Decision.PAUSE
    # Trial 1 (bracket 2) competes with trials 3 and 4 (bracket 1) at level 3, and wins.
    assert [s.trial_to_resume() for _ in range(2)] == [1, None]


def test_failed_and_non_finite_trials_are_never_promoted():
    s = _single_bracket()
    s.on_report(0, 1, float("inf"))
    s.on_report(1, 1, 0.4)
    s.on_report(2, 1, 0.6)
    s.on_end(1, TrialStatus.FAILED)
    assert s.trial_to_resume() is None  # the top third is trial 1, which failed


def _single_bracket_scheduler() -> HyperTuneScheduler:
    return HyperTuneScheduler(9, 0, brackets=1, promotion_threshold=False)


def _random_with(scheduler: HyperTuneScheduler) -> Method:
    return Method(RandomSearcher(X_SPACE, 0, 9), scheduler, Problem(X_SPACE, 9))


def test_no_new_trials_lifts_the_delay():
    method = _random_with(_single_bracket_scheduler())
    for t in range(6):
        assert method.suggest().trial_id == t
    for t, v in [(0, 0.5), (1, 0.4), (2, 0.6)]:
        assert method.report(t, 1, {"val_error": v}) == Decision.PAUSE
    assert method.suggest(allow_new=False).trial_id == 1
    for t, v in [(3, 0.1), (4, 0.2), (5, 0.3)]:
        assert method.report(t, 1, {"val_error": v}) == Decision.PAUSE
    assert method.suggest(allow_new=False).trial_id == 3
    assert method.scheduler.no_new_trials is False  # promotions were there without the hook
    # The delay holds trial 4 back; with no new trials it is lifted and 4 goes on.
    assert method.suggest(allow_new=False).trial_id == 4
    assert method.scheduler.no_new_trials is True
    assert method.suggest(allow_new=False) is None
    assert method.scheduler.on_no_new_trials() is False


def test_no_new_trials_lifts_the_threshold():
    s = _single_bracket(threshold=True)
    for t, v in enumerate([0.5, 0.4, 0.6, 0.1]):
        s.on_report(t, 1, v)
    assert s.trial_to_resume() is None  # 4 < 9 values
    assert s.on_no_new_trials()
    assert [s.trial_to_resume() for _ in range(2)] == [3, None]  # floor(4 / 3) = 1


def test_no_new_trials_stops_what_can_never_resume_and_finishes_the_best():
    method = _random_with(_single_bracket_scheduler())
    for _ in range(6):
        method.suggest()
    for t, v in enumerate([0.5, 0.4, 0.6, 0.1, 0.2, 0.3]):
        method.report(t, 1, {"val_error": v})
    assert [method.suggest(allow_new=False).trial_id for _ in range(2)] == [3, 4]  # top 2 of 6
    # Nothing left to promote: the hook fires, and rung 1 is final (trials 3 and 4 run towards
    # rung 3, above it), so its other paused trials are given up.
    assert method.suggest(allow_new=False) is None
    assert method.scheduler.no_new_trials
    assert method.dropped_trials() == [0, 1, 2, 5]
    assert method.searcher.trials[0].status == TrialStatus.STOPPED
    _train_to(method, 3, 3, 0.05)
    _train_to(method, 4, 3, 0.15)
    # Rung 3 holds 2 trials: floor(2/3) = 0, but with no new trials at least one goes on.
    assert method.suggest(allow_new=False).trial_id == 3
    assert method.dropped_trials() == [4]
    _train_to(method, 3, 9, 0.01, start=4)
    method.complete(3)
    assert method.suggest(allow_new=False) is None
    assert method.searcher.pending() == []


def _train_to(method: Method, trial_id: int, epoch: int, value: float, start: int = 2) -> None:
    for e in range(start, epoch + 1):
        method.report(trial_id, e, {"val_error": value})


# -- ranking losses and weights ------------------------------------------------------------------


def test_discordant_fraction_by_hand_and_against_kendall_tau():
    y = np.array([1.0, 2.0, 3.0])
    samples = np.array([[1.0, 3.0, 2.0], [2.0, 2.0, 1.0], [3.0, 1.0, 3.0]])
    # Columns: same order (0), reversed (1), first pair swapped (1 of 3 pairs).
    np.testing.assert_allclose(discordant_fraction(samples, y), [0, 1, 1 / 3])
    rng = np.random.default_rng(0)
    y = rng.random(12)
    f = rng.random((12, 5))
    tau = np.array([kendalltau(f[:, k], y).statistic for k in range(5)])
    np.testing.assert_allclose(discordant_fraction(f, y), (1 - tau) / 2)
    with pytest.raises(ValueError, match="two points"):
        discordant_fraction(np.zeros((1, 3)), np.zeros(1))


def test_ensemble_weights_count_wins_and_ties():
    losses = np.array([[0.1, 0.3, 0.2, 0.0], [0.1, 0.2, 0.5, 0.4], [0.5, 0.1, 0.3, 0.4]])
    # Sample 0: levels 0 and 1 tie; sample 1: level 2; sample 2: level 0; sample 3: level 0.
    np.testing.assert_allclose(ensemble_weights(losses), [3 / 5, 1 / 5, 1 / 5])


def test_product_of_experts_by_hand():
    # Experts N(0, 1) and N(1, 0.25), weights 1/2 each: precision 0.5 / 1 + 0.5 / 0.25 = 2.5,
    # mean (0.5 * 0 / 1 + 0.5 * 1 / 0.25) / 2.5 = 0.8. A second point: N(2, 4) and N(-1, 4),
    # weights 0.25 and 0.75: precision 1 / 4, mean (0.125 - 0.1875) * 4 = -0.25.
    mean, std = product_of_experts(
        [
            (0.5, np.array([0.0, 2.0]), np.array([1.0, 4.0])),
            (0.5, np.array([1.0, 2.0]), np.array([0.25, 4.0])),
        ]
    )
    np.testing.assert_allclose(mean, [0.8, 2.0])
    np.testing.assert_allclose(std, [1 / np.sqrt(2.5), 2.0])
    mean, std = product_of_experts(
        [(0.25, np.array([2.0]), np.array([4.0])), (0.75, np.array([-1.0]), np.array([4.0]))]
    )
    np.testing.assert_allclose(mean, [-0.25])
    np.testing.assert_allclose(std, [2.0])


def test_fold_sizes_as_in_syne_tune():
    # min(n // 2, 5) contiguous folds of at least two values, the larger ones last.
    assert fold_sizes(4) == [2, 2]
    assert fold_sizes(6) == [2, 2, 2]
    assert fold_sizes(7) == [2, 2, 3]
    assert fold_sizes(11) == [2, 2, 2, 2, 3]
    assert fold_sizes(13) == [2, 2, 3, 3, 3]
    assert fold_sizes(100) == [20] * 5
    with pytest.raises(ValueError, match="at least 4"):
        fold_sizes(3)


def test_bounded_history_keeps_the_best_half_then_the_most_recent():
    values = {0: 0.5, 1: 0.1, 2: 0.9, 3: 0.3, 4: 0.7, 5: 0.2}
    assert bounded_history(values, 6) == list(values.items())
    # Best 2: trials 1 and 5; then the most recent others, 4 and 3; in arrival order.
    assert bounded_history(values, 4) == [(1, 0.1), (3, 0.3), (4, 0.7), (5, 0.2)]


def test_joint_posterior_matches_scikit_learn():
    rng = np.random.default_rng(1)
    x, xq = rng.random((15, 2)), rng.random((6, 2))
    z = np.sin(4 * x[:, 0]) + x[:, 1]
    model = GPModel(2, 0)
    model.fit(x, z, optimize=True)
    mean, cov = joint_posterior(model, x, z, xq)
    gpr = GaussianProcessRegressor(kernel=model.kernel, alpha=JITTER, optimizer=None).fit(x, z)
    ref_mean, ref_cov = gpr.predict(xq, return_cov=True)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-8)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-8)
    draws = joint_samples(model, x, z, xq, 20_000, np.random.default_rng(2))
    np.testing.assert_allclose(draws.mean(axis=1), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(draws), cov, atol=0.05)


def _searcher_with_levels(value_at: dict[int, callable], n: int = 20) -> HyperTuneSearcher:
    """20 trials on x in [0, 1] with the given value at levels 1, 3 and 9 (= max_epochs)."""
    searcher = HyperTuneSearcher(X_SPACE, 0, 9, levels=[1, 3, 9], random_fraction=0.0)
    for t, x in enumerate(np.linspace(0.02, 0.98, n)[np.random.default_rng(3).permutation(n)]):
        searcher.on_trial_start(t, {"x": float(x)})
        for level, f in value_at.items():
            searcher.on_report(t, level, f(x))
        searcher.on_status(t, TrialStatus.COMPLETED)
    return searcher


@pytest.mark.parametrize("good_level", [1, 3])
def test_weights_favour_the_level_that_ranks_like_the_target(good_level):
    def target(x):
        return float(np.sin(6 * x))

    def reversed_(x):
        return -target(x)

    bad_level = 4 - good_level  # levels 1 and 3
    searcher = _searcher_with_levels({good_level: target, bad_level: reversed_, 9: target})
    assert searcher.target_level() == 9
    assert searcher.propose() is not None
    assert searcher.sources[-1] == "model"
    theta = searcher.level_weights
    assert set(theta) == {1, 3, 9}
    assert sum(theta.values()) == pytest.approx(1.0)
    assert theta[bad_level] == 0.0  # it orders every pair the wrong way round
    # The good level and the cross-validated target level order (nearly) every pair right in
    # every sample: they tie, and share the weight.
    assert theta[good_level] == pytest.approx(0.5, abs=0.1)
    assert theta[9] == pytest.approx(0.5, abs=0.1)


def test_random_until_a_target_level_has_enough_values():
    searcher = HyperTuneSearcher(X_SPACE, 0, 9, levels=[1, 3, 9], random_fraction=0.0)
    for t in range(5):
        searcher.on_trial_start(t, searcher.propose())
        searcher.on_report(t, 1, 0.1 * t)
    assert searcher.target_level() is None
    assert searcher.propose() is not None and searcher.sources == ["random"] * 6
    searcher.on_trial_start(5, {"x": 0.5})
    searcher.on_report(5, 1, 0.9)
    assert searcher.target_level() == 1  # 6 values at level 1
    searcher.propose()
    assert searcher.sources[-1] == "model"
    assert searcher.level_weights == {1: 1.0}  # one level: all weight on it


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"random_fraction": 1.5}, "random_fraction"),
        ({"min_points_at_target": 3}, "min_points_at_target"),
        ({"n_samples": 0}, "n_samples"),
        ({"target_transform": "sqrt"}, "target_transform"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"brackets": 9}, "brackets"),
    ],
)
def test_bad_settings(setting, message):
    with pytest.raises(ValueError, match=message):
        hypertune.make(Problem(X_SPACE, 27), 0, **setting)


def test_conf_lists_every_setting_with_its_default():
    conf = yaml.safe_load(CONF.read_text())
    assert conf["name"] == "hypertune"
    assert conf["settings"] == method_settings("hypertune")


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objective(tmp_path_factory) -> TabularObjective:
    return TabularObjective(synthetic_table(tmp_path_factory.mktemp("t") / "t", 60, 9))


def _run(objective, seed, budget):
    method = make_method("hypertune", objective.problem(), seed)
    return method, SimulatedBackend(method, objective, 4, budget, seed).run()


def test_end_to_end_learns_weights_and_uses_them_for_brackets(objective):
    method, result = _run(objective, 0, Budget(time=2 * 3600))
    epochs: dict[int, list[int]] = {}
    for row in result.reports:
        epochs.setdefault(row["trial_id"], []).append(row["epoch"])
    for trial_id, seen in epochs.items():  # each epoch once, in order, across pauses
        assert seen == list(range(1, len(seen) + 1)), trial_id
    searcher, scheduler = method.searcher, method.scheduler
    assert "model" in searcher.sources
    assert searcher.level_weights is not None
    assert scheduler.probabilities() == bracket_distribution(
        scheduler.default, scheduler.base, searcher.level_weights
    )
    assert scheduler.probabilities() != scheduler.default
    assert Counter(r["status"] for r in result.trials)["completed"] >= 1


def test_deterministic_for_a_fixed_seed(objective):
    budget = Budget(trials=16)  # model-based from the 7th proposal on
    first = _run(objective, 1, budget)[1].reports
    assert first == _run(objective, 1, budget)[1].reports
    assert first != _run(objective, 2, budget)[1].reports


def test_finite_table_runs_until_nothing_can_be_promoted(tmp_path):
    small = TabularObjective(synthetic_table(tmp_path / "t", 20, 9))
    method, result = _run(small, 0, Budget(time=1e9))
    assert result.ended_by == "method"
    assert result.summary["trials"] == 20  # every configuration of the table was tried
    assert method.scheduler.no_new_trials
    assert method.scheduler.trial_to_resume() is None
    # Every trial ended: paused ones that could never resume were stopped.
    statuses = Counter(r["status"] for r in result.trials)
    assert set(statuses) == {"completed", "stopped"}
    assert method.searcher.pending() == []
