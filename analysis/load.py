"""Load results folders into tidy DataFrames: one row per run, per epoch report, per trial.

A results folder holds ``run.json``, ``config.yaml``, ``reports.parquet`` and ``trials.parquet``
(see :mod:`benchmarks.results`, whose format this module reads without importing it). Folders are
found by searching a root recursively for ``run.json``. Only complete runs are loaded unless
``include_incomplete=True``; the skipped folders are listed in :attr:`Results.skipped`.

Methods are named by their *label* (run.json's ``method_label``: the method's name, plus its
non-default settings, e.g. ``asha-variant=promotion``; see :mod:`benchmarks.identity`), so two
variants of one method are two methods here. Runs of one benchmark are only comparable under the
same settings (:func:`run_settings`: budget, n_workers, backend, measured method time, and the
objective itself); with ``split_settings=True`` a benchmark whose runs differ in them is split
into one benchmark per setting, named with the differing values (``tabular [n_workers=8]``), and
:attr:`Results.notes` says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
REPORTS_FILE = "reports.parquet"
TRIALS_FILE = "trials.parquet"
JOURNAL_FILE = "reports.jsonl"
KEYS = ["benchmark", "method", "seed"]
# objective keys that locate files rather than define the objective (the same table may live
# elsewhere on another machine; its checksum, where recorded, stays)
LOCATION_KEYS = {"table", "path", "model", "data", "data_dir", "root", "folder", "dir"}


class ResultsError(ValueError):
    """Results that cannot be analysed; the message names the folder and the problem."""


@dataclass
class Results:
    """Tidy tables of a set of runs.

    ``runs``: one row per run (benchmark, method (its label), method_name, seed, path, status,
    n_workers, backend, count_method_time, metric, max_epochs, best_known_value,
    worst_known_value, budget_time/trials/epochs, git_revision, method_settings,
    benchmark_settings, objective, problem, ended_by). Runs of a multi-objective or constrained
    problem are scored by :func:`analysis.multiobjective.derive_scores` (their ``metric`` names
    the derived score, ``raw_metric`` the objective's own metric). ``reports``: one row per epoch
    report with benchmark, method, seed added. ``trials``: one row per trial, likewise.
    ``skipped``: folders not loaded (incomplete or unreadable), with the reason.
    """

    runs: pd.DataFrame
    reports: pd.DataFrame
    trials: pd.DataFrame
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # per benchmark: 'observed' or 'true' (see analysis.trajectories.choose_scores)
    scores: dict[str, str] = field(default_factory=dict)

    def score(self, benchmark: str) -> str:
        """How incumbents of ``benchmark`` are scored: ``observed`` unless chosen otherwise."""
        return self.scores.get(str(benchmark), "observed")

    @property
    def benchmarks(self) -> list[str]:
        return sorted(self.runs["benchmark"].unique())

    @property
    def methods(self) -> list[str]:
        return sorted(self.runs["method"].unique())

    def skipped_note(self) -> str:
        """A one-line account of what was skipped ('' if nothing was)."""
        if not self.skipped:
            return ""
        return f"skipped {len(self.skipped)} incomplete or unreadable run(s)"


def find_run_folders(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Every folder holding a run.json under ``paths`` (a folder, or a list of folders)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    folders: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise ResultsError(f"results folder '{path}' does not exist")
        if not path.is_dir():
            raise ResultsError(f"'{path}' is not a folder")
        if (path / RUN_FILE).is_file():
            folders.add(path)
        folders.update(p.parent for p in path.rglob(RUN_FILE))
    return sorted(folders)


def load_results(
    paths: str | Path | Iterable[str | Path],
    include_incomplete: bool = False,
    split_settings: bool = False,
) -> Results:
    """Load every run under ``paths``; only complete runs unless ``include_incomplete``;
    ``split_settings``: see the module docstring."""
    run_rows: list[dict[str, Any]] = []
    reports: list[pd.DataFrame] = []
    trials: list[pd.DataFrame] = []
    skipped: list[tuple[Path, str]] = []
    for folder in find_run_folders(paths):
        try:
            row, rep, tri = _load_run(folder, include_incomplete)
        except _Skip as why:
            skipped.append((folder, str(why)))
            continue
        run_rows.append(row)
        reports.append(rep)
        trials.append(tri)
    notes = _split(run_rows, reports, trials) if split_settings else []
    seen: dict[tuple[str, str, int], Path] = {}
    for row in run_rows:
        key = (row["benchmark"], row["method"], row["seed"])
        if key in seen:
            raise ResultsError(
                f"two runs of benchmark '{key[0]}', method '{key[1]}', seed {key[2]}: "
                f"'{seen[key]}' and '{row['path']}'; analyse them separately"
            )
        seen[key] = Path(row["path"])
    if not run_rows:
        where = ", ".join(str(p) for p in ([paths] if isinstance(paths, str | Path) else paths))
        extra = f" ({len(skipped)} incomplete or unreadable skipped)" if skipped else ""
        raise ResultsError(f"no complete runs found under {where}{extra}")
    runs = pd.DataFrame(run_rows).sort_values(KEYS, ignore_index=True)
    from analysis.multiobjective import derive_scores

    return derive_scores(Results(
        runs=runs,
        reports=_concat(reports, ["benchmark", "method", "seed", "time", "trial_id", "epoch"]),
        trials=_concat(trials, ["benchmark", "method", "seed", "trial_id"]),
        skipped=skipped,
        notes=notes,
    ))  # fmt: skip


def objective_identity(objective: dict[str, Any]) -> dict[str, Any]:
    """run.json's ``objective`` without the keys that locate files (:data:`LOCATION_KEYS`,
    ``*_path``, ``*_dir``)."""
    return {
        k: v for k, v in sorted(objective.items())
        if k not in LOCATION_KEYS and not k.endswith(("_path", "_dir"))
    }  # fmt: skip


def run_settings(row: dict[str, Any]) -> dict[str, Any]:
    """What must match for two runs of a benchmark to be compared: the budget, n_workers, the
    backend, whether method time was counted, and the objective's identity."""
    return {
        "budget.time": _plain_number(row["budget_time"]),
        "budget.trials": row["budget_trials"],
        "budget.epochs": row["budget_epochs"],
        "n_workers": row["n_workers"],
        "backend": row["backend"],
        "count_method_time": bool(row.get("count_method_time") or False),
        **{f"objective.{k}": v for k, v in objective_identity(row["objective"]).items()},
    }


def _plain_number(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    return value


def _split(rows: list[dict], reports: list[pd.DataFrame], trials: list[pd.DataFrame]
           ) -> list[str]:  # fmt: skip
    """Rename the benchmark of runs whose settings differ from others of their benchmark."""
    notes = []
    by_benchmark: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_benchmark.setdefault(row["benchmark"], []).append(i)
    for benchmark, indices in sorted(by_benchmark.items()):
        settings = [run_settings(rows[i]) for i in indices]
        keys = sorted({k for s in settings for k in s})
        differing = [k for k in keys if len({json.dumps(s.get(k), default=str)
                                             for s in settings}) > 1]  # fmt: skip
        if not differing:
            continue
        names = []
        for i, setting in zip(indices, settings, strict=True):
            suffix = ", ".join(f"{k.removeprefix('objective.')}={_short(setting.get(k))}"
                               for k in differing)  # fmt: skip
            name = f"{benchmark} [{suffix}]"
            rows[i]["benchmark"] = name
            reports[i] = reports[i].assign(benchmark=name)
            trials[i] = trials[i].assign(benchmark=name)
            names.append(name)
        notes.append(f"benchmark '{benchmark}' has runs with different {', '.join(differing)}: "
                     f"analysed apart as {', '.join(repr(n) for n in sorted(set(names)))}")
    return notes


def _short(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return text[:8] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text


class _Skip(Exception):
    """A folder that is not loaded (the message says why)."""


def _load_run(folder: Path, include_incomplete: bool) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    try:
        info = json.loads((folder / RUN_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise _Skip(f"unreadable run.json: {err}") from err
    if not isinstance(info, dict):
        raise _Skip("run.json is not a JSON object")
    status = info.get("status")
    if status != "complete" and not include_incomplete:
        raise _Skip(f"status {status!r}")
    missing = [k for k in ("benchmark", "method", "seed") if k not in info]
    if missing:
        raise _Skip(f"run.json lacks {', '.join(missing)}")
    reports = _read_reports(folder)
    if reports is None:
        raise _Skip("no reports.parquet")
    trials_path = folder / TRIALS_FILE
    trials = pd.read_parquet(trials_path) if trials_path.is_file() else pd.DataFrame()
    config = _read_config(folder)
    objective = info.get("objective") or {}
    metric = objective.get("metric", "val_error")
    if len(reports) and metric not in reports.columns:
        raise ResultsError(f"'{folder}': reports.parquet has no column '{metric}' (the metric)")
    budget = config.get("budget") or {}
    method_cfg = config.get("method") or {}
    row = {
        "benchmark": str(info["benchmark"]),
        "method": str(info.get("method_label") or info["method"]),
        "method_name": str(info["method"]),
        "seed": int(info["seed"]),
        "path": str(folder),
        "status": status,
        "n_workers": info.get("n_workers", config.get("n_workers")),
        "backend": info.get("backend", config.get("backend")),
        "count_method_time": bool(info.get("count_method_time", False)),
        "metric": metric,
        "max_epochs": objective.get("max_epochs"),
        "best_known_value": _float_or_nan(info.get("best_known_value")),
        "worst_known_value": _float_or_nan(info.get("worst_known_value")),
        "budget_time": _float_or_nan(budget.get("time")),
        "budget_trials": budget.get("trials"),
        "budget_epochs": budget.get("epochs"),
        "git_revision": info.get("git_revision"),
        "method_settings": dict(method_cfg.get("settings") or {}),
        "benchmark_settings": dict(config.get("benchmark") or {}),
        "objective": dict(objective),
        "ended_by": (info.get("summary") or {}).get("ended_by"),
        "problem": _problem(info, folder),
    }
    label = {"benchmark": row["benchmark"], "method": row["method"], "seed": row["seed"]}
    return row, reports.assign(**label), trials.assign(**label)


def _problem(info: dict[str, Any], folder: Path):
    from analysis.multiobjective import run_problem

    try:
        return run_problem(info)
    except (ValueError, TypeError, KeyError) as err:
        raise ResultsError(f"'{folder}': run.json has an unreadable problem: {err}") from err


def _read_reports(folder: Path) -> pd.DataFrame | None:
    path = folder / REPORTS_FILE
    if path.is_file():
        return pd.read_parquet(path)
    journal = folder / JOURNAL_FILE
    if journal.is_file():  # an interrupted run: the reports it had made
        lines = [json.loads(s) for s in journal.read_text().splitlines() if s.strip()]
        return pd.DataFrame(lines)
    return None


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ResultsError(f"'{path}' is not valid YAML: {err}") from err
    return config if isinstance(config, dict) else {}


def _float_or_nan(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _concat(frames: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=order)
    out = pd.concat(frames, ignore_index=True)
    keys = [k for k in order if k in out.columns]
    return out.sort_values(keys, kind="stable", ignore_index=True)
