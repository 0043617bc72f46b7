"""Worker utilisation in every run's summary, on hand-computed schedules; synchronous brackets
keep every worker busy by default."""

import pytest

from benchmarks.local import LocalBackend
from benchmarks.registry import make_objective
from benchmarks.simulated import SimulatedBackend
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget, WorkerClock
from hpo_methods.protocol import Method
from hpo_methods.registry import make_method
from hpo_methods.schedulers.sh import SuccessiveHalvingScheduler
from tests.tables import synthetic_table
from tests.test_simulated import InOrderSearcher, _fifo, table_with_curves


def test_worker_clock_by_hand():
    clock = WorkerClock(2)
    clock.busy(0, 0.0)
    clock.busy(1, 1.0)
    clock.free(0, 3.0)
    clock.busy(0, 5.0)
    # Worker 0: 0-3 and 5-8; worker 1: 1-8 (still busy at the end). 3 + 3 + 7 = 13 of 2 x 8.
    assert clock.utilisation(8.0) == pytest.approx(13 / 16)
    assert clock.utilisation(0.0) is None
    with pytest.raises(RuntimeError, match="while busy"):
        clock.busy(1, 8.0)


def test_fifo_utilisation_on_the_hand_computed_schedule(tmp_path):
    # The schedule of tests/test_simulated.py: epoch times 3, 1, 2, 5, 4, 1 s, 2 epochs each,
    # 6 trials, 4 workers. Worker 0: T0 0-6; worker 1: T1 0-2, T4 2-10; worker 2: T2 0-4,
    # T5 4-6; worker 3: T3 0-10. The run ends at 10 s: (6 + 10 + 6 + 10) / (4 x 10) = 0.8.
    objective = table_with_curves(tmp_path, [3, 1, 2, 5, 4, 1], [[0.5, 0.4]] * 6)
    result = SimulatedBackend(_fifo(objective, 2), objective, 4, Budget(trials=6), 0).run()
    assert result.summary["elapsed_time"] == 10.0
    assert result.summary["worker_utilisation"] == pytest.approx(0.8)


def test_time_budget_counts_running_work_up_to_the_end(tmp_path):
    # Budget 5 s: reports up to t = 5 (T3's first epoch); the run ends there with every worker
    # busy since t = 0: utilisation 1.
    objective = table_with_curves(tmp_path, [3, 1, 2, 5, 4, 1], [[0.5, 0.4]] * 6)
    result = SimulatedBackend(_fifo(objective, 2), objective, 4, Budget(time=5.0), 0).run()
    assert result.summary["elapsed_time"] == 5.0
    assert result.summary["worker_utilisation"] == pytest.approx(1.0)


def _sh_run(tmp_path, max_concurrent_brackets):
    """SH with R = 3, eta = 3 (rungs: 3 trials at 1 epoch, the best to 3), configurations in
    order, every epoch 1 s; in each bracket the first trial is the best. 2 workers, 6 trials."""
    curves = [[0.1, 0.1, 0.1], [0.5, 0.5, 0.5], [0.6, 0.6, 0.6]] * 2
    objective = table_with_curves(tmp_path, [1.0] * 6, curves)
    scheduler = SuccessiveHalvingScheduler(3, 0, 1, 3, None, max_concurrent_brackets)
    method = Method(InOrderSearcher(objective.space, 0, 3), scheduler, objective.problem())
    return SimulatedBackend(method, objective, 2, Budget(trials=6), 0).run()


def test_textbook_sh_leaves_workers_idle_by_hand(tmp_path):
    # One bracket at a time. t=0: W0 T0, W1 T1. t=1: W0 T2; W1 waits (rung incomplete).
    # t=2: T0 promoted, W0 resumes it to epoch 3 (t=4); W1 waits for the bracket to finish.
    # t=4: bracket 2: W0 T3, W1 T4. t=5: W0 T5, W1 waits. t=6: W0 resumes T3 (to t=8).
    # Busy: W0 8 s, W1 2 s, over 2 x 8 s: 10/16.
    result = _sh_run(tmp_path, 1)
    assert result.summary["elapsed_time"] == 8.0
    assert result.summary["worker_utilisation"] == pytest.approx(10 / 16)


def test_default_sh_opens_the_next_bracket_for_an_idle_worker_by_hand(tmp_path):
    # t=0: W0 T0, W1 T1 (bracket 1). t=1: W0 T2; W1 opens bracket 2 with T3. t=2: T0 promoted,
    # W0 resumes it (to t=4); W1 T4. t=3: W1 T5. t=4: T0 completes; T5 completes bracket 2's
    # rung, T3 is promoted and W0 resumes it (to t=6); W1 has nothing left (trial budget).
    # Busy: W0 6 s, W1 4 s, over 2 x 6 s: 10/12.
    result = _sh_run(tmp_path, None)
    assert result.summary["elapsed_time"] == 6.0
    assert result.summary["worker_utilisation"] == pytest.approx(10 / 12)
    completed = [r["trial_id"] for r in result.reports if r["decision"] == "completed"]
    assert completed == [0, 3]  # each bracket's best, as in the textbook schedule


@pytest.fixture(scope="module")
def objective(tmp_path_factory) -> TabularObjective:
    return TabularObjective(synthetic_table(tmp_path_factory.mktemp("u") / "t", 80, 9))


@pytest.mark.parametrize("name", ["sh", "hyperband", "bohb", "dehb"])
def test_synchronous_methods_keep_workers_busy_by_default(objective, name):
    budget = Budget(time=6 * 3600)
    busy = {}
    for settings in ({}, {"max_concurrent_brackets": 1}):
        method = make_method(name, objective.problem(), 0, **settings)
        result = SimulatedBackend(method, objective, 4, budget, 0).run()
        busy[bool(settings)] = result.summary["worker_utilisation"]
    asha = make_method("asha", objective.problem(), 0)
    asha_busy = SimulatedBackend(asha, objective, 4, budget, 0).run().summary
    assert busy[False] >= 0.97 * asha_busy["worker_utilisation"]
    assert busy[True] < busy[False] - 0.1  # one bracket at a time leaves workers idle


def test_local_backend_reports_utilisation(tmp_path):
    synthetic_table(tmp_path, n_configs=6, max_epochs=2)
    spec = {"name": "synthetic", "kind": "tabular", "table": str(tmp_path)}
    objective = make_objective(spec)
    method = make_method("random", objective.problem(), seed=0)
    result = LocalBackend(method, objective, spec, 2, Budget(trials=4), seed=0).run()
    assert 0.0 < result.summary["worker_utilisation"] <= 1.0
