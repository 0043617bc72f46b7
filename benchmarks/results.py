"""Results folders: one per run (benchmark / method / seed).

A folder holds ``config.yaml`` (the resolved config), ``run.json`` (versions, git revision, seed,
start and end time, status, summary), ``reports.parquet`` (one row per epoch report) and
``trials.parquet`` (one row per trial). ``run.json`` is written first with status ``incomplete``
and rewritten with ``complete`` only after both tables are in place; every file is written to a
temporary name of its own (so writers never share one), flushed to disk (``fsync``) and renamed,
so an interrupted run never looks complete. With ``journal=True`` every report is also appended to
``reports.jsonl`` as it arrives (flushed), so a crash of a long real run loses no report it had
made.

One writer at a time: :class:`RunLock` takes an exclusive ``flock`` on the run folder itself, held
from the decision to skip or run until the run is written; a second process finds it taken and
skips the run. :func:`stored_run` reads what a folder holds and checks that a complete run's
tables are readable, so a damaged "complete" run is redone rather than skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
REPORTS_FILE = "reports.parquet"
TRIALS_FILE = "trials.parquet"
JOURNAL_FILE = "reports.jsonl"
CONFIG_PREFIX = "config_"
STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"
LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost", "hydra-core")


def _replace_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp)`` to a temporary file of its own in the same folder,
    fsync it, rename it over ``path`` and fsync the folder (the rename is then durable)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    _replace_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomic(path, text.encode())


def write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    _replace_atomic(path, lambda tmp: pq.write_table(table, tmp))


def read_run_info(folder: Path) -> dict[str, Any] | None:
    """The run.json of a results folder, or None if there is none (or it is unreadable)."""
    try:
        info = json.loads((Path(folder) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


@dataclass
class StoredRun:
    """What a run folder holds: run.json's status (None: no readable run.json), the stored
    config (None: none), and for a complete run why its tables are unreadable ('' if fine)."""

    status: str | None
    config: dict[str, Any] | None
    damage: str = ""

    @property
    def complete(self) -> bool:
        """A finished run whose files are all readable."""
        return self.status == STATUS_COMPLETE and not self.damage


def stored_run(folder: Path) -> StoredRun:
    """Read what ``folder`` holds (see :class:`StoredRun`); the tables of a complete run are
    read in full."""
    folder = Path(folder)
    info = read_run_info(folder)
    config = None
    if (folder / CONFIG_FILE).is_file():
        try:
            loaded = yaml.safe_load((folder / CONFIG_FILE).read_text())
            config = loaded if isinstance(loaded, dict) else None
        except (OSError, yaml.YAMLError):
            config = None
    status = None if info is None else info.get("status")
    damage = ""
    if status == STATUS_COMPLETE:
        for name in (REPORTS_FILE, TRIALS_FILE):
            try:
                pq.read_table(folder / name)
            except (OSError, pa.ArrowException) as err:
                damage = f"{name} is unreadable ({str(err).splitlines()[0][:120]})"
                break
        if not damage and config is None:
            damage = f"{CONFIG_FILE} is missing or unreadable"
    return StoredRun(status, config, damage)


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run: run.json says complete, every file readable."""
    return stored_run(folder).complete


class RunLock:
    """An exclusive, non-blocking lock on a run folder (``flock`` on the folder itself, so no
    lock file is left behind); released on :meth:`release` or when the process ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process holds it."""
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


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
        for tmp in self.folder.glob(".*.tmp"):  # left by a killed writer (we hold the lock)
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
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
