"""``python -m benchmarks`` as a user runs it: sweeps, results folders, determinism, bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.argv import ArgumentError, expand_ranges, rewrite
from tests.tables import synthetic_table


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": ""}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=40, max_epochs=9)
    return path


def test_ten_seeds_write_ten_complete_folders_byte_identical_on_rerun(table, tmp_path):
    args = [
        "method=asha",
        "seed=0..9",
        "benchmark=tabular",
        f"benchmark.table={table}",
        "results_dir=out",
        "budget.time=3000",
    ]
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folders = sorted((tmp_path / "out" / "tabular" / "asha").iterdir())
    assert [f.name for f in folders] == [f"seed={k}" for k in range(10)]
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "complete"
        assert info["seed"] == int(folder.name.split("=")[1])
        assert {"config.yaml", "reports.parquet", "trials.parquet"} <= {
            p.name for p in folder.iterdir()
        }
        reports = pd.read_parquet(folder / "reports.parquet")
        assert {"trial_id", "epoch", "time", "worker", "val_error", "config_learning_rate"} <= set(
            reports.columns
        )
    before = {f.name: (f / "reports.parquet").read_bytes() for f in folders}
    # A rerun skips complete runs ...
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0
    assert again.stderr.count("already complete") == 10
    # ... and overwrite=true reruns them, byte for byte the same.
    forced = run_cli(*args, "overwrite=true", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    after = {f.name: (f / "reports.parquet").read_bytes() for f in folders}
    assert before == after
    assert before["seed=0"] != before["seed=1"]


def test_a_comma_list_sweeps_without_dash_m(table, tmp_path):
    result = run_cli(
        "method=asha,random",
        "seed=0",
        "benchmark=tabular",
        f"benchmark.table={table}",
        "results_dir=out",
        "budget.trials=5",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/tabular/asha/seed=0/run.json").is_file()
    assert (tmp_path / "out/tabular/random/seed=0/run.json").is_file()


def test_unknown_method_lists_the_valid_ones(table, tmp_path):
    result = run_cli("method=nope", "benchmark=tabular", f"benchmark.table={table}", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "asha" in result.stderr and "random" in result.stderr


def test_unknown_benchmark_lists_the_valid_ones(tmp_path):
    result = run_cli("benchmark=nope", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "tabular" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=5..2", "empty range"),
        ("n_workers=0", "n_workers must be >= 1"),
        ("budget.time=-5", "budget.time must be a positive number"),
        ("seed=-1", "seed must be >= 0"),
        ("+method.settings.nonsense=3", "has no setting"),
    ],
)
def test_bad_values_give_one_line_errors_and_write_nothing(table, tmp_path, override, message):
    result = run_cli(
        override, "benchmark=tabular", f"benchmark.table={table}", "results_dir=out", cwd=tmp_path
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_missing_table_is_a_clear_error(tmp_path):
    result = run_cli("benchmark=tabular", f"benchmark.table={tmp_path / 'missing'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a table folder" in result.stderr


def test_help_shows_config_groups(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "method: " in result.stdout and "asha" in result.stdout
    assert "benchmark: " in result.stdout


def test_range_rewriting():
    assert expand_ranges("seed=0..9") == "seed=range(0,10)"
    assert expand_ranges("seed=3..3") == "seed=range(3,4)"
    assert expand_ranges("benchmark.table=../t") == "benchmark.table=../t"
    with pytest.raises(ArgumentError, match="empty range"):
        expand_ranges("seed=5..2")
    with pytest.raises(ArgumentError, match="integers"):
        expand_ranges("seed=a..b")
    assert rewrite(["method=asha", "seed=0..2"])[0] == "--multirun"
    assert rewrite(["method=asha,random"])[0] == "--multirun"
    assert rewrite(["method=asha", "seed=1"]) == ["method=asha", "seed=1"]
    assert rewrite(["-m", "seed=0..1"]) == ["-m", "seed=range(0,2)"]


# -- run identity (issue 11) --------------------------------------------------------------------


def _tabular(table, *args: str) -> list[str]:
    return ["benchmark=tabular", f"benchmark.table={table}", "results_dir=out", *args]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_the_readme_commands_never_skip_a_run_with_other_settings(table, tmp_path):
    """README: ``method=asha seed=0..9``, then ``method=asha method.settings.variant=promotion
    n_workers=8``: the second is another method variant, in its own folder, named by its label."""
    first = run_cli(*_tabular(table, "method=asha", "seed=0..1", "budget.time=2000"),
                    cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    second = run_cli(*_tabular(table, "method=asha", "method.settings.variant=promotion",
                               "n_workers=8", "budget.time=2000"), cwd=tmp_path)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "already complete" not in second.stderr
    folder = tmp_path / "out/tabular/asha-variant=promotion/seed=0"
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["method"] == "asha"
    assert info["method_label"] == "asha-variant=promotion" and info["n_workers"] == 8
    assert json.loads((tmp_path / "out/tabular/asha/seed=0/run.json").read_text())[
        "method_label"] == "asha"


def test_a_sweep_over_a_method_setting_runs_every_arm(table, tmp_path):
    for extra in ([], ["overwrite=true"]):
        arms = "method.settings.variant=stopping,promotion"
        result = run_cli(*_tabular(table, "method=asha", arms, "budget.time=2000", *extra),
                         cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "already complete" not in result.stderr
        labels = sorted(p.name for p in (tmp_path / "out/tabular").iterdir())
        assert labels == ["asha", "asha-variant=promotion"]
    root = tmp_path / "out/tabular"
    stopping = pd.read_parquet(root / "asha/seed=0/reports.parquet")
    promotion = pd.read_parquet(root / "asha-variant=promotion/seed=0/reports.parquet")
    assert "paused" in set(promotion["decision"]) and "paused" not in set(stopping["decision"])


def test_a_user_label_names_the_variant(table, tmp_path):
    args = ["method=asha", "method.settings.grace_period=3", "method.label=asha_g3"]
    result = run_cli(*_tabular(table, *args, "budget.trials=5"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "out/tabular/asha_g3/seed=0/run.json").read_text())
    assert info["method_label"] == "asha_g3"


def test_a_stored_run_with_other_settings_is_refused_and_kept(table, tmp_path):
    base = ["method=asha", "seed=0", "budget.time=2000"]
    first = run_cli(*_tabular(table, *base), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _snapshot(tmp_path / "out")
    other = tmp_path / "other_table"
    shutil.copytree(table, other)
    changes = [
        (_tabular(table, *base, "budget.time=2500"), "budget.time: 2000 -> 2500"),
        (_tabular(table, *base, "budget.trials=30"), "budget.trials: null -> 30"),
        (_tabular(table, *base, "count_method_time=true"), "count_method_time: false -> true"),
        (_tabular(other, *base), f"benchmark.table: {table} -> {other}"),
        # inside a sweep: the refused run is named, the sweep's other run goes ahead
        (_tabular(table, *base, "n_workers=2", "seed=0,1"), "n_workers: 4 -> 2"),
    ]
    for args, key in changes:
        again = run_cli(*args, cwd=tmp_path)
        errors = [line for line in again.stderr.splitlines() if line.startswith("error")]
        assert again.returncode == 2, again.stderr
        assert len(errors) == 1 and key in errors[0], again.stderr
        assert "holds a run with other settings" in errors[0] and "overwrite=true" in errors[0]
        assert "Traceback" not in again.stderr
    after = _snapshot(tmp_path / "out")
    assert {k: v for k, v in after.items() if "seed=0" in k} == before
    assert (tmp_path / "out/tabular/asha/seed=1/run.json").is_file()
    forced = run_cli(*_tabular(table, *base, "budget.time=2500", "overwrite=true"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_a_stored_run_on_data_that_changed_since_is_refused_and_kept(table, tmp_path):
    """The same settings and paths, but the table at the path was re-collected: the stored run
    answers another benchmark, so it is neither skipped as complete nor silently redone."""
    from surrogates.table import load_table, write_table

    data = tmp_path / "data"
    shutil.copytree(table, data)
    args = _tabular(data, "method=asha", "seed=0", "budget.time=2000")
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    before = _snapshot(tmp_path / "out")
    old = load_table(data)
    old_checksum = old.checksum
    frame = old.frame.copy()
    frame["val_error"] = (frame["val_error"] + 0.002).clip(upper=1.0)
    shutil.rmtree(data)
    write_table(data, frame, old.meta)
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 2, again.stderr
    assert f"holds a run on other benchmark data (table_sha256: {old_checksum[:12]}... ->" \
        in again.stderr and "overwrite=true" in again.stderr
    assert _snapshot(tmp_path / "out") == before
    assert run_cli(*args, "overwrite=true", cwd=tmp_path).returncode == 0


def test_settings_are_validated_before_a_complete_run_is_skipped(table, tmp_path):
    first = run_cli(*_tabular(table, "method=asha", "budget.trials=5"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for override, message in [
        ("method.settings.grace_period=0", "grace_period"),
        ("benchmark.table=/nowhere/at/all", "not a table folder"),
    ]:
        again = run_cli(*_tabular(table, "method=asha", "budget.trials=5", override),
                        cwd=tmp_path)  # fmt: skip
        assert again.returncode == 2, again.stderr
        assert "already complete" not in again.stderr and message in again.stderr


def test_a_sweep_ends_with_a_summary_and_the_next_command(table, tmp_path):
    args = _tabular(table, "method=asha,random", "seed=0..2", "budget.time=2000")
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "6 runs: 6 new, 0 skipped (already complete), 0 failed" in first.stdout
    lines = first.stdout.splitlines()
    row = next(line for line in lines if line.strip().startswith("asha "))
    assert "±" in row and "(3 of 3 runs)" in row
    assert "next: python -m analysis.figures out --out figures" in first.stdout
    again = run_cli(*args, cwd=tmp_path)
    assert "6 runs: 0 new, 6 skipped (already complete), 0 failed" in again.stdout


def test_the_progress_line_fits_the_terminal_and_shows_the_budget():
    from benchmarks.app import _ProgressLine

    line = _ProgressLine("asha-variant=promotion seed=3", 1800.0)
    text = line.text(900.0, 41, 300, width=40)
    assert len(text) <= 39 and text.startswith("t=900/1800 s (50%)")
    assert "epochs=300" in line.text(900.0, 41, 300, width=200)


def test_a_finite_table_that_runs_out_says_so(table, tmp_path):
    result = run_cli(*_tabular(table, "method=asha", "budget.time=100000"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ended by table_exhausted: all 40 configurations of the table were tried" in (
        result.stdout
    )
    info = json.loads((tmp_path / "out/tabular/asha/seed=0/run.json").read_text())
    assert info["summary"]["ended_by"] == "table_exhausted"
    assert info["summary"]["table_configurations"] == 40
    assert 0 < info["summary"]["budget_time_used"] < 1


def test_an_internal_error_keeps_its_traceback(table, tmp_path):
    """A numerical failure inside a method (numpy's LinAlgError is a ValueError) is not bad
    input: it must not become a one-line 'error:' with exit 2."""
    script = (
        "import sys, numpy as np\n"
        "import hpo_methods.methods.random as m\n"
        "make = m.make\n"
        "def broken(problem, seed):\n"
        "    method = make(problem, seed)\n"
        "    def suggest(allow_new=True):\n"
        "        raise np.linalg.LinAlgError('Matrix is not positive definite')\n"
        "    method.suggest = suggest\n"
        "    return method\n"
        "m.make = broken\n"
        "from benchmarks.__main__ import main\n"
        "sys.argv = ['benchmarks', *sys.argv[1:]]\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *_tabular(table, "method=random")], cwd=tmp_path,
        capture_output=True, text=True, env={**os.environ, "HYDRA_FULL_ERROR": ""}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" in result.stderr and "LinAlgError" in result.stderr
    assert "error: Matrix" not in result.stderr


@pytest.mark.parametrize(("method", "seeds"), [("asha", range(5)), ("mobster", range(2))])
def test_the_tabular_benchmark_budget_fits_its_table(method, seeds):
    """The fastest consumers of configurations still have untried ones when the default budget
    of resnet8_cifar10_tabular ends (scripts/table_exhaustion.py measures when they run out)."""
    import yaml

    from benchmarks.registry import make_objective
    from benchmarks.simulated import SimulatedBackend
    from benchmarks.tuning import Budget
    from hpo_methods.registry import make_method

    conf = Path(__file__).resolve().parents[1] / "conf"
    spec = yaml.safe_load((conf / "benchmark" / "resnet8_cifar10_tabular.yaml").read_text())
    budget = Budget(time=spec.pop("budget_time"))
    objective = make_objective(spec)
    for seed in seeds:
        problem = objective.problem()
        result = SimulatedBackend(make_method(method, problem, seed), objective, 4, budget, seed,
                                  problem=problem).run()  # fmt: skip
        assert result.ended_by == "time", (method, seed, result.summary)
        assert len(result.trials) < len(objective.space.candidates)


def test_a_twin_benchmark_accepts_the_keys_it_inherits():
    """resnet8_cifar10_mo/_constrained compose the default benchmark (their YAML's defaults
    list): its keys (noise, model, table) are theirs too, and a typo among them is refused."""
    from benchmarks.argv import check_override_keys
    from benchmarks.identity import group_defaults

    twin = group_defaults("benchmark", "resnet8_cifar10_constrained")
    assert twin["noise"] is True and twin["constraints"] == ["epoch_time<=1.75"]
    assert "defaults" not in twin
    check_override_keys(["benchmark=resnet8_cifar10_constrained", "benchmark.noise=false"])
    check_override_keys(["benchmark=resnet8_cifar10_mo", "benchmark.model=elsewhere"])
    with pytest.raises(ArgumentError, match=r"did you mean 'benchmark\.noise'"):
        check_override_keys(["benchmark=resnet8_cifar10_mo", "benchmark.nosie=false"])
