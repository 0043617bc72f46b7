"""The library adapters (Optuna, SMAC3, dehb) on tiny benchmarks: exact search spaces, the
library's own semantics (pruning, Hyperband budgets, pause/resume, drops), seeds and
byte-identical reruns, decision time. Each library's tests skip, saying why, when its extra is
not installed; CI installs every extra."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.objective import CurveRun, Objective, TrialRun
from benchmarks.simulated import SimulatedBackend
from benchmarks.tabular import TabularObjective
from benchmarks.tuning import Budget
from hpo_methods.adapters import ADAPTERS
from hpo_methods.adapters.common import CATEGORICAL, FLOAT, INT, ORDINAL, SpaceMap
from hpo_methods.problem import Constraint, Goal, Problem
from hpo_methods.registry import MethodError, make_method, method_settings
from hpo_methods.space import SearchSpace
from tests.tables import synthetic_table

ROOT = Path(__file__).resolve().parents[1]
MAX_EPOCHS = 9
SPEC = {  # every domain type of hpo_methods.space
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "width": {"type": "lograndint", "low": 4, "high": 256},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
    "dropout": {"type": "finrange", "low": 0.0, "high": 0.5, "size": 6},
    "weight_decay": {"type": "logfinrange", "low": 1e-6, "high": 1e-2, "size": 5},
}


def extra(module: str, name: str):
    return pytest.importorskip(
        module, reason=f"the {name} extra is not installed: pip install -e \".[{name}]\""
    )


class Curves(Objective):
    """Learning curves that fall towards a floor set by the configuration (no noise)."""

    name = "curves"
    metric_names = ("val_error", "train_loss")

    def __init__(self, space: SearchSpace | None = None, max_epochs: int = MAX_EPOCHS) -> None:
        self.space = space or SearchSpace.from_spec(SPEC)
        self.max_epochs = max_epochs

    def start_trial(self, trial_id: int, config: dict, seed: int) -> TrialRun:
        floor = 0.1 + 0.2 * abs(math.log10(config["learning_rate"]) + 2.5)
        floor += 0.1 * abs(config["momentum"] - 0.9) + (config["activation"] == "Softplus") * 0.05
        epochs = np.arange(1, self.max_epochs + 1)
        error = floor + (0.9 - floor) * np.exp(-0.5 * epochs)
        metrics = np.stack([error, 2 * error], axis=1)
        times = np.full(self.max_epochs, 10.0 + 600.0 / config["batch_size"])
        return CurveRun(self.metric_names, metrics, times)


BUDGET = Budget(time=1500.0)


def run(name: str, seed: int = 0, objective: Objective | None = None, problem=None,
        budget: Budget = BUDGET, count_method_time: bool = False, **settings):
    objective = objective or Curves()
    problem = problem or objective.problem()
    method = make_method(name, problem, seed, **settings)
    backend = SimulatedBackend(method, objective, 4, budget, seed,
                               count_method_time=count_method_time, problem=problem)
    return method, backend.run()  # fmt: skip


def frames(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(result.reports), pd.DataFrame(result.trials)


def run_twice(name: str, **kwargs):
    """Two runs with one seed give the same rows (and every configuration is legal); another
    seed does not. Returns the first run's method and result."""
    method, first = run(name, 0, **kwargs)
    _, again = run(name, 0, **kwargs)
    _, other = run(name, 1, **kwargs)
    assert first.reports == again.reports and first.trials == again.trials
    assert first.reports != other.reports
    space = (kwargs.get("objective") or Curves()).space
    for _, row in pd.DataFrame(first.trials).iterrows():
        space.validate({n: row[f"config_{n}"] for n in space.names})
    return method, first


# -- the space mapping (no library needed) ------------------------------------------------------


def test_every_domain_type_maps_exactly():
    space = SpaceMap(SearchSpace.from_spec(SPEC))
    params = {p.name: p for p in space.params}
    assert (params["learning_rate"].kind, params["learning_rate"].log) == (FLOAT, True)
    assert (params["momentum"].kind, params["momentum"].log) == (FLOAT, False)
    assert (params["batch_size"].kind, params["batch_size"].log) == (INT, False)
    assert (params["width"].kind, params["width"].log, params["width"].low) == (INT, True, 4)
    assert params["activation"].kind == CATEGORICAL
    assert params["activation"].choices == ("ReLU", "LeakyReLU", "Softplus")
    assert params["dropout"].kind == ORDINAL
    assert params["dropout"].choices == pytest.approx((0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
    assert params["weight_decay"].choices == pytest.approx((1e-6, 1e-5, 1e-4, 1e-3, 1e-2))
    config = space.decode({"learning_rate": 0.1 + 1e-17, "momentum": 0.5, "batch_size": 8.0,
                           "width": 256, "activation": "Softplus", "dropout": 0.30000000000000004,
                           "weight_decay": 1e-4})  # fmt: skip
    assert config["learning_rate"] == 0.1  # clipped into the domain
    assert config["batch_size"] == 8 and isinstance(config["batch_size"], int)
    assert config["dropout"] == SearchSpace.from_spec(SPEC)["dropout"].values[3]


def test_a_table_that_is_not_a_grid_is_one_categorical_over_its_configurations(tmp_path):
    table = synthetic_table(tmp_path, n_configs=12)
    space = TabularObjective(table).space
    mapped = SpaceMap(space)
    (param,) = mapped.params
    assert (param.name, param.kind, len(param.choices)) == ("configuration", CATEGORICAL, 12)
    assert [mapped.decode({"configuration": c}) for c in param.choices] == space.candidates


def test_a_table_that_is_a_grid_is_one_ordinal_per_hyperparameter():
    grid = [{"lr": lr, "act": act} for lr in (0.1, 0.01, 0.001) for act in ("a", "b")]
    spec = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1.0},
            "act": {"type": "choice", "categories": ["a", "b", "c"]}}  # fmt: skip
    mapped = SpaceMap(SearchSpace.from_spec(spec, grid))
    params = {p.name: p for p in mapped.params}
    assert (params["lr"].kind, params["lr"].choices) == (ORDINAL, (0.001, 0.01, 0.1))
    assert (params["act"].kind, params["act"].choices) == (CATEGORICAL, ("a", "b"))
    assert mapped.decode({"lr": 0.01, "act": "b"}) == {"lr": 0.01, "act": "b"}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_conf_lists_every_adapter_setting_with_its_default(name):
    spec = ADAPTERS[name]
    extra({"optuna": "optuna", "smac": "smac", "dehb": "dehb"}[spec.extra], spec.extra)
    conf = yaml.safe_load((ROOT / "conf" / "method" / f"{name}.yaml").read_text())
    assert conf["name"] == name
    assert conf["settings"] == method_settings(name)


def test_conf_of_custom_passes_any_setting():
    conf = yaml.safe_load((ROOT / "conf" / "method" / "custom.yaml").read_text())
    assert conf == {"name": "custom", "target": None, "settings": {}}


# -- Optuna ---------------------------------------------------------------------------------------


def test_optuna_tpe_maps_the_space_and_reruns_identically():
    optuna = extra("optuna", "optuna")
    method, result = run_twice("optuna_tpe")
    distributions = method.study.trials[0].distributions
    assert distributions["learning_rate"] == optuna.distributions.FloatDistribution(1e-5, 1e-1,
                                                                                    log=True)
    assert distributions["width"] == optuna.distributions.IntDistribution(4, 256, log=True)
    assert distributions["dropout"] == optuna.distributions.IntDistribution(0, 5)
    assert isinstance(distributions["activation"], optuna.distributions.CategoricalDistribution)
    assert set(pd.DataFrame(result.trials)["status"]) <= {"completed", "running"}
    assert pd.DataFrame(result.reports)["epoch"].max() == MAX_EPOCHS


@pytest.mark.parametrize("name", ["optuna_sh", "optuna_hyperband"])
def test_optuna_pruners_stop_trials_at_their_rungs(name):
    extra("optuna", "optuna")
    method, result = run_twice(name, budget=Budget(time=800.0))
    reports, trials = frames(result)
    stopped = trials[trials["status"] == "stopped"]
    assert len(stopped) > 0
    assert set(stopped["epochs"]) <= {1, 3}  # rungs of min_resource 1, eta 3 below R = 9
    pruned = [t for t in method.study.trials if t.state.name == "PRUNED"]
    assert len(pruned) == len(stopped)
    assert not (reports["decision"] == "paused").any()  # Optuna never pauses


def test_optuna_gp_and_cmaes_run_and_rerun_identically():
    extra("optuna", "optuna")
    extra("torch", "optuna")
    budget = Budget(trials=10)
    run_twice("optuna_gp", budget=budget, n_startup_trials=8)
    run_twice("optuna_cmaes", budget=budget)


def test_optuna_nsga2_optimises_several_objectives_with_constraints():
    extra("optuna", "optuna")
    objective = Curves()
    problem = Problem(objective.space, MAX_EPOCHS, (Goal("val_error"), Goal("epoch_time")),
                      (Constraint.parse("train_loss<=1.2"),),
                      metrics=("val_error", "train_loss", "epoch_time"))  # fmt: skip
    method, result = run("optuna_nsga2", objective=objective, problem=problem,
                         budget=Budget(trials=30), population_size=8)  # fmt: skip
    assert method.multi_objective
    done = [t for t in method.study.trials if t.state.name == "COMPLETE"]
    assert len(done) > 8 and all(len(t.values) == 2 for t in done)
    last = pd.DataFrame(result.reports).groupby("trial_id").last()
    for trial in done:
        row = last.loc[trial.number]
        assert trial.values == [row["val_error"], row["epoch_time"]]
        assert trial.constraints == {"train_loss<=1.2": pytest.approx(row["train_loss"] - 1.2)}
    with pytest.raises(MethodError, match="optimises one objective"):
        make_method("optuna_cmaes", problem, 0)
    with pytest.raises(MethodError, match="pruners need one objective"):
        make_method("optuna_tpe", problem, 0, pruner="sh")


def test_optuna_on_a_table_only_evaluates_recorded_configurations(tmp_path):
    extra("optuna", "optuna")
    objective = TabularObjective(synthetic_table(tmp_path, n_configs=15))
    _, result = run("optuna_tpe", objective=objective, budget=Budget(trials=25))
    keys = {objective.space.key(c) for c in objective.space.candidates}
    for _, row in pd.DataFrame(result.trials).iterrows():
        assert objective.space.key({n: row[f"config_{n}"] for n in objective.space.names}) in keys


def test_decision_time_of_a_library_is_counted():
    extra("optuna", "optuna")
    _, plain = run("optuna_tpe", budget=Budget(time=600.0))
    _, timed = run("optuna_tpe", budget=Budget(time=600.0), count_method_time=True)
    assert plain.summary["method_time"] == 0.0
    assert timed.summary["method_time"] > 0.0
    first_start = {r["trial_id"]: r["time"] for r in reversed(timed.reports)}
    assert min(first_start.values()) > min(r["time"] for r in plain.reports)  # starts later


# -- SMAC3 ----------------------------------------------------------------------------------------


def test_smac_hpo_trains_every_trial_to_the_end_and_reruns_identically():
    extra("smac", "smac")
    method, result = run_twice("smac_hpo", budget=Budget(trials=6), n_initial=3)
    trials = pd.DataFrame(result.trials)
    assert set(trials["status"]) == {"completed"} and set(trials["epochs"]) == {MAX_EPOCHS}
    told = [v for v in method.smac.runhistory.values() if v.status.name == "SUCCESS"]
    assert len(told) == 6


def test_smac_hyperband_budgets_are_epochs_and_promotions_resume():
    extra("smac", "smac")
    method, result = run_twice("smac_hyperband")
    reports, trials = frames(result)
    budgets = {1, 3, 9}  # max_budget 9 * 3^-k
    paused = reports[reports["decision"] == "paused"]
    assert len(paused) > 0 and set(paused["epoch"]) <= budgets - {9}
    # a promoted trial continues where it paused: epochs 1, 2, 3 of one trial id
    resumed = [t for t, g in reports.groupby("trial_id") if (g["decision"] == "paused").any()
               and g["epoch"].max() > g.loc[g["decision"] == "paused", "epoch"].min()]  # fmt: skip
    assert resumed
    for t in resumed:
        assert list(reports[reports["trial_id"] == t]["epoch"]) == list(
            range(1, reports[reports["trial_id"] == t]["epoch"].max() + 1)
        )
    # SMAC saw every (config, budget) once, at the epochs told
    told = {round(k.budget) for k in method.smac.runhistory}
    assert told <= budgets
    dropped = trials[(trials["status"] == "stopped")]
    assert len(dropped) > 0 and set(dropped["epochs"]) <= budgets - {9}


def test_smac_hyperband_without_resume_retrains_promotions_from_scratch():
    extra("smac", "smac")
    _, result = run("smac_hyperband", resume=False)
    reports, trials = frames(result)
    assert not (reports["decision"] == "paused").any()
    assert set(trials.loc[trials["status"] == "stopped", "epochs"]) <= {1, 3}
    configs = trials.filter(like="config_").astype(str).agg("|".join, axis=1)
    assert configs.duplicated().any()  # a promoted configuration is trained again


def test_smac_on_a_table_ends_when_it_has_no_configuration_left(tmp_path):
    extra("smac", "smac")
    objective = TabularObjective(synthetic_table(tmp_path, n_configs=12))
    method, result = run("smac_hyperband", objective=objective, budget=Budget(time=1e6))
    assert method.exhausted and result.ended_by == "method"
    trials = pd.DataFrame(result.trials)
    assert set(trials["status"]) <= {"completed", "stopped"}  # nothing left paused
    configs = trials.filter(like="config_").astype(str).agg("|".join, axis=1)
    assert configs.nunique() <= 12


def test_smac_does_not_start_every_seed_with_a_tables_first_row(tmp_path):
    extra("smac", "smac")
    from hpo_methods.adapters.configspace import configspace

    objective = TabularObjective(synthetic_table(tmp_path, n_configs=40))
    space = SpaceMap(objective.space)
    defaults = {configspace(space, seed).get_default_configuration()["configuration"]
                for seed in range(10)}
    assert len(defaults) > 5  # one random recorded configuration per seed, not row 0 each time
    firsts = {run("smac_hyperband", seed, objective=objective, budget=Budget(trials=1))[1]
              .trials[0]["config_learning_rate"] for seed in range(3)}  # fmt: skip
    assert len(firsts) == 3


# -- dehb -----------------------------------------------------------------------------------------


def test_dehb_package_pauses_in_its_first_iteration_only_and_reruns_identically():
    extra("dehb", "dehb")
    method, result = run_twice("dehb_pkg", budget=Budget(time=4000.0))
    reports, trials = frames(result)
    assert method.dehb.iteration_counter >= method.dehb.max_SH_iter  # past the first iteration
    paused = reports[reports["decision"] == "paused"]
    assert len(paused) > 0 and set(paused["epoch"]) <= {1, 3}
    assert set(trials["status"]) <= {"completed", "stopped", "running"}
    assert not method._paused  # every paused trial was resumed or dropped


# -- the command line --------------------------------------------------------------------------


def test_ci_installs_every_extra_with_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.startswith('pip install -e ".[') and f"\n{ci}\n" in (ROOT / "README.md").read_text()
    extras = ci.split("[", 1)[1].split("]", 1)[0].split(",")
    assert {"optuna", "smac", "dehb"} <= set(extras)


def test_ten_seeds_of_optuna_tpe_on_the_command_line(tmp_path):
    extra("optuna", "optuna")
    table = tmp_path / "table"
    synthetic_table(table, n_configs=30, max_epochs=5)
    args = ["method=optuna_tpe", "seed=0..9", "benchmark=tabular", f"benchmark.table={table}",
            "results_dir=out", "budget.trials=12"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli() -> None:
        result = subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=tmp_path,
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr

    cli()
    folders = sorted((tmp_path / "out" / "tabular" / "optuna_tpe").iterdir())
    assert [f.name for f in folders] == [f"seed={k}" for k in range(10)]
    runs = {(f / "reports.parquet").read_bytes() for f in folders}
    assert len(runs) == 10  # each seed its own run (reruns are checked in process above)
