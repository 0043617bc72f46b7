"""The Hydra application behind ``python -m benchmarks``: one run per job, resumable sweeps."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.registry import make_objective
from benchmarks.results import ResultsWriter, is_complete
from benchmarks.settings import ConfigError, RunSettings, settings_from_config
from benchmarks.simulated import SimulatedBackend
from hpo_methods.registry import UnknownMethodError, make_method
from hpo_methods.space import SearchSpaceError
from surrogates.table import TableError

USER_ERRORS = (
    ConfigError,
    UnknownMethodError,
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
    method = make_method(
        settings.method_name,
        objective.space,
        objective.max_epochs,
        settings.seed,
        **settings.method_settings,
    )
    if settings.backend != "simulated":
        raise ConfigError(f"backend '{settings.backend}' is not available yet")
    return _simulate(cfg, settings, objective, method, folder)


def _simulate(cfg, settings: RunSettings, objective, method, folder: Path) -> dict:
    writer = ResultsWriter(folder)
    writer.start(
        OmegaConf.to_yaml(cfg, resolve=True),
        {
            "benchmark": objective.name,
            "method": settings.method_name,
            "seed": settings.seed,
            "n_workers": settings.n_workers,
            "backend": settings.backend,
            "objective": objective.describe(),
            "best_known_value": objective.best_known_value(),
        },
    )
    progress = _ProgressLine(folder) if sys.stderr.isatty() else None
    backend = SimulatedBackend(
        method, objective, settings.n_workers, settings.budget, settings.seed, progress=progress
    )
    result = backend.run()
    if progress is not None:
        progress.clear()
    writer.reports = result.reports
    writer.finish(result.trials, result.summary, "complete")
    best = result.summary.get(f"best_{objective.metric}")
    print(
        f"{objective.name} / {settings.method_name} / seed={settings.seed}: "
        f"best {objective.metric} {best:.4f} after {result.summary['trials']} trials, "
        f"{result.summary['epochs']} epochs, {result.summary['simulated_time']:.0f} s simulated "
        f"(ended by {result.ended_by}) -> {folder}"
    )
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
        _remove_if_empty(folder)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
