"""Tables of recorded learning curves: the format, loading and validation.

A table is a folder with two files:

- ``table.parquet``: one row per configuration x seed x epoch, with the columns ``config_id``,
  ``seed``, ``epoch`` (1..max_epochs), one column per hyperparameter, the metrics (``val_error``,
  an error rate in [0, 1], and ``train_loss``), ``epoch_time`` (seconds, > 0) and
  ``cumulative_time``. Every (config_id, seed) curve holds every epoch 1..max_epochs.
- ``meta.json``: ``name``, ``search_space`` (``{name: domain spec}``), ``max_epochs``,
  ``metric`` (the minimised one), ``metrics``, and ``provenance`` (command, hardware, versions,
  date). Optional: ``config_metrics``, the metrics that are properties of a configuration,
  measured once per curve and repeated at every epoch (``peak_memory_mb``, ``latency_ms``; how
  they were measured is in the provenance): each is one of ``metrics``, a column, finite, > 0
  and constant along every curve.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hpo_methods.space import Config, SearchSpace, SearchSpaceError

TABLE_FILE = "table.parquet"
META_FILE = "meta.json"
KEY_COLUMNS = ("config_id", "seed", "epoch")
REQUIRED_METRICS = ("val_error", "epoch_time", "cumulative_time")
# the values a metric can take, where the format fixes it: val_error is an error rate
METRIC_DOMAINS: dict[str, tuple[float, float]] = {"val_error": (0.0, 1.0)}
REQUIRED_META = ("name", "search_space", "max_epochs", "metric", "metrics")
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


class TableError(ValueError):
    """A table that cannot be used; the message names the file and the problem."""


@dataclass
class Table:
    """A validated table of learning curves."""

    path: Path
    frame: pd.DataFrame
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def max_epochs(self) -> int:
        return int(self.meta["max_epochs"])

    @property
    def metric(self) -> str:
        return str(self.meta["metric"])

    @property
    def metric_names(self) -> list[str]:
        return list(self.meta["metrics"])

    @property
    def config_metrics(self) -> list[str]:
        """Metrics measured once per curve (constant along it); see the module docstring."""
        return list(self.meta.get("config_metrics", []))

    @property
    def hyperparameters(self) -> list[str]:
        return list(self.meta["search_space"])

    @cached_property
    def checksum(self) -> str:
        """sha256 of the Parquet file: what fitted surrogates are tied to."""
        return file_sha256(self.path / TABLE_FILE)

    @cached_property
    def configs(self) -> pd.DataFrame:
        """One row per configuration (index config_id), hyperparameter columns only."""
        return (
            self.frame.drop_duplicates("config_id")
            .set_index("config_id")[self.hyperparameters]
            .sort_index()
        )

    def config_dicts(self) -> list[Config]:
        """The recorded configurations, in config_id order, with plain Python values."""
        return [
            {k: _plain(v) for k, v in row.items()} for row in self.configs.to_dict(orient="records")
        ]

    def space(self, finite: bool = True) -> SearchSpace:
        """The search space; ``finite`` restricts it to the recorded configurations."""
        candidates = self.config_dicts() if finite else None
        return SearchSpace.from_spec(self.meta["search_space"], candidates)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file; a missing, truncated or foreign file gives an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as err:
        raise TableError(f"{path}: not a readable Parquet file ({err})") from err


def load_table(path: str | Path) -> Table:
    """Load and validate a table folder (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_dir():
        raise TableError(f"{path}: not a table folder (expected {TABLE_FILE} and {META_FILE})")
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise TableError(f"{meta_path}: missing metadata file")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise TableError(f"{meta_path}: not valid JSON ({err})") from err
    table = Table(path, read_parquet(path / TABLE_FILE), meta)
    validate_table(table)
    return table


def validate_table(table: Table) -> None:
    """Raise :class:`TableError` naming the first problem found."""
    where = table.path / TABLE_FILE
    missing_meta = [k for k in REQUIRED_META if k not in table.meta]
    if missing_meta:
        raise TableError(f"{table.path / META_FILE}: missing keys {missing_meta}")
    name = table.meta["name"]
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        raise TableError(f"{table.path / META_FILE}: name {name!r} must be letters, digits and "
                         "_ . - (it names folders, e.g. the cached surrogate's)")
    try:
        space = SearchSpace.from_spec(table.meta["search_space"])
    except SearchSpaceError as err:
        raise TableError(f"{table.path / META_FILE}: bad search_space: {err}") from err
    df = table.frame
    needed = [*KEY_COLUMNS, *table.hyperparameters, table.metric, *REQUIRED_METRICS]
    for column in dict.fromkeys(needed):
        if column not in df.columns:
            raise TableError(f"{where}: missing column '{column}'")
    for column in [*KEY_COLUMNS, *table.hyperparameters, table.metric, "epoch_time"]:
        if df[column].isna().any():
            n = int(df[column].isna().sum())
            raise TableError(f"{where}: column '{column}' has {n} missing (NaN) values")
    for column in KEY_COLUMNS:
        if not pd.api.types.is_integer_dtype(df[column]):
            raise TableError(f"{where}: column '{column}' must hold integers")
    for name in table.hyperparameters:
        domain = space[name]
        bad = [v for v in df[name].unique() if not domain.contains(_plain(v))]
        if bad:
            raise TableError(
                f"{where}: column '{name}' has values outside its domain {domain.spec()}: {bad[:3]}"
            )
    if not np.isfinite(df[table.metric].to_numpy(dtype=float)).all():
        raise TableError(f"{where}: column '{table.metric}' has non-finite values")
    for column, (low, high) in METRIC_DOMAINS.items():
        values = df[column].to_numpy(dtype=float)
        outside = values[(values < low) | (values > high)]
        if len(outside):
            raise TableError(f"{where}: column '{column}' must lie in [{low:g}, {high:g}]; "
                             f"found {outside[:3].tolist()}")
    if (df["epoch_time"] <= 0).any():
        raise TableError(f"{where}: column 'epoch_time' must be > 0 everywhere")
    max_epochs = table.max_epochs
    if df.duplicated(list(KEY_COLUMNS)).any():
        raise TableError(f"{where}: repeated (config_id, seed, epoch) rows")
    counts = df.groupby(["config_id", "seed"])["epoch"].agg(["min", "max", "count"])
    incomplete = counts[(counts["min"] != 1) | (counts["max"] != max_epochs)]
    incomplete = pd.concat([incomplete, counts[counts["count"] != max_epochs]])
    if len(incomplete):
        cid, seed = incomplete.index[0]
        raise TableError(
            f"{where}: curve config_id={cid} seed={seed} does not hold epochs 1..{max_epochs}"
        )
    per_config = df.groupby("config_id")[table.hyperparameters].nunique()
    if (per_config > 1).any().any():
        raise TableError(f"{where}: a config_id has differing hyperparameter values")
    _validate_config_metrics(table)


def _validate_config_metrics(table: Table) -> None:
    where = table.path / TABLE_FILE
    names = table.meta.get("config_metrics", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TableError(f"{table.path / META_FILE}: config_metrics must be a list of names")
    for name in names:
        if name not in table.metric_names:
            raise TableError(
                f"{table.path / META_FILE}: config metric '{name}' is not one of the metrics "
                f"{table.metric_names}"
            )
        if name not in table.frame.columns:
            raise TableError(f"{where}: missing column '{name}' (a config metric)")
        values = table.frame[name].to_numpy(dtype=float)
        if not (np.isfinite(values) & (values > 0)).all():
            raise TableError(f"{where}: config metric '{name}' must be finite and > 0 everywhere")
        spread = table.frame.groupby(["config_id", "seed"])[name].nunique()
        if (spread > 1).any():
            cid, seed = spread.index[np.flatnonzero(spread.to_numpy() > 1)[0]]
            raise TableError(
                f"{where}: config metric '{name}' changes along curve config_id={cid} "
                f"seed={seed} (it is measured once per curve)"
            )


def write_table(path: str | Path, frame: pd.DataFrame, meta: dict[str, Any]) -> Table:
    """Validate and write a table folder atomically (temporary files, then rename)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    frame = frame.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
    table = Table(path, frame, meta)
    validate_table(table)
    tmp_parquet = path / f".{TABLE_FILE}.tmp"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_parquet)
    tmp_parquet.replace(path / TABLE_FILE)
    write_json_atomic(path / META_FILE, meta)
    return load_table(path)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_plain) + "\n")
    tmp.replace(path)


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars."""
    return value.item() if isinstance(value, np.generic) else value
