"""Synchronous SH, Hyperband, asynchronous Hyperband and median stopping, pinned by hand."""

from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmarks.simulated import Budget, SimulatedBackend
from benchmarks.tabular import TabularObjective
from hpo_methods.methods import dehb
from hpo_methods.problem import Problem
from hpo_methods.protocol import Decision, Method, TrialStatus
from hpo_methods.registry import make_method, method_settings
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.schedulers.async_hyperband import AsyncHyperbandScheduler, bracket_probabilities
from hpo_methods.schedulers.dehb import DEHBScheduler
from hpo_methods.schedulers.hyperband import HyperbandScheduler, hyperband_brackets
from hpo_methods.schedulers.median_stopping import MedianStoppingScheduler
from hpo_methods.schedulers.sh import (
    Rung,
    SuccessiveHalvingScheduler,
    closed_rung_sizes,
    sh_bracket,
)
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace
from tests.driving import resumed_trials, start_trials
from tests.tables import synthetic_table

NEW_METHODS = ["sh", "hyperband", "async_hyperband", "median_stopping", "dehb"]
CONF = Path(__file__).resolve().parents[1] / "conf" / "method"


def _method(scheduler) -> Method:
    space = SearchSpace.from_spec({"x": {"type": "uniform", "low": 0.0, "high": 1.0}})
    searcher = RandomSearcher(space, 0, scheduler.max_epochs)
    return Method(searcher, scheduler, Problem(space, scheduler.max_epochs))


def _train(method: Method, trial_id: int, epochs: range, value: float) -> list[Decision]:
    return [method.report(trial_id, e, {"val_error": value}) for e in epochs]


# -- synchronous successive halving --------------------------------------------------------------


def test_sh_bracket_rungs():
    assert sh_bracket(9, 1, 3) == [Rung(1, 9), Rung(3, 3), Rung(9, 1)]
    assert sh_bracket(27, 1, 3) == [Rung(1, 27), Rung(3, 9), Rung(9, 3), Rung(27, 1)]
    # 10 epochs is not a power of 3: rungs 1, 3, 9, then 10; n = 3^3 = 27.
    assert [r.epochs for r in sh_bracket(10)] == [1, 3, 9, 10]
    # A small bracket keeps at least one trial per rung: 5, floor(5/3)=1, max(1, 0), max(1, 0).
    assert [r.size for r in sh_bracket(10, 1, 3, bracket_size=5)] == [5, 1, 1, 1]
    assert sh_bracket(16, 2, 2) == [Rung(2, 8), Rung(4, 4), Rung(8, 2), Rung(16, 1)]


def test_sh_promotes_the_best_third_when_the_rung_is_complete():
    textbook = SuccessiveHalvingScheduler(9, 0, 1, 3, max_concurrent_brackets=1)
    method = _method(textbook)
    trials = start_trials(method, 9)
    assert trials == list(range(9))
    assert method.suggest() is None  # rung 1 is full: a tenth worker waits
    values = [0.5, 0.2, 0.9, 0.1, 0.7, 0.3, 0.8, 0.6, 0.4]
    for t in trials[:-1]:
        assert method.report(t, 1, {"val_error": values[t]}) == Decision.PAUSE
        assert method.suggest() is None  # the rung is incomplete: no promotion yet
    assert method.report(8, 1, {"val_error": values[8]}) == Decision.PAUSE
    # The 3 best at epoch 1: trial 3 (0.1), trial 1 (0.2), trial 5 (0.3), resumed best first.
    assert resumed_trials(method) == [3, 1, 5]
    # The other six are given up (ranked order), once, and are stopped for the searcher too.
    assert method.dropped_trials() == [8, 0, 7, 4, 6, 2]
    assert method.dropped_trials() == []
    assert method.searcher.trials[8].status == TrialStatus.STOPPED
    assert sorted(t.trial_id for t in method.searcher.pending()) == [1, 3, 5]
    assert method.suggest() is None
    # Epoch 2 continues; epoch 3 is the next rung. Values there: 3 -> 0.05, 1 -> 0.15, 5 -> 0.01.
    for t, v in [(3, 0.05), (1, 0.15), (5, 0.01)]:
        assert method.report(t, 2, {"val_error": 0.5}) == Decision.CONTINUE
        assert method.report(t, 3, {"val_error": v}) == Decision.PAUSE
    assert resumed_trials(method) == [5]  # floor(3 / 3) = 1: the best at epoch 3
    assert method.dropped_trials() == [3, 1]
    assert _train(method, 5, range(4, 9), 0.01) == [Decision.CONTINUE] * 5
    assert method.suggest() is None  # the top rung is not complete yet: no new bracket
    method.report(5, 9, {"val_error": 0.01})
    method.complete(5)
    # The bracket is finished: a new one starts with fresh trials 9, 10, ...
    assert start_trials(method, 9) == list(range(9, 18))
    assert method.suggest() is None


def test_sh_ties_go_to_the_lower_trial_id_and_failed_trials_count_as_done():
    method = _method(SuccessiveHalvingScheduler(9, 0))
    start_trials(method, 9)
    method.fail(4, "crashed")  # before reporting: done, worst value
    for t in [8, 7, 6, 5, 3, 2, 1, 0]:
        method.report(t, 1, {"val_error": 0.5 if t in (2, 6, 7) else 0.9})
    # Three tied at 0.5: promoted in trial-id order.
    assert resumed_trials(method) == [2, 6, 7]
    # A promoted trial fails on its way to rung 3; the rung completes without it.
    method.report(2, 2, {"val_error": 0.4})
    method.fail(2, "diverged")
    _train(method, 6, range(2, 4), 0.3)
    assert method.suggest(allow_new=False) is None
    _train(method, 7, range(2, 4), 0.2)
    assert resumed_trials(method) == [7]


def test_sh_failures_are_never_promoted_even_if_too_few_remain():
    method = _method(SuccessiveHalvingScheduler(9, 0, bracket_size=3))  # rungs 3, 1, 1
    start_trials(method, 3)
    method.fail(0, "x")
    method.fail(1, "x")
    method.report(2, 1, {"val_error": float("nan")})  # non-finite: the backend fails it next
    method.fail(2, "diverged")
    assert method.suggest(allow_new=False) is None
    # Nothing alive to promote: the bracket is finished and a new one starts.
    assert start_trials(method, 3) == [3, 4, 5]


def test_max_concurrent_brackets_opens_the_next_bracket_for_idle_workers():
    method = _method(SuccessiveHalvingScheduler(9, 0, max_concurrent_brackets=2))
    assert start_trials(method, 18) == list(range(18))  # two brackets of 9
    assert method.suggest() is None
    for t in range(9, 18):  # the second bracket's rung completes first
        method.report(t, 1, {"val_error": t / 100})
    assert resumed_trials(method) == [9, 10, 11]
    for t in range(9):
        method.report(t, 1, {"val_error": 1 - t / 100})
    assert resumed_trials(method) == [8, 7, 6]


def test_closed_rung_sizes():
    full = [Rung(1, 81), Rung(3, 27), Rung(9, 9), Rung(27, 3), Rung(81, 1)]
    # 40 trials: floor(40/3) = 13, floor(13/3) = 4, floor(4/3) = 1, then max(1, 0) = 1.
    assert [r.size for r in closed_rung_sizes(full, 40, 3)] == [40, 13, 4, 1, 1]
    assert [r.size for r in closed_rung_sizes(full, 2, 3)] == [2, 1, 1, 1, 1]
    assert closed_rung_sizes(full, 81, 3) == full  # a full rung keeps the planned sizes
    # Never more than planned: Hyperband's s=1 bracket of R=9 is (5 at 3, 1 at 9).
    assert [r.size for r in closed_rung_sizes([Rung(3, 5), Rung(9, 1)], 4, 3)] == [4, 1]
    assert [r.size for r in closed_rung_sizes([Rung(2, 8), Rung(4, 4)], 7, 2)] == [7, 3]
    with pytest.raises(ValueError, match="at least one trial"):
        closed_rung_sizes(full, 0, 3)


def test_sh_no_new_trials_closes_the_bottom_rung_with_the_trials_it_has():
    method = _method(SuccessiveHalvingScheduler(9, 0))  # rungs 9 at 1, 3 at 3, 1 at 9
    start_trials(method, 5)
    for t, v in [(0, 0.5), (1, 0.2), (2, 0.9), (3, 0.4)]:
        method.report(t, 1, {"val_error": v})
    # The budget is spent: the rung closes with its 5 trials, but trial 4 still runs.
    assert method.suggest(allow_new=False) is None
    assert method.scheduler.active[0].rungs == [Rung(1, 5), Rung(3, 1), Rung(9, 1)]
    method.report(4, 1, {"val_error": 0.3})
    assert resumed_trials(method) == [1]  # floor(5 / 3) = 1: the best at epoch 1
    assert method.dropped_trials() == [4, 3, 0, 2]
    _train(method, 1, range(2, 4), 0.1)
    assert resumed_trials(method) == [1]  # rung 3 -> 9: max(1, floor(1 / 3)) = 1
    assert _train(method, 1, range(4, 10), 0.1) == [Decision.CONTINUE] * 6
    method.complete(1)
    assert method.searcher.pending() == []
    assert method.scheduler.active == []


def test_sh_on_no_new_trials_says_when_promotions_became_possible():
    scheduler = SuccessiveHalvingScheduler(9, 0)
    method = _method(scheduler)
    start_trials(method, 2)
    assert scheduler.on_no_new_trials() is False  # closed, but nobody has reported yet
    method.report(0, 1, {"val_error": 0.5})
    method.report(1, 1, {"val_error": 0.4})
    assert scheduler.trial_to_resume() == 1
    assert scheduler.trials_to_stop() == [0]
    assert scheduler.on_no_new_trials() is False  # nothing left to close
    # A full bottom rung is left alone; closing a rung whose trials all reported promotes now.
    scheduler = SuccessiveHalvingScheduler(9, 0)
    method = _method(scheduler)
    start_trials(method, 4)
    for t in range(4):
        method.report(t, 1, {"val_error": 0.1 * (4 - t)})
    assert scheduler.on_no_new_trials() is True
    assert scheduler.trial_to_resume() == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 1.5}, "reduction_factor"),
        ({"grace_period": 0}, "grace_period"),
        ({"bracket_size": 0}, "bracket_size"),
        ({"max_concurrent_brackets": 0}, "max_concurrent_brackets"),
    ],
)
def test_sh_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SuccessiveHalvingScheduler(9, 0, **kwargs)


# -- synchronous Hyperband -----------------------------------------------------------------------


def test_hyperband_bracket_table_eta3_max81():
    table = hyperband_brackets(81, grace_period=1, reduction_factor=3)
    assert [b.s for b in table] == [4, 3, 2, 1, 0]
    assert [b.n for b in table] == [81, 34, 15, 8, 5]
    assert [b.r for b in table] == [1, 3, 9, 27, 81]
    # Rung i of bracket s: floor(n * 3^-i) trials at 81 * 3^(i - s) epochs.
    rungs = [[(r.epochs, r.size) for r in b.rungs] for b in table]
    assert rungs == [
        [(1, 81), (3, 27), (9, 9), (27, 3), (81, 1)],
        [(3, 34), (9, 11), (27, 3), (81, 1)],
        [(9, 15), (27, 5), (81, 1)],
        [(27, 8), (81, 2)],
        [(81, 5)],
    ]


def test_hyperband_bracket_table_other_settings():
    # eta=2, r_min=2, R=16: s_max = 3; n = ceil(4/(s+1) * 2^s) = 8, 6, 4, 4.
    table = hyperband_brackets(16, grace_period=2, reduction_factor=2)
    assert [(b.s, b.n, b.r) for b in table] == [(3, 8, 2), (2, 6, 4), (1, 4, 8), (0, 4, 16)]
    assert [r.size for r in table[1].rungs] == [6, 3, 1]
    # R=50 is no power of 3: the shared levels 1, 3, 9, 27, then 50 (not Hyperband's own
    # 50 * 3^-i rounded: 2, 6, 17, 50); five brackets of R=81's sizes, each on the top levels.
    table = hyperband_brackets(50)
    assert [[(r.epochs, r.size) for r in b.rungs] for b in table] == [
        [(1, 81), (3, 27), (9, 9), (27, 3), (50, 1)],
        [(3, 34), (9, 11), (27, 3), (50, 1)],
        [(9, 15), (27, 5), (50, 1)],
        [(27, 8), (50, 2)],
        [(50, 5)],
    ]
    with pytest.raises(ValueError, match="grace_period"):
        hyperband_brackets(9, grace_period=10)


def test_hyperband_runs_brackets_s_max_to_0_then_repeats():
    scheduler = HyperbandScheduler(9, 0, 1, 3, max_concurrent_brackets=1)  # textbook: waits
    assert [scheduler.bracket_s(i) for i in range(5)] == [2, 1, 0, 2, 1]
    method = _method(scheduler)
    # Bracket s=2: 9 trials at 1 epoch, 3 at 3, 1 at 9.
    assert start_trials(method, 9) == list(range(9))
    for t in range(9):
        method.report(t, 1, {"val_error": t / 10})
    assert resumed_trials(method) == [0, 1, 2]
    for t in (0, 1, 2):
        _train(method, t, range(2, 4), 1 - t / 10)
    assert resumed_trials(method) == [2]
    _train(method, 2, range(4, 10), 0.1)
    method.complete(2)
    # Bracket s=1: 5 trials at 3 epochs, then the best one to 9.
    assert start_trials(method, 5) == list(range(9, 14))
    assert method.suggest() is None
    for t in range(9, 14):
        assert _train(method, t, range(1, 4), 0.5 - t / 100)[-1] == Decision.PAUSE
    assert resumed_trials(method) == [13]
    _train(method, 13, range(4, 10), 0.1)
    method.complete(13)
    # Bracket s=0: 3 trials straight to 9 epochs (no pause on the way).
    assert start_trials(method, 3) == [14, 15, 16]
    assert method.suggest() is None
    assert set(_train(method, 14, range(1, 9), 0.3)) == {Decision.CONTINUE}


# -- asynchronous Hyperband ----------------------------------------------------------------------


def test_async_hyperband_bracket_probabilities_are_n_s_over_their_sum():
    probabilities = bracket_probabilities(81, 1, 3)
    expected = {4: Fraction(81, 143), 3: Fraction(34, 143), 2: Fraction(15, 143)}
    expected |= {1: Fraction(8, 143), 0: Fraction(5, 143)}
    assert list(probabilities) == [4, 3, 2, 1, 0]
    for s, p in expected.items():
        assert probabilities[s] == pytest.approx(float(p), abs=1e-15)
    two = bracket_probabilities(81, 1, 3, brackets=2)
    assert two == pytest.approx({4: 81 / 115, 3: 34 / 115})
    with pytest.raises(ValueError, match="brackets must be between 1 and 5"):
        bracket_probabilities(81, 1, 3, brackets=6)


def test_async_hyperband_bracket_draws_match_the_probabilities():
    scheduler = AsyncHyperbandScheduler(81, seed=3)
    n = 20_000
    counts = Counter(scheduler.sample_bracket() for _ in range(n))
    # Standard error of a frequency is at most 0.0036 at n=20000; allow 4 of them.
    for s, p in bracket_probabilities(81).items():
        assert counts[s] / n == pytest.approx(p, abs=0.015)


def test_async_hyperband_brackets_are_ashas_with_scaled_grace_periods():
    scheduler = AsyncHyperbandScheduler(81, 0)
    rungs = {s: asha.rungs for s, asha in scheduler.asha.items()}
    assert rungs == {
        4: [1, 3, 9, 27, 81],
        3: [3, 9, 27, 81],
        2: [9, 27, 81],
        1: [27, 81],
        0: [81],
    }
    # Each trial is judged in its own bracket only.
    scheduler.bracket_of.update({0: 4, 1: 4, 2: 0})
    assert scheduler.on_report(0, 1, 0.5) == Decision.CONTINUE
    assert scheduler.on_report(2, 1, 0.9) == Decision.CONTINUE  # bracket 0 has no rung at 1
    assert scheduler.on_report(1, 1, 0.6) == Decision.STOP  # worse than the 1/3 quantile


def test_async_hyperband_with_one_bracket_is_asha():
    single = AsyncHyperbandScheduler(27, 0, brackets=1)
    asha = ASHAScheduler(27, 0, 1, 3, "stopping")
    rng = np.random.default_rng(0)
    for t in range(30):
        single.on_trial_start(t)
        for epoch in (1, 2, 3):
            value = float(rng.random())
            assert single.on_report(t, epoch, value) == asha.on_report(t, epoch, value)


# -- median stopping -----------------------------------------------------------------------------


def test_median_stopping_by_hand():
    s = MedianStoppingScheduler(10, 0, grace_period=2, min_samples=3)
    # Three reference trials; each sees at most 2 others, fewer than min_samples: no stops.
    curves = {0: [0.5, 0.4, 0.3], 1: [0.6, 0.5, 0.4], 2: [0.7, 0.6, 0.5]}
    for t, curve in curves.items():
        for epoch, value in enumerate(curve, 1):
            assert s.on_report(t, epoch, value) == Decision.CONTINUE
    # Running averages: epoch 1: .5 .6 .7 (median .6); epoch 2: .45 .55 .65 (median .55);
    # epoch 3: .4 .5 .6 (median .5).
    assert s.on_report(3, 1, 0.9) == Decision.CONTINUE  # worse, but within the grace period
    assert s.on_report(3, 2, 0.55) == Decision.CONTINUE  # best .55 is not *worse* than .55
    assert s.on_report(3, 3, 0.52) == Decision.STOP  # best .52 > median .5: stops at epoch 3
    # Trial 4: at epoch 3 the others' averages are .4 .5 .6 and trial 3's (.9+.55+.52)/3 = .657:
    # median .55. Its best (.3) counts, not its last value (.8) or its average (.667).
    assert s.on_report(4, 1, 0.9) == Decision.CONTINUE
    assert s.on_report(4, 2, 0.3) == Decision.CONTINUE
    assert s.on_report(4, 3, 0.8) == Decision.CONTINUE


def test_median_stopping_completed_only_compares_with_completed_trials():
    s = MedianStoppingScheduler(3, 0, grace_period=1, min_samples=1, completed_only=True)
    s.on_report(0, 1, 0.5)
    s.on_report(0, 2, 0.4)
    assert s.on_report(1, 1, 0.9) == Decision.CONTINUE  # trial 0 has not completed yet
    s.on_report(0, 3, 0.3)
    s.on_end(0, TrialStatus.COMPLETED)
    assert s.on_report(2, 1, 0.9) == Decision.STOP  # .9 > trial 0's average at epoch 1 (.5)
    assert s.on_report(3, 1, 0.5) == Decision.CONTINUE


def test_median_stopping_through_the_method_marks_the_trial_stopped():
    method = _method(MedianStoppingScheduler(5, 0, grace_period=1, min_samples=1))
    a, b = start_trials(method, 2)
    method.report(a, 1, {"val_error": 0.2})
    assert method.report(b, 1, {"val_error": 0.3}) == Decision.STOP
    assert method.searcher.trials[b].status == TrialStatus.STOPPED
    with pytest.raises(ValueError, match="min_samples"):
        MedianStoppingScheduler(5, 0, min_samples=0)


# -- the methods: settings, determinism, end-to-end runs -----------------------------------------


@pytest.mark.parametrize("name", NEW_METHODS)
def test_conf_lists_every_setting_with_its_default(name):
    conf = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert conf["name"] == name
    assert conf["settings"] == method_settings(name)


@pytest.fixture(scope="module")
def objective(tmp_path_factory) -> TabularObjective:
    return TabularObjective(synthetic_table(tmp_path_factory.mktemp("t") / "t", 80, 9))


def _run(objective, name, seed, budget, n_workers=4, **settings):
    method = make_method(name, objective.problem(), seed, **settings)
    return SimulatedBackend(method, objective, n_workers, budget, seed).run()


def _epochs_by_trial(reports) -> dict[int, list[int]]:
    epochs: dict[int, list[int]] = {}
    for row in reports:
        epochs.setdefault(row["trial_id"], []).append(row["epoch"])
    return epochs


@pytest.mark.parametrize("name", NEW_METHODS)
def test_end_to_end_with_four_workers(objective, name):
    result = _run(objective, name, 0, Budget(time=6 * 3600))
    assert result.ended_by in ("time", "method", "trials")
    assert result.summary["trials"] > 10
    for trial_id, epochs in _epochs_by_trial(result.reports).items():
        # Each epoch is charged once, in order, across pauses and resumes; never past the max.
        assert epochs == list(range(1, len(epochs) + 1)), trial_id
        assert len(epochs) <= objective.max_epochs


@pytest.mark.parametrize("name", NEW_METHODS)
def test_deterministic_for_a_fixed_seed(objective, name):
    budget = Budget(time=2 * 3600)
    first = _run(objective, name, 1, budget).reports
    assert first == _run(objective, name, 1, budget).reports
    assert first != _run(objective, name, 2, budget).reports


def test_sh_end_to_end_promotes_the_best_of_each_bracket(objective):
    # 54 trials = 6 brackets of (9 at 1 epoch, 3 at 3, 1 at 9): 6 * (9 + 3*2 + 1*6) = 126 epochs.
    result = _run(objective, "sh", 0, Budget(trials=54))
    assert result.ended_by == "trials"
    assert result.summary["epochs"] == 126
    epochs = _epochs_by_trial(result.reports)
    first = {r["trial_id"]: r["val_error"] for r in result.reports if r["epoch"] == 1}
    third = {r["trial_id"]: r["val_error"] for r in result.reports if r["epoch"] == 3}
    for k in range(6):
        bracket = range(9 * k, 9 * k + 9)
        top3 = sorted(bracket, key=lambda t: (first[t], t))[:3]
        assert sorted(t for t in bracket if len(epochs[t]) >= 3) == sorted(top3)
        top1 = min(top3, key=lambda t: (third[t], t))
        assert [t for t in bracket if len(epochs[t]) == 9] == [top1]
    paused = sum(r["decision"] == "paused" for r in result.reports)
    assert paused == 6 * (9 + 3)


def _statuses(result) -> Counter:
    return Counter(row["status"] for row in result.trials)


@pytest.mark.parametrize("n_workers", [1, 4])
def test_sh_bracket_ends_with_one_completed_and_eight_stopped(objective, n_workers):
    method = make_method("sh", objective.problem(), 0)
    result = SimulatedBackend(method, objective, n_workers, Budget(trials=9), 0).run()
    assert result.ended_by == "trials"
    assert _statuses(result) == {"stopped": 8, "completed": 1}
    assert all(row["end_time"] >= row["start_time"] for row in result.trials)
    assert method.searcher.pending() == []


def test_sh_trial_budget_below_the_rung_size_still_trains_the_best_to_max_epochs(objective):
    result = _run(objective, "sh", 0, Budget(trials=5))  # the bottom rung would hold 9
    assert result.ended_by == "trials"
    first = {r["trial_id"]: r["val_error"] for r in result.reports if r["epoch"] == 1}
    best = min(first, key=lambda t: (first[t], t))
    epochs = _epochs_by_trial(result.reports)
    # 5 trials x 1 epoch, then the best alone to 3 and to 9: 5 + 2 + 6 epochs.
    assert {t: len(e) for t, e in epochs.items()} == {t: 9 if t == best else 1 for t in range(5)}
    assert result.summary["epochs"] == 13
    assert _statuses(result) == {"stopped": 4, "completed": 1}


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> TabularObjective:
    return TabularObjective(synthetic_table(tmp_path_factory.mktemp("s") / "t", 20, 9))


@pytest.mark.parametrize(
    ("name", "epochs", "completed"),
    [
        # Brackets of 9, 9 and the last 2 configurations (closed: 2 at 1, 1 at 3, 1 at 9):
        # 2 * (9 + 3*2 + 6) + (2 + 2 + 6) = 52 epochs, each bracket's best completes.
        ("sh", 52, 3),
        # Cycle (9, 3, 1) + (5, 1) + (3): 17 trials, 69 epochs, 5 completed; then bracket s=2
        # with the last 3 (closed: 3 at 1, 1 at 3, 1 at 9): 3 + 2 + 6 epochs, 1 completed.
        ("hyperband", 80, 6),
    ],
)
def test_finite_table_runs_every_bracket_that_can_finish(small_table, name, epochs, completed):
    method = make_method(name, small_table.problem(), 0)
    result = SimulatedBackend(method, small_table, 4, Budget(time=1e9), 0).run()
    assert result.ended_by == "method"
    assert result.summary["trials"] == 20
    assert result.summary["epochs"] == epochs
    assert _statuses(result) == {"completed": completed, "stopped": 20 - completed}
    assert method.searcher.pending() == []


def test_hyperband_end_to_end_two_cycles(objective):
    # R=9, eta=3: brackets (9 at 1, 3 at 3, 1 at 9), (5 at 3, 1 at 9), (3 at 9): 17 trials and
    # 21 + 21 + 27 = 69 epochs per cycle.
    result = _run(objective, "hyperband", 0, Budget(trials=34))
    assert result.ended_by == "trials"
    assert result.summary["epochs"] == 2 * 69
    lengths = Counter(len(e) for e in _epochs_by_trial(result.reports).values())
    assert lengths == {1: 2 * 6, 3: 2 * (2 + 4), 9: 2 * (1 + 1 + 3)}


# -- DEHB ----------------------------------------------------------------------------------------


def _dehb(max_epochs=9, **settings) -> Method:
    space = SearchSpace.from_spec(
        {
            "x": {"type": "uniform", "low": 0.0, "high": 1.0},
            "y": {"type": "uniform", "low": 0, "high": 1},
        }
    )
    return dehb.make(Problem(space, max_epochs), 0, **settings)


def _x(method: Method, trial_id: int) -> np.ndarray:
    return method.searcher.space.encode(method.searcher.trials[trial_id].config)


def test_dehb_population_sizes():
    assert DEHBScheduler.population_sizes(81) == [81, 34, 15, 8, 5]
    assert DEHBScheduler.population_sizes(27) == [27, 12, 6, 4]
    assert DEHBScheduler.population_sizes(9) == [9, 5, 3]


def test_dehb_first_iteration_is_hyperband_then_de_takes_over():
    m = _dehb(max_concurrent_brackets=1)
    pops = m.searcher
    p0, p1, p2 = (p.copy() for p in pops.population)
    # Bracket 0 (s=2): 9 new trials evaluate P_0's random members 0..8 themselves.
    assert start_trials(m, 9) == list(range(9))
    assert m.suggest() is None
    for t in range(9):
        np.testing.assert_allclose(_x(m, t), p0[t])
        assert m.report(t, 1, {"val_error": t / 10}) == Decision.PAUSE
    np.testing.assert_allclose(pops.fitness[0], np.arange(9) / 10)
    # Successive halving: the best 3 resume (checkpoints) and take P_1's parents 0, 1, 2.
    assert resumed_trials(m) == [0, 1, 2]
    assert m.dropped_trials() == [3, 4, 5, 6, 7, 8]  # never promoted: stopped
    for t, v in [(0, 0.5), (1, 0.4), (2, 0.3)]:
        assert _train(m, t, range(2, 4), v) == [Decision.CONTINUE, Decision.PAUSE]
    np.testing.assert_allclose(pops.fitness[1], [0.5, 0.4, 0.3, np.inf, np.inf])
    np.testing.assert_allclose(pops.population[1][:3], [_x(m, t) for t in (0, 1, 2)])
    assert resumed_trials(m) == [2]
    assert m.dropped_trials() == [1, 0]
    _train(m, 2, range(4, 10), 0.2)
    m.complete(2)
    assert pops.fitness[2][0] == 0.2
    # Bracket 1 (s=1): 5 new trials at 3 epochs; P_1's parents 3, 4 (unevaluated: themselves),
    # then 0, 1, 2 (evaluated: DE offspring, new points).
    assert start_trials(m, 5) == list(range(9, 14))
    np.testing.assert_allclose([_x(m, 9), _x(m, 10)], p1[3:5])
    for t in (11, 12, 13):
        assert not any(np.allclose(_x(m, t), row) for row in [*p0, *p1, *pops.population[1]])
    for t, v in [(9, 0.6), (10, 0.7), (11, 0.45), (12, 0.9), (13, 0.35)]:
        assert _train(m, t, range(1, 4), v) == [Decision.CONTINUE] * 2 + [Decision.PAUSE]
    # Selection: trial 11 (0.45 <= parent 0's 0.5) replaces it; trials 12 (0.9 > parent 1's 0.4)
    # and 13 (0.35 > parent 2's 0.3) do not; trials 9, 10 fill the unevaluated parents 3, 4.
    np.testing.assert_allclose(pops.fitness[1], [0.45, 0.4, 0.3, 0.6, 0.7])
    np.testing.assert_allclose(pops.population[1][0], _x(m, 11))
    assert resumed_trials(m) == [13]  # the bracket's best at 3 epochs
    assert m.dropped_trials() == [11, 9, 10, 12]
    _train(m, 13, range(4, 10), 0.25)
    m.complete(13)
    # Trials 2 and 13 took P_2's parents 0 and 1. Bracket 2 (s=0): parent 2 is unevaluated
    # (trial 14 evaluates it), parents 0 and 1 are evaluated (trials 15, 16 are offspring).
    np.testing.assert_allclose(pops.fitness[2], [0.2, 0.25, np.inf])
    assert start_trials(m, 3) == [14, 15, 16]
    np.testing.assert_allclose(_x(m, 14), p2[2])
    for t in (15, 16):
        assert not any(np.allclose(_x(m, t), row) for row in [*p2, *pops.population[2]])
    for t in (14, 15, 16):
        _train(m, t, range(1, 10), 0.3)
        m.complete(t)
    # Bracket 3 (s=2 again): the second iteration. All new trials are DE offspring; trials stop
    # at their budget, and rung 1 starts new trials from scratch instead of resuming.
    assert start_trials(m, 9) == list(range(17, 26))
    for t in range(17, 26):
        assert not any(np.allclose(_x(m, t), row) for row in p0)
        assert m.report(t, 1, {"val_error": 0.05}) == Decision.STOP
    assert resumed_trials(m) == []
    assert start_trials(m, 3) == [26, 27, 28]
    assert _train(m, 26, range(1, 4), 0.1) == [Decision.CONTINUE] * 2 + [Decision.STOP]


def test_dehb_opens_a_new_bracket_for_idle_workers_by_default():
    m = _dehb()
    start_trials(m, 9)
    assert m.suggest().trial_id == 9  # bracket 1 (s=1) opens while bracket 0's rung is running
    assert m.scheduler.where[9][0].index == 1
    assert _train(m, 9, range(1, 4), 0.5)[-1] == Decision.PAUSE  # its budget is 3 epochs


def test_dehb_mutation_and_crossover():
    pops = _dehb().searcher
    pool = np.array([[0.2, 0.2], [0.6, 0.3], [0.5, 0.1]])
    target = np.array([0.9, 0.9])
    pops.crossover_prob = 1.0  # every coordinate from the mutant a + 0.5 (b - c)
    mutants = {
        tuple(np.round(pool[a] + 0.5 * (pool[b] - pool[c]), 12))
        for a in range(3)
        for b in range(3)
        for c in range(3)
        if len({a, b, c}) == 3 and np.all(pool[a] + 0.5 * (pool[b] - pool[c]) >= 0)
    }
    for _ in range(20):
        assert tuple(np.round(pops._offspring(target, pool), 12)) in mutants
    pops.crossover_prob = 0.0  # exactly one coordinate from the mutant
    for _ in range(20):
        assert (pops._offspring(target, pool) != target).sum() == 1
    with pytest.raises(ValueError, match="crossover_prob"):
        _dehb(crossover_prob=1.5)


def test_dehb_trial_budget_closes_the_first_bracket(objective):
    method = make_method("dehb", objective.problem(), 0)
    result = SimulatedBackend(method, objective, 4, Budget(trials=5), 0).run()
    # Bracket s=2 closed with 5 trials: 5 at 1 epoch, the best to 3, then to 9.
    assert result.summary["epochs"] == 5 + 2 + 6
    assert _statuses(result) == {"completed": 1, "stopped": 4}
    assert method.searcher.pending() == []


def test_dehb_later_iterations_are_not_closed():
    m = _dehb(max_concurrent_brackets=1)
    m.scheduler.opened = len(m.scheduler.table)  # skip the first iteration: s=2 of the second
    start_trials(m, 4)
    assert m.scheduler.on_no_new_trials() is False  # rung 1 needs new trials: nothing to close
    assert m.scheduler.active[0].sizes == [9, 3, 1]
    assert [m.report(t, 1, {"val_error": 0.5}) for t in range(4)] == [Decision.STOP] * 4
    assert m.suggest(allow_new=False) is None
