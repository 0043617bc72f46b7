"""count_method_time: the method's decision time on the simulated clock, schedules by hand."""

import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_dir

from benchmarks.app import run_job
from benchmarks.objective import CurveRun, Objective, TrialRun
from benchmarks.settings import ConfigError, settings_from_config
from benchmarks.simulated import SimulatedBackend
from benchmarks.tuning import Budget
from hpo_methods.problem import Problem
from hpo_methods.protocol import Method, Searcher
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.space import SearchSpace
from tests.tables import synthetic_table

CONF = Path(__file__).resolve().parents[1] / "conf"
COSTS = {"suggest": 0.5, "report": 0.25, "complete": 0.125, "fail": 1.0}  # seconds, exact


class FakeClock:
    """A clock that moves only when the method below spends time on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowMethod(Method):
    """A method whose every call takes its time in ``COSTS`` on a :class:`FakeClock`."""

    def __init__(self, searcher, scheduler, clock: FakeClock) -> None:
        super().__init__(searcher, scheduler, Problem(searcher.space, scheduler.max_epochs))
        self.clock = clock

    def _spend(self, call: str) -> None:
        self.clock.now += COSTS[call]

    def suggest(self, allow_new=True):
        self._spend("suggest")
        return super().suggest(allow_new)

    def report(self, trial_id, epoch, metrics):
        self._spend("report")
        return super().report(trial_id, epoch, metrics)

    def complete(self, trial_id):
        self._spend("complete")
        super().complete(trial_id)

    def fail(self, trial_id, reason=""):
        self._spend("fail")
        super().fail(trial_id, reason)


class InOrder(Searcher):
    def propose(self):
        n = len(self.trials)
        return {"x": n} if n < 3 else None


class Fixed(Objective):
    """Trial x trains epochs of ``times[x]`` seconds with val_error 0.5; x in ``broken`` fails to
    start."""

    def __init__(self, times: list[float], max_epochs: int, broken: tuple[int, ...] = ()) -> None:
        self.name = "fixed"
        self.space = SearchSpace.from_spec({"x": {"type": "randint", "low": 0, "high": 9}})
        self.max_epochs = max_epochs
        self.times = times
        self.broken = broken

    def start_trial(self, trial_id, config, seed) -> TrialRun:
        if config["x"] in self.broken:
            raise RuntimeError("out of memory")
        n = self.max_epochs
        return CurveRun(("val_error",), [[0.5]] * n, [self.times[config["x"]]] * n)


def _backend(objective, budget, clock=None, **options):
    space, epochs = objective.space, objective.max_epochs
    if clock is None:
        method = Method(InOrder(space, 0, epochs), FIFOScheduler(epochs, 0), objective.problem())
        return SimulatedBackend(method, objective, 2, budget, 0, **options)
    method = SlowMethod(InOrder(space, 0, epochs), FIFOScheduler(epochs, 0), clock)
    return SimulatedBackend(method, objective, 2, budget, 0, clock=clock, **options)


def _rows(result):
    return [(r["trial_id"], r["epoch"], r["time"], r["worker"]) for r in result.reports]


def _times(result):
    return [(t["trial_id"], t["start_time"], t["end_time"]) for t in result.trials]


def test_decision_times_delay_workers_as_computed_by_hand():
    # 2 workers, 3 trials of 2 epochs (2 s, 1 s, 1 s each); suggest 0.5 s, report 0.25 s,
    # complete 0.125 s. t=0: suggest -> 0.5, T0 starts on worker 0; suggest -> 1.0, T1 on
    # worker 1. T1 e1 ends 2.0, decided 2.25 -> e2 ends 3.25. T0 e1 ends 2.5, decided 2.75 -> e2
    # ends 4.75. T1 e2 at 3.25: report + complete -> 3.625; suggest -> 4.125, T2 on worker 1
    # (e1 ends 5.125). T0 e2 at 4.75 -> 5.125; worker 0 asks (nothing left): -> 5.625. T2 e1
    # ended at 5.125 but the method is busy until 5.625: decided 5.875 -> e2 ends 6.875; worker
    # 0 asks again -> 6.375. T2 e2 at 6.875 -> 7.25; the last ask -> 7.75.
    result = _backend(Fixed([2, 1, 1], 2), Budget(trials=3), FakeClock(), count_method_time=True)
    result = result.run()
    assert _rows(result) == [
        (1, 1, 2.0, 1), (0, 1, 2.5, 0), (1, 2, 3.25, 1),
        (0, 2, 4.75, 0), (2, 1, 5.125, 1), (2, 2, 6.875, 1),
    ]  # fmt: skip
    assert _times(result) == [(0, 0.5, 4.75), (1, 1.0, 3.25), (2, 4.125, 6.875)]
    assert result.summary["elapsed_time"] == 7.75
    # 6 suggests, 6 reports, 3 completes
    assert result.summary["method_time"] == 6 * 0.5 + 6 * 0.25 + 3 * 0.125
    assert result.ended_by == "trials"


def test_the_same_run_without_method_time():
    # t=0: T0, T1 start. T1 e1 at 1 -> e2 at 2; T0 e1 at 2 -> e2 at 4; T1 e2 at 2 completes and
    # worker 1 takes T2 (e1 at 3, e2 at 4); T0 e2 at 4; T2 e2 at 4.
    result = _backend(Fixed([2, 1, 1], 2), Budget(trials=3), FakeClock()).run()
    assert _rows(result) == [
        (1, 1, 1.0, 1), (0, 1, 2.0, 0), (1, 2, 2.0, 1),
        (2, 1, 3.0, 1), (0, 2, 4.0, 0), (2, 2, 4.0, 1),
    ]  # fmt: skip
    assert _times(result) == [(0, 0.0, 4.0), (1, 0.0, 2.0), (2, 2.0, 4.0)]
    assert result.summary["elapsed_time"] == 4.0
    assert result.summary["method_time"] == 0.0


def test_an_epoch_the_method_would_see_after_the_time_budget_is_not_reported():
    # As in the first test: T2 e1 ends at 5.125 <= 5.5 but is handled at 5.625 > 5.5.
    backend = _backend(Fixed([2, 1, 1], 2), Budget(time=5.5), FakeClock(), count_method_time=True)
    result = backend.run()
    assert [r[:3] for r in _rows(result)] == [(1, 1, 2.0), (0, 1, 2.5), (1, 2, 3.25), (0, 2, 4.75)]
    assert result.ended_by == "time"
    assert result.summary["elapsed_time"] == 5.625


def test_a_trial_that_cannot_start_costs_the_fail_decision():
    # 1 epoch each (T0 2 s, T2 1 s); T1 fails to start; fail takes 1 s. suggest -> 0.5, T0 on
    # worker 0 (ends 2.5); suggest -> 1.0, T1 fails -> 2.0; suggest -> 2.5, T2 on worker 1 (ends
    # 3.5). T0 at 2.5: report + complete -> 2.875, ask -> 3.375. T2 at 3.5 -> 3.875, ask -> 4.375.
    objective = Fixed([2, 9, 1], 1, broken=(1,))
    result = _backend(objective, Budget(trials=3), FakeClock(), count_method_time=True).run()
    assert _rows(result) == [(0, 1, 2.5, 0), (2, 1, 3.5, 1)]
    assert _times(result) == [(0, 0.5, 2.5), (1, 1.0, 1.0), (2, 2.5, 3.5)]
    assert result.summary["elapsed_time"] == 4.375
    assert result.summary["method_time"] == 5 * 0.5 + 1.0 + 2 * 0.25 + 2 * 0.125


def _parquet(rows) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False), buffer)
    return buffer.getvalue()


def test_off_by_default_the_clock_is_never_read_and_results_are_identical(tmp_path):
    def broken_clock() -> float:
        raise AssertionError("the clock was read")

    objective = Fixed([2, 1, 1], 2)
    default = _backend(objective, Budget(trials=3)).run()
    method = Method(InOrder(objective.space, 0, 2), FIFOScheduler(2, 0), objective.problem())
    off = SimulatedBackend(
        method, objective, 2, Budget(trials=3), 0, count_method_time=False, clock=broken_clock
    ).run()
    assert _parquet(default.reports) == _parquet(off.reports)
    assert _parquet(default.trials) == _parquet(off.trials)
    assert default.summary == off.summary


def test_backend_refuses_a_non_bool():
    objective = Fixed([1, 1, 1], 1)
    method = Method(InOrder(objective.space, 0, 1), FIFOScheduler(1, 0), objective.problem())
    with pytest.raises(ValueError, match="count_method_time must be true or false"):
        SimulatedBackend(method, objective, 1, Budget(trials=1), 0, count_method_time="yes")


# -- the setting: config key, validation, run.json ------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=30, max_epochs=9)
    return path


def _cfg(table: Path, tmp_path: Path, *overrides: str):
    base = [
        "benchmark=tabular", f"benchmark.table={table}", "method=asha",
        f"results_dir={tmp_path}", "budget.trials=20",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=[*base, *overrides])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("count_method_time=yes", "count_method_time must be true or false (got 'yes')"),
        ("count_method_time=1", "count_method_time must be true or false (got 1)"),
        ("count_method_time=null", "count_method_time must be true or false (got None)"),
    ],
)
def test_bad_values_are_refused(table, tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        settings_from_config(_cfg(table, tmp_path, override))
    assert str(err.value) == message


def test_the_local_backend_refuses_it(table, tmp_path):
    cfg = _cfg(table, tmp_path, "count_method_time=true", "backend=local", "gpus=[]")
    with pytest.raises(ConfigError, match="simulated backend only"):
        settings_from_config(cfg)


def test_run_json_records_the_setting_and_off_matches_a_run_without_it(table, tmp_path, capsys):
    folders = {name: tmp_path / name for name in ("without", "off", "on")}
    run_job(_cfg(table, tmp_path), folders["without"])
    run_job(_cfg(table, tmp_path, "count_method_time=false"), folders["off"])
    run_job(_cfg(table, tmp_path, "count_method_time=true"), folders["on"])
    info = {n: json.loads((f / "run.json").read_text()) for n, f in folders.items()}
    assert [info[n]["count_method_time"] for n in folders] == [False, False, True]
    assert info["without"]["summary"]["method_time"] == 0.0
    assert info["off"]["summary"]["method_time"] == 0.0
    assert info["on"]["summary"]["method_time"] > 0.0
    for name in ("reports.parquet", "trials.parquet"):
        assert (folders["without"] / name).read_bytes() == (folders["off"] / name).read_bytes()
    assert info["without"]["summary"] == info["off"]["summary"]
