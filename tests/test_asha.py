"""ASHA semantics pinned by hand-computed expectations."""

import pytest

from hpo_methods.protocol import Decision, TrialStatus
from hpo_methods.schedulers.asha import ASHAScheduler, rung_levels


def test_rungs_for_eta3_grace1_max27():
    assert rung_levels(1, 3, 27) == [1, 3, 9, 27]
    assert ASHAScheduler(27, 0, grace_period=1, reduction_factor=3).rungs == [1, 3, 9, 27]


def test_rungs_when_max_is_not_a_power():
    assert rung_levels(1, 3, 20) == [1, 3, 9, 20]
    assert rung_levels(2, 2, 20) == [2, 4, 8, 16, 20]


@pytest.mark.parametrize(
    ("grace", "eta", "max_epochs", "message"),
    [(0, 3, 27, "grace_period"), (1, 1, 27, "reduction_factor"), (30, 3, 27, "exceeds")],
)
def test_bad_settings(grace, eta, max_epochs, message):
    with pytest.raises(ValueError, match=message):
        rung_levels(grace, eta, max_epochs)


def test_stopping_variant_decisions_by_hand():
    s = ASHAScheduler(27, 0, 1, 3, "stopping")
    # Rung 1 values arrive 0.5, 0.6, 0.4, 0.45. Cutoff = 1/3 quantile (linear) of those so far:
    # [0.5] -> 0.5: continue; [0.5, 0.6] -> 0.5333: 0.6 stops;
    # [0.4, 0.5, 0.6] -> 0.4667: 0.4 continues; [0.4, 0.45, 0.5, 0.6] -> 0.45: 0.45 continues.
    assert s.on_report(0, 1, 0.5) == Decision.CONTINUE
    assert s.on_report(1, 1, 0.6) == Decision.STOP
    assert s.on_report(2, 1, 0.4) == Decision.CONTINUE
    assert s.on_report(3, 1, 0.45) == Decision.CONTINUE
    # Between rungs every trial continues.
    assert s.on_report(0, 2, 0.9) == Decision.CONTINUE
    # Rung 3: first arrival continues, a worse second one stops, a better one continues.
    assert s.on_report(0, 3, 0.3) == Decision.CONTINUE
    assert s.on_report(2, 3, 0.35) == Decision.STOP
    assert s.on_report(3, 3, 0.2) == Decision.CONTINUE


def test_promotion_variant_by_hand():
    s = ASHAScheduler(27, 0, 1, 3, "promotion")
    values = {0: 0.5, 1: 0.6, 2: 0.4, 3: 0.7, 4: 0.3, 5: 0.8}
    promotions = []
    for trial_id, value in values.items():
        assert s.on_report(trial_id, 1, value) == Decision.PAUSE
        promotions.append(s.trial_to_resume())
    # The best paused trial not promoted yet is promoted if no worse than the 1/3 quantile
    # (linear) of the rung's values: n=1: none; n=2: cutoff 0.5333, trial 0 (0.5);
    # n=3: cutoff 0.4667, trial 2 (0.4); n=4: cutoff 0.5, trial 1 (0.6) is not;
    # n=5: cutoff 0.4333, trial 4 (0.3); n=6: cutoff 0.4667, trial 1 (0.6) is not.
    assert promotions == [None, 0, 2, None, 4, None]
    # Trials 2 and 4 reach rung 3 and pause: cutoff 0.25 + 0.1 / 3, trial 4 (0.25) goes on to 9.
    assert s.on_report(2, 3, 0.35) == Decision.PAUSE
    assert s.on_report(4, 3, 0.25) == Decision.PAUSE
    assert s.trial_to_resume() == 4
    assert s.trial_to_resume() is None


def test_promotion_skips_ended_trials():
    s = ASHAScheduler(9, 0, 1, 3, "promotion")
    s.on_report(0, 1, 0.1)
    s.on_end(0, TrialStatus.FAILED)
    s.on_report(1, 1, 0.5)
    s.on_report(2, 1, 0.6)
    assert s.trial_to_resume() is None
