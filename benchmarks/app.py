"""The Hydra application behind ``python -m benchmarks``: one run per job, resumable sweeps.

A job first validates everything (the settings, then the objective and the method built from
them), then locks its run folder (:mod:`benchmarks.identity` names it), then decides: a stored
run with other settings is refused (naming the keys), a complete one is skipped, a damaged
"complete" one is redone with a note, anything else runs from scratch. Bad input is one line
(``error: ...``, exit 2; :mod:`benchmarks.errors` says which errors are the user's); any other
error keeps its traceback.
"""

from __future__ import annotations

import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks import sweep
from benchmarks.errors import USER_ERRORS, UserError, is_user_error
from benchmarks.identity import config_differences, run_folder
from benchmarks.local import LocalBackend
from benchmarks.registry import make_objective
from benchmarks.results import (
    STATUS_COMPLETE,
    ResultsWriter,
    RunLock,
    read_run_info,
    stored_run,
)
from benchmarks.settings import RunSettings, settings_from_config
from benchmarks.simulated import SimulatedBackend
from benchmarks.tuning import RunResult
from hpo_methods.registry import make_method_from

TABLE_EXHAUSTED = "table_exhausted"


class RunConflict(UserError):
    """The run folder holds a run with other settings."""


def run_job(cfg: DictConfig, folder: Path | None = None,
            choices: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one (benchmark, method, seed) into ``folder`` (default: its folder under
    ``results_dir``), or skip it; return its outcome (see :mod:`benchmarks.sweep`)."""
    try:
        settings = settings_from_config(cfg, choices)
        objective = make_objective(settings.benchmark)
        problem = objective.problem(settings.objectives, settings.constraints)
        method = make_method_from(settings.method_name, settings.method_target, problem,
                                  settings.seed, settings.method_settings)  # fmt: skip
    except Exception as err:
        if is_user_error(err, setting_up=True) and not isinstance(err, USER_ERRORS):
            raise UserError(str(err)) from err
        raise
    benchmark = str(settings.benchmark.get("name") or objective.name)
    folder = Path(folder) if folder is not None else run_folder(
        settings.results_dir, benchmark, settings.method_label, settings.seed
    )
    outcome: dict[str, Any] = {
        "benchmark": benchmark, "method": settings.method_label, "seed": settings.seed,
        "folder": str(folder), "results_dir": settings.results_dir,
        "metric": f"feasible {objective.metric}" if problem.constraints else objective.metric,
    }  # fmt: skip
    config = OmegaConf.to_container(cfg, resolve=True)
    config["method"]["label"] = settings.method_label
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the results folder '{folder}': "
                        f"{err.strerror or err}") from err  # fmt: skip
    lock = RunLock(folder)
    if not lock.acquire():
        print(f"skip {folder}: another process is running it now", file=sys.stderr)
        return {**outcome, "outcome": "busy"}
    try:
        stored = stored_run(folder)
        redo = ""
        if stored.status is not None or stored.config is not None:
            if not settings.overwrite:
                if stored.config is not None:  # else nothing to compare: run it again
                    _refuse_other_settings(folder, stored.config, config)
                _refuse_other_data(folder, objective.describe())
                if stored.complete:
                    print(f"skip {folder}: already complete (overwrite=true reruns it)",
                          file=sys.stderr)
                    return {**outcome, "outcome": "skipped", "best": _stored_best(folder)}
            if stored.status == STATUS_COMPLETE and stored.damage:
                redo = stored.damage
                print(f"note: {folder} was marked complete but {redo}; running it again",
                      file=sys.stderr)
        summary = _execute(config, settings, objective, problem, method, folder)
    finally:
        lock.release()
    best = summary.get(f"best_{objective.metric}")
    return {**outcome, "outcome": "redone" if redo else "new", "best": best}


def _refuse_other_settings(folder: Path, stored: dict, config: dict) -> None:
    diffs = config_differences(stored, config)
    if diffs:
        shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
        raise RunConflict(
            f"{folder} holds a run with other settings ({shown}); overwrite=true replaces it, "
            "another results_dir keeps both"
        )


def data_differences(stored: dict, current: dict) -> list[str]:
    """The checksums of what a benchmark computes from (``*sha256`` keys of
    ``Objective.describe()``: table, timing table, surrogate model, noise model) that differ
    between a stored run's ``run.json`` and now. A key the stored run lacks (written before it
    existed) is not compared."""
    return [
        f"{key}: {str(stored[key])[:12]}... -> {str(current.get(key))[:12]}..."
        for key in sorted(stored)
        if key.endswith("sha256") and key in current and stored[key] != current[key]
    ]


def _refuse_other_data(folder: Path, objective: dict) -> None:
    stored = (read_run_info(folder) or {}).get("objective") or {}
    diffs = data_differences(stored, objective)
    if diffs:
        raise RunConflict(
            f"{folder} holds a run on other benchmark data ({'; '.join(diffs)}: the table or "
            "model at the benchmark's path changed since); overwrite=true replaces it, another "
            "results_dir keeps both"
        )


def _stored_best(folder: Path) -> float | None:
    info = read_run_info(folder) or {}
    summary = info.get("summary") or {}
    metric = (info.get("objective") or {}).get("metric", "val_error")
    best = summary.get(f"best_{metric}")
    return best if isinstance(best, int | float) else None


def _execute(config: dict, settings: RunSettings, objective, problem, method,
             folder: Path) -> dict:
    real_time = settings.backend == "local"
    writer = ResultsWriter(folder, journal=real_time)
    writer.start(
        OmegaConf.to_yaml(OmegaConf.create(config)),
        {
            "benchmark": str(settings.benchmark.get("name") or objective.name),
            "method": settings.method_name,
            "method_label": settings.method_label,
            "seed": settings.seed,
            "n_workers": settings.n_workers,
            "backend": settings.backend,
            "count_method_time": settings.count_method_time,
            "objective": objective.describe(),
            "problem": problem.describe(),
            "metric_ranges": objective.metric_ranges(),
            "best_known_value": objective.best_known_value(),
            "worst_known_value": objective.worst_known_value(),
        },
    )
    name = f"{settings.method_label} seed={settings.seed}"
    progress = _ProgressLine(name, settings.budget.time) if sys.stderr.isatty() else None
    if real_time:
        backend = LocalBackend(
            method, objective, settings.benchmark, settings.n_workers, settings.budget,
            settings.seed, gpus=settings.gpus, on_report=writer.report, problem=problem,
        )  # fmt: skip
    else:
        scoped = objective.for_run(uuid.uuid4().hex[:12])  # checkpoints of this run only
        backend = SimulatedBackend(
            method, scoped, settings.n_workers, settings.budget, settings.seed,
            progress=progress, count_method_time=settings.count_method_time, problem=problem,
        )  # fmt: skip
    try:
        result = backend.run()
    finally:
        if not real_time:
            scoped.discard_run()
    if progress is not None:
        progress.clear()
    note = _table_exhausted(result, objective, settings)
    writer.reports = result.reports
    interrupted = result.ended_by == "interrupted"
    writer.finish(result.trials, result.summary, "incomplete" if interrupted else "complete")
    best = result.summary.get(f"best_{objective.metric}")
    best_text = "none" if best is None else f"{best:.4f}"
    clock = "real" if real_time else "simulated"
    feasible = "feasible " if problem.constraints else ""
    print(
        f"{objective.name} / {settings.method_label} / seed={settings.seed}: "
        f"best {feasible}{objective.metric} {best_text} after {result.summary['trials']} trials, "
        f"{result.summary['epochs']} epochs, {result.summary['elapsed_time']:.0f} s {clock} "
        f"(ended by {result.ended_by}{note}) -> {folder}"
    )
    if interrupted:
        print(f"interrupted: {folder} is marked incomplete", file=sys.stderr)
        sys.exit(130)
    return result.summary


def _table_exhausted(result: RunResult, objective, settings: RunSettings) -> str:
    """A run of a finite space (a table) that ended because every configuration was tried
    ends by ``table_exhausted``; return the note for the printed line ('' otherwise)."""
    space = objective.space
    if result.ended_by != "method" or not space.is_finite:
        return ""
    tried = {
        space.key({k[len("config_"):]: v for k, v in row.items() if k.startswith("config_")})
        for row in result.trials
    }
    total = len(space.candidates)
    if len(tried) < total:
        return ""
    result.ended_by = TABLE_EXHAUSTED
    result.summary["ended_by"] = TABLE_EXHAUSTED
    result.summary["table_configurations"] = total
    used = ""
    if settings.budget.time:
        share = result.summary["elapsed_time"] / settings.budget.time
        used = f", at {share:.0%} of budget.time={settings.budget.time:g} s"
        result.summary["budget_time_used"] = share
    return f": all {total} configurations of the table were tried{used}"


class _ProgressLine:
    """One line on a terminal, as wide as the terminal, rewritten at most every half second."""

    def __init__(self, name: str, budget_time: float | None) -> None:
        self.name = name
        self.budget_time = budget_time
        self.last = 0.0

    def __call__(self, clock: float, trials: int, epochs: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        print(f"\r{self.text(clock, trials, epochs)}\033[K", end="", file=sys.stderr, flush=True)

    def text(self, clock: float, trials: int, epochs: int,
             width: int | None = None) -> str:  # fmt: skip
        """The line, cut to ``width`` (default: the terminal's) minus one column."""
        width = width or shutil.get_terminal_size((80, 24)).columns
        if self.budget_time:
            t = f"t={clock:.0f}/{self.budget_time:g} s ({clock / self.budget_time:.0%})"
        else:
            t = f"t={clock:.0f} s"
        line = f"{t} trials={trials} epochs={epochs} {self.name}"
        return line[: max(width - 1, 1)]

    def clear(self) -> None:
        if self.last:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def hydra_main(cfg: DictConfig) -> dict | None:
    choices = dict(HydraConfig.get().runtime.choices)
    return run_recorded(cfg, choices)


def run_recorded(cfg: DictConfig, choices: dict[str, str] | None = None) -> dict | None:
    """:func:`run_job` with its outcome recorded for the command's summary; bad input is one
    line (printed by ``python -m benchmarks`` after the sweep, or here with exit 2 when no
    command log is open), other errors propagate with their traceback."""
    results_dir = Path(str(OmegaConf.select(cfg, "results_dir", default="results") or "."))
    try:
        outcome = run_job(cfg, None, choices)
    except USER_ERRORS as err:
        _remove_empty_folders(results_dir)
        message = str(err)
        if sweep.record({"outcome": "refused", "error": message}):
            return None
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:
        sweep.record({"outcome": "failed", "error": f"{type(err).__name__}: {err}"})
        raise
    sweep.record(outcome)
    return outcome


def _remove_empty_folders(results_dir: Path) -> None:
    """Remove results_dir if a refused run left it empty (Hydra makes it before the job)."""
    try:
        if results_dir.is_dir() and not any(results_dir.iterdir()):
            results_dir.rmdir()
    except OSError:
        return

