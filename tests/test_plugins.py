"""A user's own method, from another package: entry-point plugins, ``method=custom``, the
protocol checks and their one-line errors, and what the default path never imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.plugins import open_method_settings
from hpo_methods.problem import Problem
from hpo_methods.registry import (
    MethodError,
    MissingExtraError,
    build,
    factory_settings,
    load_target,
    make_method,
    make_method_from,
)
from hpo_methods.space import SearchSpace
from tests.tables import SPACE_SPEC, synthetic_table

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "tb_test_plugin"
CHECK = 3  # the plugin's default check epoch

PLUGIN_CODE = textwrap.dedent(
    '''
    """A method that lives outside tunebench: random search that stops trailing trials."""

    import numpy as np

    from hpo_methods.protocol import Decision, Suggestion


    class StopEarly:
        def __init__(self, problem, seed, check=3, margin=0.05):
            self.problem = problem
            self.rng = np.random.default_rng(seed)
            self.check, self.margin = check, margin
            self.best = float("inf")
            self.trials = 0

        def suggest(self, allow_new=True):
            if not allow_new:
                return None
            self.trials += 1
            return Suggestion(self.trials - 1, self.problem.space.sample(self.rng))

        def report(self, trial_id, epoch, metrics):
            value = self.problem.value(metrics)
            if epoch != self.check:
                return Decision.CONTINUE
            if value > self.best + self.margin:
                return Decision.STOP
            self.best = min(self.best, value)
            return Decision.CONTINUE

        def complete(self, trial_id):
            pass

        def fail(self, trial_id, reason=""):
            pass

        def dropped_trials(self):
            return []


    def make(problem, seed, check=3, margin=0.05):
        return StopEarly(problem, seed, check, margin)


    class NotAMethod:
        def __init__(self, problem, seed):
            pass

        def suggest(self, allow_new=True):
            return None


    def no_seed(problem):
        return None
    '''
)
ENTRY_POINTS = f"""[tunebench.methods]
stop_early = {PLUGIN}:StopEarly
stop_early_fn = {PLUGIN}:make
broken_plugin = {PLUGIN}_missing:Method
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder holding the plugin package and the dist-info that declares its entry points,
    as ``pip install`` would leave them."""
    site = tmp_path_factory.mktemp("site")
    (site / PLUGIN).mkdir()
    (site / PLUGIN / "__init__.py").write_text(PLUGIN_CODE)
    info = site / f"{PLUGIN}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table")
    synthetic_table(path, n_configs=40, max_epochs=9)
    return path


def run_cli(*args: str, cwd: Path, site: Path | None = None) -> subprocess.CompletedProcess:
    paths = [str(site)] if site is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)]), "HYDRA_FULL_ERROR": ""}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def tabular(table: Path) -> list[str]:
    return ["benchmark=tabular", f"benchmark.table={table}", "results_dir=out"]


def run_folder(tmp_path: Path, method: str, seed: int) -> Path:
    return tmp_path / "out" / "tabular" / method / f"seed={seed}"


def assert_stops_at(folder: Path, check: int) -> None:
    """Every stopped trial stopped right after epoch ``check``, and some did."""
    trials = pd.read_parquet(folder / "trials.parquet")
    stopped = trials[trials["status"] == "stopped"]
    assert len(stopped) > 0 and set(stopped["epochs"]) == {check}
    assert set(trials["status"]) <= {"stopped", "completed", "running"}


# -- entry points ---------------------------------------------------------------------------------


def test_an_installed_entry_point_runs_by_name_with_its_settings(site, table, tmp_path):
    args = ["method=stop_early", "seed=0..1", *tabular(table), "budget.time=3000"]
    first = run_cli(*args, "method.settings.check=2", cwd=tmp_path, site=site)
    assert first.returncode == 0, first.stderr
    for seed in (0, 1):
        folder = run_folder(tmp_path, "stop_early-check=2", seed)  # labelled by its setting
        assert json.loads((folder / "run.json").read_text())["status"] == "complete"
        assert_stops_at(folder, 2)  # the setting reached the class as a keyword argument
    config = (run_folder(tmp_path, "stop_early-check=2", 0) / "config.yaml").read_text()
    assert "check: 2" in config


def test_a_plugin_factory_sweeps_beside_a_built_in_method(site, table, tmp_path):
    result = run_cli("method=stop_early_fn,random", "seed=0", *tabular(table),
                     "budget.time=2000", cwd=tmp_path, site=site)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_stops_at(run_folder(tmp_path, "stop_early_fn", 0), CHECK)  # its default setting
    assert (run_folder(tmp_path, "random", 0) / "run.json").is_file()


def test_an_unknown_method_lists_installed_plugins(site, tmp_path):
    result = run_cli("method=stop_erly", cwd=tmp_path, site=site)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown method 'stop_erly'")
    assert "stop_early" in result.stderr and "optuna_tpe" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_plugin_that_does_not_import_gets_one_line(site, table, tmp_path):
    result = run_cli("method=broken_plugin", *tabular(table), cwd=tmp_path, site=site)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: plugin method 'broken_plugin' '{PLUGIN}_missing:Method': cannot import "
        f"{PLUGIN}_missing (ModuleNotFoundError"
    )
    assert not (tmp_path / "out").exists()  # a refused run leaves nothing behind


def test_a_plugin_setting_it_lacks_gets_one_line_naming_its_settings(site, table, tmp_path):
    result = run_cli("method=stop_early", "method.settings.chek=2", *tabular(table),
                     cwd=tmp_path, site=site)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: method 'stop_early' has no setting(s) ['chek']; did you mean "
        "'method.settings.check'? (its settings: check, margin)"
    )


# -- method=custom --------------------------------------------------------------------------------


def test_custom_target_runs_a_class_with_settings_as_keywords(site, table, tmp_path):
    result = run_cli("method=custom", f"method.target={PLUGIN}:StopEarly",
                     "method.settings.check=4", "method.settings.margin=0.01", "seed=0",
                     *tabular(table), "budget.time=3000", cwd=tmp_path, site=site)  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = run_folder(tmp_path, "custom.StopEarly-check=4-margin=0.01", 0)
    assert_stops_at(folder, 4)
    config = (folder / "config.yaml").read_text()
    assert f"target: {PLUGIN}:StopEarly" in config and "margin: 0.01" in config


BAD_TARGETS = [
    (None, "method=custom needs method.target=package.module:attribute, a factory or class "
           "called as attribute(problem, seed, **settings)"),
    ("stop_early", "method.target 'stop_early' is not of the form package.module:attribute "
                   "(e.g. mypackage.search:MyMethod)"),
    ("no_such_package.search:Method", "method.target 'no_such_package.search:Method': cannot "
     "import no_such_package.search (ModuleNotFoundError: No module named 'no_such_package'); "
     "is its package installed or on PYTHONPATH?"),
    (f"{PLUGIN}:Missing", f"method.target '{PLUGIN}:Missing': {PLUGIN} has no attribute "
                          f"'Missing'"),
    (f"{PLUGIN}:NotAMethod", f"method 'custom ({PLUGIN}:NotAMethod)' returned a NotAMethod, "
     f"which does not implement the method protocol (hpo_methods.protocol.TuningMethod): it "
     f"lacks report, complete, fail, dropped_trials"),
    (f"{PLUGIN}:no_seed", f"method 'custom ({PLUGIN}:no_seed)' cannot be called as "
                          f"(problem, seed, **settings): too many positional arguments"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "message"), BAD_TARGETS)
def test_a_bad_custom_target_is_refused_with_a_message_naming_it(site, monkeypatch, target,
                                                                  message):
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(MethodError) as err:
        make_method_from("custom", target, Problem(SPACE, 3), 0, {})
    assert str(err.value) == message


@pytest.mark.parametrize("case", [2, 4])  # does not import; does not implement the protocol
def test_a_bad_custom_target_is_one_line_on_the_command_line(site, table, tmp_path, case):
    target, message = BAD_TARGETS[case]
    result = run_cli("method=custom", f"method.target={target}", *tabular(table),
                     cwd=tmp_path, site=site)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "out").exists()  # a refused run leaves nothing behind


# -- the registry in process ----------------------------------------------------------------------

SPACE = SearchSpace.from_spec(SPACE_SPEC)


def test_settings_of_a_factory_exclude_problem_seed_and_var_keywords():
    def factory(problem, seed, a=1, *, b="x", **rest):
        return None

    assert factory_settings(factory) == {"a": 1, "b": "x"}


def test_a_factory_with_var_keywords_accepts_any_setting_and_required_ones_are_named(site,
                                                                                     monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    problem = Problem(SPACE, 3)

    def needs(problem, seed, rate, **rest):
        return load_target(f"{PLUGIN}:StopEarly")(problem, seed)

    with pytest.raises(MethodError, match=r"needs setting\(s\) \['rate'\]: "
                                          r"method.settings.rate=VALUE"):
        build("needs", needs, problem, 0, {})
    assert build("needs", needs, problem, 0, {"rate": 1, "anything": 2}) is not None


def test_method_target_is_refused_for_a_named_method():
    with pytest.raises(MethodError, match=r"method\.target is read by method=custom only"):
        make_method_from("random", "pkg.mod:X", Problem(SPACE, 3), 0, {})


def test_settings_overrides_open_for_custom_and_plugins_only():
    custom = ["method=custom", "method.settings.k=1", "seed=0"]
    assert open_method_settings(custom) == ["method=custom", "++method.settings.k=1", "seed=0"]
    builtin = ["method=asha", "method.settings.variant=promotion"]
    assert open_method_settings(builtin) == builtin


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now fails
    monkeypatch.delitem(sys.modules, "hpo_methods.adapters.optuna", raising=False)
    with pytest.raises(MissingExtraError) as err:
        make_method("optuna_tpe", Problem(SPACE, 3), 0)
    assert str(err.value).startswith("method 'optuna_tpe' needs the 'optuna' extra, which is "
                                     "not installed (missing optuna")  # fmt: skip
    assert str(err.value).endswith('pip install -e ".[optuna]"')


def test_a_missing_extra_is_one_line_on_the_command_line(table, tmp_path):
    code = (
        "import sys; sys.modules['smac'] = None; sys.argv = ['benchmarks', *sys.argv[1:]]; "
        "from benchmarks.__main__ import main; main()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, "method=smac_hpo", *tabular(table)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: method 'smac_hpo' needs the 'smac' extra, which is not installed (missing smac: "
        "import of smac halted; None in sys.modules): pip install -e \".[smac]\""
    ]


def test_the_default_path_imports_no_library_and_no_torch(tmp_path):
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('IMPORTED', sorted(m for m in ('optuna', 'smac', 'dehb', "
        "'ConfigSpace', 'torch', 'hpo_methods.adapters.common') if m in sys.modules)))\n"
        "sys.argv = ['benchmarks', *sys.argv[1:]]\n"
        "from benchmarks.__main__ import main\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, "method=random", "seed=0", "budget.trials=5",
         "results_dir=out"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    assert (tmp_path / "out" / "resnet8_cifar10" / "random" / "seed=0" / "run.json").is_file()
