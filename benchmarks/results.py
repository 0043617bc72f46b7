"""Results folders: one per run (benchmark / method / seed).

A folder holds ``config.yaml`` (the resolved config), ``run.json`` (versions, git revision, seed,
start and end time, status, summary), ``reports.parquet`` (one row per epoch report) and
``trials.parquet`` (one row per trial). ``run.json`` is written first with status ``incomplete``
and rewritten with ``complete`` only after both tables are in place; every file is written to a
temporary name and renamed, so an interrupted run never looks complete. With ``journal=True``
every report is also appended to ``reports.jsonl`` as it arrives (flushed), so a crash of a long
real run loses no report it had made.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
REPORTS_FILE = "reports.parquet"
TRIALS_FILE = "trials.parquet"
JOURNAL_FILE = "reports.jsonl"
CONFIG_PREFIX = "config_"
STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"
LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost", "hydra-core")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_json_atomic(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomic(path, text.encode())


def write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    tmp.replace(path)


def read_run_info(folder: Path) -> dict[str, Any] | None:
    """The run.json of a results folder, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(folder) / RUN_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run (its run.json says complete, tables present)."""
    info = read_run_info(folder)
    return (
        info is not None
        and info.get("status") == STATUS_COMPLETE
        and (Path(folder) / REPORTS_FILE).is_file()
        and (Path(folder) / TRIALS_FILE).is_file()
    )


def environment_info() -> dict[str, Any]:
    """tunebench and library versions, Python, host, git revision (where available)."""
    versions = {}
    for lib in ("tunebench", *LIBRARIES):
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "git_revision": git_revision(),
    }


def git_revision() -> str | None:
    """The git revision of the tunebench source, with '+dirty' for uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ResultsWriter:
    """Collects a run's reports and trials and writes its results folder."""

    folder: Path
    journal: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)
    _info: dict[str, Any] = field(default_factory=dict)
    _journal_file: Any = None

    def start(self, config_yaml: str, info: Mapping[str, Any]) -> None:
        """Create the folder, write the config and an ``incomplete`` run.json."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (REPORTS_FILE, TRIALS_FILE, JOURNAL_FILE):
            (self.folder / stale).unlink(missing_ok=True)
        write_bytes_atomic(self.folder / CONFIG_FILE, config_yaml.encode())
        self._info = {
            **info,
            **environment_info(),
            "status": STATUS_INCOMPLETE,
            "started_at": utc_now(),
        }
        write_json_atomic(self.folder / RUN_FILE, self._info)
        if self.journal:
            self._journal_file = open(self.folder / JOURNAL_FILE, "a", buffering=1)  # noqa: SIM115

    def report(self, row: dict[str, Any]) -> None:
        """One epoch report: trial_id, epoch, time, worker, metrics, decision, config_<name>."""
        self.reports.append(row)
        if self._journal_file is not None:
            self._journal_file.write(json.dumps(row, default=str) + "\n")
            self._journal_file.flush()
            os.fsync(self._journal_file.fileno())

    def finish(self, trials: list[dict[str, Any]], summary: Mapping[str, Any], status: str) -> None:
        """Write both tables, then run.json with the final status and summary."""
        write_parquet_atomic(self.folder / REPORTS_FILE, self._frame(self.reports))
        write_parquet_atomic(self.folder / TRIALS_FILE, self._frame(trials))
        self._info.update(status=status, finished_at=utc_now(), summary=dict(summary))
        write_json_atomic(self.folder / RUN_FILE, self._info)
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None
            (self.folder / JOURNAL_FILE).unlink(missing_ok=True)

    @staticmethod
    def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame(rows)
