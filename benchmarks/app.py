"""The Hydra application behind ``python -m benchmarks``: one run per job, resumable sweeps."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.local import LocalBackend
from benchmarks.registry import make_objective
from benchmarks.results import ResultsWriter, is_complete
from benchmarks.settings import ConfigError, RunSettings, settings_from_config
from benchmarks.simulated import SimulatedBackend
from hpo_methods.problem import ProblemError
from hpo_methods.registry import UnknownMethodError, make_method
from hpo_methods.space import SearchSpaceError
from surrogates.table import TableError

USER_ERRORS = (
    ConfigError,
    UnknownMethodError,
    ProblemError,
    SearchSpaceError,
    TableError,
    FileNotFoundError,
    ValueError,
)


def run_job(cfg: DictConfig, folder: Path) -> dict | None:
    """Run one (benchmark, method, seed) into ``folder``; skip it if already complete."""
    settings = settings_from_config(cfg)
    if is_complete(folder) and not settings.overwrite:
        print(f"skip {folder}: already complete (overwrite=true reruns it)", file=sys.stderr)
        return None
    objective = make_objective(settings.benchmark)
    problem = objective.problem(settings.objectives, settings.constraints)
    method = make_method(settings.method_name, problem, settings.seed, **settings.method_settings)
    return _execute(cfg, settings, objective, problem, method, folder)


def _execute(cfg, settings: RunSettings, objective, problem, method, folder: Path) -> dict:
    real_time = settings.backend == "local"
    writer = ResultsWriter(folder, journal=real_time)
    writer.start(
        OmegaConf.to_yaml(cfg, resolve=True),
        {
            "benchmark": objective.name,
            "method": settings.method_name,
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
    progress = _ProgressLine(folder) if sys.stderr.isatty() else None
    if real_time:
        backend = LocalBackend(
            method, objective, settings.benchmark, settings.n_workers, settings.budget,
            settings.seed, gpus=settings.gpus, on_report=writer.report, problem=problem,
        )  # fmt: skip
    else:
        backend = SimulatedBackend(
            method, objective, settings.n_workers, settings.budget, settings.seed,
            progress=progress, count_method_time=settings.count_method_time, problem=problem,
        )  # fmt: skip
    result = backend.run()
    if progress is not None:
        progress.clear()
    writer.reports = result.reports
    interrupted = result.ended_by == "interrupted"
    writer.finish(result.trials, result.summary, "incomplete" if interrupted else "complete")
    best = result.summary.get(f"best_{objective.metric}")
    best_text = "none" if best is None else f"{best:.4f}"
    clock = "real" if real_time else "simulated"
    print(
        f"{objective.name} / {settings.method_name} / seed={settings.seed}: "
        f"best {objective.metric} {best_text} after {result.summary['trials']} trials, "
        f"{result.summary['epochs']} epochs, {result.summary['elapsed_time']:.0f} s {clock} "
        f"(ended by {result.ended_by}) -> {folder}"
    )
    if interrupted:
        print(f"interrupted: {folder} is marked incomplete", file=sys.stderr)
        sys.exit(130)
    return result.summary


class _ProgressLine:
    """One line on a terminal, rewritten at most every half second of real time."""

    def __init__(self, folder: Path) -> None:
        self.label = str(folder)
        self.last = 0.0

    def __call__(self, clock: float, trials: int, epochs: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            print(
                f"\r{self.label}: t={clock:.0f}s trials={trials} epochs={epochs}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def clear(self) -> None:
        if self.last:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def hydra_main(cfg: DictConfig) -> dict | None:
    folder = Path(HydraConfig.get().runtime.output_dir)
    try:
        return run_job(cfg, folder)
    except USER_ERRORS as err:
        _remove_empty_folders(folder, Path(str(cfg.results_dir)))
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def _remove_empty_folders(folder: Path, results_dir: Path) -> None:
    """Remove the run folder Hydra made and its empty parents, up to and including results_dir
    (a refused run leaves nothing behind)."""
    stop = results_dir.resolve().parent
    folder = folder.resolve()
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
