"""The simulated backend: hand-computed schedules, pause/resume accounting, budgets, failures."""

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.objective import EpochResult, Objective, TrialRun
from benchmarks.simulated import SimulatedBackend
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget
from hpo_methods.problem import Problem
from hpo_methods.protocol import Method, Searcher
from hpo_methods.registry import make_method
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.schedulers.fifo import FIFOScheduler
from surrogates.table import write_table
from tests.tables import synthetic_table


class InOrderSearcher(Searcher):
    """Proposes the finite space's candidates in order (makes schedules hand-computable)."""

    def propose(self):
        n = len(self.trials)
        cands = self.space.candidates
        return dict(cands[n]) if n < len(cands) else None


def table_with_curves(path: Path, epoch_times: list[float], curves: list[list[float]]):
    """One seed per configuration x; epoch time and val_error per epoch given by hand."""
    rows = []
    for cid, (t, curve) in enumerate(zip(epoch_times, curves, strict=True)):
        for epoch, value in enumerate(curve, start=1):
            rows.append(
                dict(
                    config_id=cid,
                    seed=0,
                    epoch=epoch,
                    x=cid,
                    val_error=value,
                    train_loss=value,
                    epoch_time=t,
                    cumulative_time=t * epoch,
                )
            )
    meta = {
        "name": "hand",
        "search_space": {"x": {"type": "randint", "low": 0, "high": 100}},
        "max_epochs": len(curves[0]),
        "metric": "val_error",
        "metrics": ["val_error", "train_loss"],
    }
    return TabularObjective(write_table(path, pd.DataFrame(rows), meta))


def _fifo(objective, epochs: int) -> Method:
    """Configurations in order, each trained for ``epochs`` epochs."""
    searcher = InOrderSearcher(objective.space, 0, epochs)
    return Method(searcher, FIFOScheduler(epochs, 0), objective.problem())


def test_four_workers_follow_the_hand_computed_schedule(tmp_path):
    # Epoch times 3, 1, 2, 5, 4, 1 s; 2 epochs each; FIFO; at most 6 trials; 4 workers.
    objective = table_with_curves(tmp_path, [3, 1, 2, 5, 4, 1], [[0.5, 0.4]] * 6)
    method = _fifo(objective, 2)
    result = SimulatedBackend(method, objective, 4, Budget(trials=6), seed=0).run()
    got = [(r["trial_id"], r["epoch"], r["time"], r["worker"]) for r in result.reports]
    # t=0: workers 0-3 take trials 0-3. t=1: T1 e1. t=2: T2 e1 (scheduled first), then T1 e2
    # completes and worker 1 takes T4. t=3: T0 e1. t=4: T2 e2 completes, worker 2 takes T5.
    # t=5: T3 e1, then T5 e1. t=6: T4 e1, T0 e2, T5 e2 (in scheduling order). t=10: T3 e2, T4 e2.
    assert got == [
        (1, 1, 1.0, 1), (2, 1, 2.0, 2), (1, 2, 2.0, 1), (0, 1, 3.0, 0),
        (2, 2, 4.0, 2), (3, 1, 5.0, 3), (5, 1, 5.0, 2), (4, 1, 6.0, 1),
        (0, 2, 6.0, 0), (5, 2, 6.0, 2), (3, 2, 10.0, 3), (4, 2, 10.0, 1),
    ]  # fmt: skip
    assert result.ended_by == "trials"
    assert result.summary["elapsed_time"] == 10.0


def test_time_budget_drops_epochs_that_finish_later(tmp_path):
    objective = table_with_curves(tmp_path, [3, 1, 2, 5, 4, 1], [[0.5, 0.4]] * 6)
    method = _fifo(objective, 2)
    result = SimulatedBackend(method, objective, 4, Budget(time=5.0), seed=0).run()
    assert max(r["time"] for r in result.reports) == 5.0
    assert len(result.reports) == 7
    assert result.ended_by == "time"


def test_epoch_budget(tmp_path):
    objective = table_with_curves(tmp_path, [3, 1, 2, 5, 4, 1], [[0.5, 0.4]] * 6)
    method = _fifo(objective, 2)
    result = SimulatedBackend(method, objective, 2, Budget(epochs=5), seed=0).run()
    assert len(result.reports) == 5
    assert result.ended_by == "epochs"


def test_pause_and_resume_charge_each_epoch_once(tmp_path):
    objective = TabularObjective(synthetic_table(tmp_path, n_configs=60, max_epochs=9))
    method = make_method("asha", Problem(objective.space, 9), seed=3, variant="promotion")
    result = SimulatedBackend(method, objective, 4, Budget(time=3000), seed=3).run()
    reports = pd.DataFrame(result.reports)
    assert (reports["decision"] == "paused").any()
    resumed = 0
    for _, trial in reports.groupby("trial_id"):
        # epochs 1..k exactly once each, in time order
        assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
        assert trial["time"].is_monotonic_increasing
        resumed += int((trial["decision"] == "paused").sum())
    assert resumed > 0
    # No worker ever trains two epochs at once: its busy intervals do not overlap.
    for _, work in reports.sort_values(["time", "trial_id"]).groupby("worker"):
        starts = (work["time"] - work["epoch_time"]).to_numpy()
        ends = work["time"].to_numpy()
        assert (starts[1:] >= ends[:-1] - 1e-9).all()
    # Total busy time equals the epochs' own times: nothing paid twice.
    busy = reports["epoch_time"].sum()
    assert busy <= 4 * result.summary["elapsed_time"] + 1e-6


def test_a_resumed_trial_continues_at_its_next_epoch(tmp_path):
    # Trial values at epoch 1: 0.5, 0.6, 0.4. After the second, trial 0 (0.5) is promoted to rung 3
    # (the 1/3 quantile of [0.5, 0.6] is 0.533); after the third, trial 2 (0.4; quantile 0.467).
    curves = [[0.5, 0.45, 0.4], [0.6, 0.55, 0.5], [0.4, 0.3, 0.2]]
    objective = table_with_curves(tmp_path, [1.0, 1.0, 1.0], curves)
    scheduler = ASHAScheduler(3, 0, grace_period=1, reduction_factor=3, variant="promotion")
    method = Method(InOrderSearcher(objective.space, 0, 3), scheduler, objective.problem())
    result = SimulatedBackend(method, objective, 1, Budget(time=100), seed=0).run()
    got = [(r["trial_id"], r["epoch"], r["time"], r["decision"]) for r in result.reports]
    assert got == [
        (0, 1, 1.0, "paused"),
        (1, 1, 2.0, "paused"),
        (0, 2, 3.0, "continue"),
        (0, 3, 4.0, "completed"),
        (2, 1, 5.0, "paused"),
        (2, 2, 6.0, "continue"),
        (2, 3, 7.0, "completed"),
    ]


class FlakyObjective(Objective):
    """Trial 1 raises at its second epoch; trial 2 diverges (NaN) at its first."""

    name = "flaky"
    max_epochs = 3

    def __init__(self, space):
        self.space = space

    def start_trial(self, trial_id, config, seed):
        class Run(TrialRun):
            def next_epoch(run):
                run.epochs_done += 1
                if trial_id == 1 and run.epochs_done == 2:
                    raise RuntimeError("CUDA out of memory")
                value = float("nan") if trial_id == 2 else 0.5
                return EpochResult({"val_error": value}, 1.0)

        return Run()


def test_crashed_and_diverged_trials_are_recorded_and_the_run_goes_on(tmp_path):
    space = TabularObjective(synthetic_table(tmp_path, n_configs=5, max_epochs=3)).space
    objective = FlakyObjective(space)
    method = make_method("random", Problem(space, 3), seed=0)
    result = SimulatedBackend(method, objective, 2, Budget(trials=5), seed=0).run()
    trials = {t["trial_id"]: t for t in result.trials}
    assert trials[1]["status"] == "failed"
    assert "CUDA out of memory" in trials[1]["reason"]
    assert trials[2]["status"] == "failed"
    assert "diverged" in trials[2]["reason"]
    assert [t["status"] for i, t in trials.items() if i not in (1, 2)] == ["completed"] * 3


@pytest.mark.parametrize("bad", [{"time": -1.0}, {"trials": 0}, {}])
def test_bad_budgets(bad):
    with pytest.raises(ValueError, match="budget"):
        Budget(**bad)


def test_same_seed_same_reports_different_seed_differs(tmp_path):
    objective = TabularObjective(synthetic_table(tmp_path, n_configs=50, max_epochs=9))

    def run(seed):
        method = make_method("asha", Problem(objective.space, 9), seed=seed)
        return SimulatedBackend(method, objective, 4, Budget(time=2000), seed=seed).run().reports

    assert run(1) == run(1)
    assert run(1) != run(2)
