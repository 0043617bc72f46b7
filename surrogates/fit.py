"""Fit the XGBoost surrogate of a table: ``python -m surrogates.fit TABLE_DIR --out MODEL_DIR``.

The XGBoost settings come from ``surrogates/xgb_params.json`` (chosen by
``scripts/search_xgb_params.py`` with cross-validation grouped by configuration, then fixed).
``--validate`` also writes the held-out validation report (``surrogates.validate``) next to the
model. :func:`cached_surrogate` fits a table on first use into the user cache folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from surrogates import timing as timing_tables
from surrogates.model import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    TIME_TARGET,
    FeatureEncoder,
    SurrogateError,
    SurrogateModel,
    Target,
)
from surrogates.noise import CurveNoise, NoiseModel, estimate_metric_noise, estimate_noise
from surrogates.table import Table, TableError, load_table

DEFAULT_PARAMS = Path(__file__).with_name("xgb_params.json")
# One thread: the fitted model is then the same on every machine (histogram sums in a fixed
# order), so the shipped surrogate can be regenerated bit for bit; tables are small enough.
# The gradients come from :func:`masked_squared_error`; ``objective`` only names the loss (and the
# identity link) and ``base_score`` 0 is the intercept of the standardised labels.
FIXED_PARAMS = {"objective": "reg:squarederror", "tree_method": "hist", "seed": 0, "nthread": 1,
                "base_score": 0.0}
LOSS = ("squared error of the standardised labels over the rows that measure each output: a "
        "configuration that a timing or cost-metrics table does not hold gives that output no "
        "gradient and no hessian")


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """The XGBoost settings file: ``{"params": {...}, "num_boost_round": N, ...}``."""
    path = Path(path) if path is not None else DEFAULT_PARAMS
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SurrogateError(f"{path}: cannot read XGBoost settings ({err})") from err
    for key in ("params", "num_boost_round"):
        if key not in data:
            raise SurrogateError(f"{path}: missing key '{key}'")
    return data


def target_columns(table: Table, timing: Table | None = None,
                   costs: Table | None = None) -> list[str]:
    """The model outputs, in order: the table's per-epoch metrics that are columns, the
    per-configuration metrics of ``costs``, ``timing`` or the table (:mod:`surrogates.timing`),
    then epoch time."""
    per_config = timing_tables.config_metric_sources(table, timing, costs)
    metrics = [m for m in table.metric_names
               if m in table.frame.columns and m != TIME_TARGET and m not in per_config]
    if table.metric not in metrics:
        metrics.insert(0, table.metric)
    return [*metrics, *per_config, TIME_TARGET]


def fit_targets(frame: pd.DataFrame, outputs: list[str]) -> list[Target]:
    """Transforms and standardisation of every output, from ``frame`` (the training rows) only."""
    return [
        Target.fitted(name, frame[name].to_numpy(dtype=float),
                      "log" if name == TIME_TARGET else "range_logit")
        for name in outputs
    ]


def curve_mean_time(frame: pd.DataFrame, z: np.ndarray, outputs: list[str]) -> np.ndarray:
    """The training labels: ``z`` with log epoch time replaced by its mean along each curve.

    Epoch times within one curve differ only by machine-load noise (same work every epoch), so the
    label of every epoch is the curve's mean log time: the model learns the configuration's time,
    not the load of the moment. The noise model still sees the per-epoch values.
    """
    k = outputs.index(TIME_TARGET)
    labels = z.copy()
    keys = [frame["config_id"].to_numpy(), frame["seed"].to_numpy()]
    labels[:, k] = pd.Series(z[:, k]).groupby(keys).transform("mean").to_numpy()
    return labels


def curve_features(encoder: FeatureEncoder, frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric features of every configuration of ``frame`` (one row per config_id): the
    candidate covariates of the metric's noise scale (see
    :func:`surrogates.noise.estimate_metric_noise`)."""
    first = frame.sort_values(["config_id", "epoch"]).groupby("config_id").head(1)
    x = encoder.encode_frame(first)
    numeric = [i for i, kind in enumerate(encoder.types[:-1]) if kind == "q"]
    return pd.DataFrame(x[:, numeric], index=first["config_id"].to_numpy(),
                        columns=[encoder.names[i] for i in numeric])


def fit_model(
    table: Table,
    frame: pd.DataFrame | None = None,
    settings: dict[str, Any] | None = None,
    nthread: int | None = None,
    timing: Table | None = None,
    costs: Table | None = None,
) -> SurrogateModel:
    """Fit a surrogate to ``frame`` (default: every row of ``table``), in memory.

    ``timing`` (a timing table of the same configurations, :mod:`surrogates.timing`) gives the
    epoch-time target instead of the table's own epoch times, and the per-configuration metrics
    it records; ``costs`` (a cost-metrics table of the same configurations) gives the
    per-configuration metrics it records instead. Each per-configuration metric is fitted to its
    configuration's mean log value.
    """
    settings = settings if settings is not None else load_params()
    frame = table.frame if frame is None else frame
    space = table.space(finite=False)
    encoder = FeatureEncoder(space)
    outputs = target_columns(table, timing, costs)
    train_ids = frame["config_id"].unique()
    per_config = {  # per-configuration metric -> (its source table, its training rows)
        name: (source, frame if source is table else timing_tables.rows_of(source, train_ids))
        for name, source in timing_tables.config_metric_sources(table, timing, costs).items()
    }
    own = [name for name in outputs if name not in per_config]  # fitted to the table's rows
    targets_of = {t.name: t for t in fit_targets(frame, own)}
    if timing is not None:
        timing_rows = timing_tables.rows_of(timing, train_ids)
        targets_of[TIME_TARGET] = timing_tables.log_target(timing_rows)
    for name, (_, rows) in per_config.items():
        targets_of[name] = timing_tables.log_target(rows, name)
    targets = [targets_of[name] for name in outputs]
    z = np.column_stack([targets_of[n].forward(frame[n].to_numpy(dtype=float)) for n in own])
    own_labels = curve_mean_time(frame, z, own)
    if timing is not None:
        own_labels[:, own.index(TIME_TARGET)] = frame["config_id"].map(
            timing_tables.mean_log(timing_rows)
        ).to_numpy()
    labels = np.empty((len(frame), len(outputs)))
    for k, name in enumerate(outputs):
        labels[:, k] = (
            frame["config_id"].map(timing_tables.mean_log(per_config[name][1], name)).to_numpy()
            if name in per_config else own_labels[:, own.index(name)]
        )
    y = (labels - [t.center for t in targets]) / [t.scale for t in targets]
    measured = np.isfinite(y)  # False where a timing or cost table does not hold the config
    x = encoder.encode_frame(frame)
    dtrain = xgb.DMatrix(
        x, label=np.where(measured, y, 0.0), feature_names=encoder.names,
        feature_types=encoder.types, enable_categorical=True,
    )
    params = {**FIXED_PARAMS, **settings["params"]}
    if nthread is not None:
        params["nthread"] = nthread
    booster = xgb.train(params, dtrain, num_boost_round=int(settings["num_boost_round"]),
                        obj=masked_squared_error(measured))
    scaled = frame[["config_id", "seed", "epoch"]].copy()
    for k, name in enumerate(own):
        scaled[name] = z[:, k]
    noise = estimate_noise(scaled, own, table.max_epochs)
    if timing is not None or per_config:
        parts = dict(noise.parts)
        if timing is not None:  # the time output's noise from the timing repeats instead
            parts[TIME_TARGET] = timing_tables.log_noise(
                timing_rows, timing.max_epochs, table.max_epochs
            )
        for name, (source, rows) in per_config.items():
            parts[name] = timing_tables.log_noise(rows, source.max_epochs, table.max_epochs, name)
        noise = NoiseModel(outputs, parts, noise.n_configs, noise.n_curves)
    metric_noise = estimate_metric_noise(
        frame, table.metric, curve_features(encoder, frame), table.max_epochs
    )
    if metric_noise is not None:  # the objective metric's noise in its own units instead
        parts = {**noise.parts, table.metric: CurveNoise([0.0] * table.max_epochs)}
        noise = NoiseModel(noise.outputs, parts, noise.n_configs, noise.n_curves, metric_noise)
    manifest = {
        "format_version": FORMAT_VERSION,
        "table": {
            "name": table.name,
            "path": str(table.path),
            "sha256": table.checksum,
            "search_space": space.spec(),
            "max_epochs": table.max_epochs,
            "metric": table.metric,
            "metrics": list(table.metric_names),
            "configs": int(frame["config_id"].nunique()),
            "rows": len(frame),
        },
        "features": encoder.schema(),
        "targets": [t.to_json() for t in targets],
        "noise": noise.to_json(),
        "timing": timing_tables.describe(timing, timing_rows) if timing is not None else None,
        **({"config_metrics": {
            name: timing_tables.describe(source, rows, name)
            for name, (source, rows) in per_config.items()
        }} if per_config else {}),
        "xgboost": {"params": params, "num_boost_round": int(settings["num_boost_round"]),
                    "loss": LOSS, "version": xgb.__version__},
    }
    return SurrogateModel(booster, manifest)


def masked_squared_error(measured: np.ndarray):
    """XGBoost objective: squared error on the (row, output) pairs where ``measured`` is True.

    XGBoost takes no missing labels, so an output measured on only some configurations (epoch time
    from a timing table that holds part of the table) gets zero gradient and hessian on the others;
    with one tree per output that fits each output to exactly the rows that measure it (up to the
    feature histogram's bin edges, which come from every row). The approach the XGBoost
    maintainers suggest for partial multi-output labels (dmlc/xgboost#12295).
    """
    hess = measured.astype(np.float32)

    def objective(predt: np.ndarray, dtrain: xgb.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        labels = dtrain.get_label().reshape(predt.shape)
        return (predt - labels) * hess, hess

    return objective


def fit_surrogate(
    table: Table | str | Path,
    out: str | Path,
    params_path: str | Path | None = None,
    timing: Table | None = None,
    costs: Table | None = None,
) -> SurrogateModel:
    """Fit on every row of the table (epoch times from ``timing``, cost metrics from ``costs``,
    where given); save to ``out``."""
    table = table if isinstance(table, Table) else load_table(table)
    if timing is not None:
        timing_tables.check_timing(table, timing)
    if costs is not None:
        timing_tables.check_cost_table(table, costs)
    settings = load_params(params_path)
    model = fit_model(table, settings=settings, timing=timing, costs=costs)
    model.manifest["xgboost"]["settings_file"] = (
        str(params_path) if params_path else "surrogates/xgb_params.json"
    )
    model.save(out)
    return model


# -- fit on first use, cached -------------------------------------------------------------------


def cache_root() -> Path:
    """``$TUNEBENCH_CACHE``, else ``$XDG_CACHE_HOME/tunebench``, else ``~/.cache/tunebench``."""
    if os.environ.get("TUNEBENCH_CACHE"):
        return Path(os.environ["TUNEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tunebench"


def cached_surrogate(table: Table | str | Path, params_path: str | Path | None = None) -> Path:
    """The surrogate folder of ``table`` in the user cache, fitted now if it is not there yet.

    The cache key is the table's sha256, the settings and the XGBoost version, so a changed table
    or setting never reuses a stale model. Concurrent first uses each fit; the first to finish wins.
    """
    table = table if isinstance(table, Table) else load_table(table)
    settings = load_params(params_path)
    key = hashlib.sha256(
        json.dumps([table.checksum, settings["params"], settings["num_boost_round"],
                    xgb.__version__], sort_keys=True).encode()
    ).hexdigest()[:20]
    folder = cache_root() / "surrogates" / f"{table.name}-{key}"
    if (folder / MANIFEST_FILE).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fit-", dir=folder.parent))
    try:
        fit_surrogate(table, tmp, params_path)
        try:
            tmp.rename(folder)
        except OSError:
            if not (folder / MANIFEST_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m surrogates.fit",
        description="Fit the XGBoost surrogate of a table (and optionally validate it).",
    )
    parser.add_argument("table", help="table folder (table.parquet + meta.json)")
    parser.add_argument("--out", help="surrogate folder to write (default: TABLE/surrogate)")
    parser.add_argument("--params", help=f"XGBoost settings file (default: {DEFAULT_PARAMS})")
    parser.add_argument(
        "--validate", action="store_true",
        help="also write the held-out validation report (validation.json/.png/.pdf) to --out",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds for --validate (default 5)")
    parser.add_argument(
        "--timing", help="timing table of the same configurations: epoch times from it "
        "(see surrogates/timing.py)",
    )
    parser.add_argument(
        "--cost-table", dest="costs", metavar="TABLE", help="cost-metrics table of the same "
        "configurations (collected with --cost-metrics): peak_memory_mb and latency_ms from it "
        "(see surrogates/timing.py)",
    )
    args = parser.parse_args(argv)
    try:
        table = load_table(args.table)
        timing = load_table(args.timing) if args.timing else None
        costs = load_table(args.costs) if args.costs else None
        out = Path(args.out) if args.out else Path(args.table) / "surrogate"
        model = fit_surrogate(table, out, args.params, timing, costs)
    except (TableError, SurrogateError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    noise = model.manifest["noise"]["estimated_from"]
    print(
        f"fitted {table.name} ({len(table.frame)} rows, {table.frame['config_id'].nunique()} "
        f"configs; noise from {noise['configs']} multi-seed configs) -> {out} "
        f"({size / 1e6:.2f} MB, model sha256 {model.manifest['model_sha256'][:12]}...)"
    )
    if args.validate:
        from surrogates.validate import cross_validate, print_summary, write_report

        report = cross_validate(table, load_params(args.params), n_folds=args.folds,
                                timing=timing, costs=costs)
        write_report(report, out)
        print_summary(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
