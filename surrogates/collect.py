"""Record learning curves of the real objective into a table: ``python -m surrogates.collect``.

::

    python -m surrogates.collect run --workdir .collect/r8 --data cifar10-jpeg.tar.gz --shard 0/2
    python -m surrogates.collect status --workdir .collect/r8
    python -m surrogates.collect merge --workdir .collect/r8 --out surrogates/data/r8_cifar10

``run`` trains each configuration of a seeded Sobol design (over the encoded search space, decoded
with :meth:`SearchSpace.decode`) for all epochs; the first ``--multi-seed-configs`` configurations
get ``--seeds`` seeds. Every finished curve is written to its own Parquet file under
``<workdir>/curves/`` (temporary file, fsync, rename), so a kill loses at most the curve in progress
and rerunning the same command skips finished curves. ``--shard i/n`` takes every n-th curve. The
settings are stored in ``<workdir>/settings.json``; resuming with different settings is refused,
except that ``--configs``, ``--multi-seed-configs`` and ``--seeds`` may grow (the design keeps its
first points, so a grown collection keeps every finished curve).
``merge`` checks that every curve is there and writes the validated table folder (see
:mod:`surrogates.table`) with provenance in ``meta.json``.

``--cost-metrics`` also records each configuration's ``peak_memory_mb`` (peak training memory)
and ``latency_ms`` (inference latency per image), measured once per curve by the real objective
(:mod:`benchmarks.real.measure`; outside the epochs' timed windows, so ``epoch_time`` means the
same with or without it) and repeated at every epoch; the table lists them as ``config_metrics``
and its provenance says how they were measured. A collection's settings decide its metric set:
a collection started without the flag (whose ``settings.json`` does not name it) keeps the old
columns, and resuming it with the flag is refused.

Only ``run`` imports torch (through :mod:`benchmarks.real`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import qmc

from benchmarks.real import COST_METRICS
from hpo_methods.space import Config, SearchSpace
from surrogates.table import TableError, read_parquet, write_json_atomic, write_table

SETTINGS_FILE = "settings.json"
CURVES_DIR = "curves"
SHARDS_DIR = "shards"
METRICS = ("val_error", "train_loss", "diverged")
SPACE_SPEC: dict[str, dict[str, Any]] = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "weight_decay": {"type": "loguniform", "low": 1e-9, "high": 1e-2},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
}


# Settings a collection may grow in place: more configurations of the same design (a scrambled
# Sobol sequence keeps its first points when more are drawn), more seeds, more repeated
# configurations. Everything else fixes the curves already collected.
GROWABLE = ("configs", "multi_seed_configs", "seeds")


class CollectError(ValueError):
    """Bad collection settings or a working folder that does not fit them."""


@dataclass(frozen=True)
class Settings:
    """Everything that fixes the collected curves (a resumed collection must match all of it)."""

    data: str
    model: str = "resnet8"
    n_train: int = 1000
    n_val: int = 1000
    epochs: int = 20
    configs: int = 200
    multi_seed_configs: int = 20
    seeds: int = 3
    design_seed: int = 0
    split_seed: int = 0
    device: str = "cpu"
    threads: int = 1
    cost_metrics: bool = False

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric columns of every curve of this collection."""
        return (*METRICS, *COST_METRICS) if self.cost_metrics else METRICS

    def stored(self) -> dict[str, Any]:
        """What ``settings.json`` holds: every field, but ``cost_metrics`` only when set (a
        collection without it keeps the settings file it had before the option existed)."""
        out = asdict(self)
        if not self.cost_metrics:
            del out["cost_metrics"]
        return out

    def check(self) -> None:
        for name in ("n_train", "n_val", "epochs", "configs", "seeds", "threads"):
            if getattr(self, name) < 1:
                raise CollectError(f"--{name.replace('_', '-')} must be >= 1")
        if not 0 <= self.multi_seed_configs <= self.configs:
            raise CollectError("--multi-seed-configs must be between 0 and --configs")


def design(space: SearchSpace, n: int, seed: int) -> list[Config]:
    """The first ``n`` points of a scrambled Sobol sequence over the encoded space, decoded."""
    sobol = qmc.Sobol(d=space.dim, scramble=True, seed=seed)
    points = sobol.random_base2(max(0, int(np.ceil(np.log2(max(n, 1))))))[:n]
    return [space.decode(x) for x in points]


def curve_jobs(settings: Settings) -> list[tuple[int, int]]:
    """(config_id, seed) of every curve, in collection order: the multi-seed configurations with
    all their seeds first, then the other configurations, so that a partial table (``merge
    --partial``) already measures the seed-to-seed noise. A curve's training seed depends on
    (design seed, config_id, seed) only, never on this order."""
    multi = [(cid, seed) for cid in range(settings.multi_seed_configs)
             for seed in range(settings.seeds)]
    return multi + [(cid, 0) for cid in range(settings.multi_seed_configs, settings.configs)]


def torch_seed(settings: Settings, config_id: int, seed: int) -> int:
    """The training seed of one curve (derived from the design seed, configuration and seed)."""
    state = np.random.SeedSequence([settings.design_seed, config_id, seed]).generate_state(1)
    return int(state[0])


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` with 0 <= i < n."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError as err:
        raise CollectError(f"--shard must look like i/n (e.g. 0/2), got {text!r}") from err
    if not (n >= 1 and 0 <= i < n):
        raise CollectError(f"--shard {text}: need 0 <= i < n")
    return i, n


def curve_path(workdir: Path, config_id: int, seed: int) -> Path:
    return workdir / CURVES_DIR / f"config={config_id:05d}_seed={seed}.parquet"


def prepare_workdir(workdir: Path, settings: Settings) -> None:
    """Create ``workdir`` with its settings, or check that the stored settings are the same
    (``GROWABLE`` settings may only grow: the collection then extends in place)."""
    settings.check()
    path = workdir / SETTINGS_FILE
    if path.exists():
        stored = asdict(Settings(**read_settings(workdir)))
        grown = []
        for key, value in asdict(settings).items():
            if stored.get(key) == value:
                continue
            if key in GROWABLE and isinstance(stored.get(key), int) and value > stored[key]:
                grown.append(f"{key} {stored[key]} -> {value}")
                continue
            hint = (" (a collection only grows)" if key in GROWABLE
                    else "; use another --workdir or the same settings")
            raise CollectError(
                f"{path}: collected with {key}={stored.get(key)!r}, not {value!r}{hint}"
            )
        if not grown:
            return
        print(f"{workdir}: growing the collection ({', '.join(grown)}); the design is a "
              f"prefix-stable Sobol sequence, so every finished curve stays valid", flush=True)
    elif (workdir / CURVES_DIR).is_dir() and any((workdir / CURVES_DIR).iterdir()):
        raise CollectError(f"{workdir}: holds curves but no {SETTINGS_FILE}; not a collection")
    (workdir / CURVES_DIR).mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SETTINGS_FILE}.{os.getpid()}.tmp")  # shards may start together
    tmp.write_text(json.dumps(settings.stored(), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read_settings(workdir: Path) -> dict[str, Any]:
    path = workdir / SETTINGS_FILE
    if not path.is_file():
        raise CollectError(f"{path}: missing; {workdir} is not a collection working folder")
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CollectError(f"{path}: not valid JSON ({err})") from err
    unknown = set(stored) - set(Settings.__dataclass_fields__)
    if unknown or "data" not in stored:
        raise CollectError(f"{path}: not a collection settings file (keys {sorted(stored)})")
    return stored


def read_curve(path: Path, settings: Settings) -> pd.DataFrame:
    """One finished curve, checked against its file name and the settings."""
    frame = read_parquet(path)
    needed = ["config_id", "seed", "epoch", *SPACE_SPEC, *settings.metrics, "epoch_time",
              "cumulative_time"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TableError(f"{path}: not a curve of this collection (missing columns {missing})")
    expected = curve_path(path.parent.parent, int(frame["config_id"].iloc[0]),
                          int(frame["seed"].iloc[0])).name
    if path.name != expected or frame["epoch"].tolist() != list(range(1, settings.epochs + 1)):
        raise TableError(f"{path}: does not hold epochs 1..{settings.epochs} of its curve")
    return frame


def write_curve(path: Path, frame: pd.DataFrame) -> None:
    """Write a finished curve crash-safely: temporary file, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def done_curves(workdir: Path, settings: Settings) -> set[tuple[int, int]]:
    """(config_id, seed) of the finished curves; a broken curve file is an error naming it."""
    done = set()
    for path in sorted((workdir / CURVES_DIR).glob("config=*_seed=*.parquet")):
        frame = read_curve(path, settings)
        done.add((int(frame["config_id"].iloc[0]), int(frame["seed"].iloc[0])))
    return done


def hardware(device: str) -> dict[str, Any]:
    """CPU model and count, and the GPU name where the device is CUDA."""
    info: dict[str, Any] = {"host": socket.gethostname(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor()
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("torch", "torchvision", "numpy", "pandas", "pyarrow", "scipy", "tunebench"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[package] = md.version(package)
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ShardLog:
    """``<workdir>/shards/shard-i-of-n.json``: each run of a shard, its command and wall time."""

    def __init__(self, workdir: Path, shard: tuple[int, int], command: str, device: str,
                 cost_metrics: dict[str, str] | None = None):
        self.path = workdir / SHARDS_DIR / f"shard-{shard[0]}-of-{shard[1]}.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        runs = json.loads(self.path.read_text())["runs"] if self.path.is_file() else []
        self.entry = {"command": command, "started_at": _now(), "updated_at": _now(),
                      "curves": 0, "wall_s": 0.0, "hardware": hardware(device),
                      "versions": versions()}
        if cost_metrics is not None:  # how this process measured them
            self.entry["cost_metrics"] = cost_metrics
        self.runs = [*runs, self.entry]
        self._start = time.perf_counter()
        self.save()

    def save(self, curves_added: int = 0) -> None:
        self.entry["curves"] += curves_added
        self.entry["updated_at"] = _now()
        self.entry["wall_s"] = round(time.perf_counter() - self._start, 3)
        write_json_atomic(self.path, {"runs": self.runs})


def run_curve(objective: Any, settings: Settings, config_id: int, seed: int,
              config: Config) -> pd.DataFrame:
    """Train one configuration for all epochs; one row per epoch."""
    trial = objective.start_trial(config_id, config, torch_seed(settings, config_id, seed))
    rows, cumulative = [], 0.0
    try:
        for epoch in range(1, settings.epochs + 1):
            result = trial.next_epoch()
            cumulative += result.epoch_time
            rows.append({"config_id": config_id, "seed": seed, "epoch": epoch, **config,
                         **{m: float(result.metrics[m]) for m in settings.metrics},
                         "epoch_time": result.epoch_time, "cumulative_time": cumulative})
    finally:
        trial.close()
    return pd.DataFrame(rows)


def run(workdir: Path, settings: Settings, shard: tuple[int, int], cache_dir: str | None,
        command: str) -> int:
    """Collect the unfinished curves of one shard; returns how many it collected."""
    prepare_workdir(workdir, settings)
    space = SearchSpace.from_spec(SPACE_SPEC)
    configs = design(space, settings.configs, settings.design_seed)
    done = done_curves(workdir, settings)
    todo = [job for job in curve_jobs(settings)[shard[0]:: shard[1]] if job not in done]
    print(f"shard {shard[0]}/{shard[1]}: {len(todo)} curves to collect "
          f"({len(done)} of {len(curve_jobs(settings))} done in all)", flush=True)
    if not todo:
        return 0
    from benchmarks.real.objective import RealObjective

    objective = RealObjective(
        settings.data, settings.model, settings.n_train, settings.n_val, settings.epochs,
        cache_dir=cache_dir, threads=settings.threads, device=settings.device,
        split_seed=settings.split_seed, cost_metrics=settings.cost_metrics,
    )
    log = ShardLog(workdir, shard, command, settings.device,
                   objective.describe()["cost_metrics"])
    for k, (config_id, seed) in enumerate(todo, 1):
        start = time.perf_counter()
        frame = run_curve(objective, settings, config_id, seed, configs[config_id])
        write_curve(curve_path(workdir, config_id, seed), frame)
        log.save(curves_added=1)
        print(f"[{_now()}] {k}/{len(todo)} config {config_id} seed {seed}: final val_error "
              f"{frame['val_error'].iloc[-1]:.3f} in {time.perf_counter() - start:.1f}s",
              flush=True)
    return len(todo)


def status(workdir: Path) -> dict[str, Any]:
    """How many curves are done, and an estimate of the remaining time."""
    settings = Settings(**read_settings(workdir))
    done = done_curves(workdir, settings)
    total = len(curve_jobs(settings))
    runs = [r for p in sorted((workdir / SHARDS_DIR).glob("*.json"))
            for r in json.loads(p.read_text())["runs"]]
    curves = sum(r["curves"] for r in runs)
    per_curve = sum(r["wall_s"] for r in runs) / curves if curves else None
    return {"done": len(done), "total": total, "seconds_per_curve_per_process": per_curve,
            "last_update": max((r["updated_at"] for r in runs), default=None)}


def merge(workdir: Path, out: Path, name: str | None = None, partial: bool = False) -> Path:
    """Combine all finished curves into a validated table folder at ``out``."""
    settings = Settings(**read_settings(workdir))
    paths = sorted((workdir / CURVES_DIR).glob("config=*_seed=*.parquet"))
    frames = [read_curve(p, settings) for p in paths]
    have = {(int(f["config_id"].iloc[0]), int(f["seed"].iloc[0])) for f in frames}
    missing = [job for job in curve_jobs(settings) if job not in have]
    if missing and not partial:
        cid, seed = missing[0]
        raise CollectError(
            f"{workdir}: {len(missing)} of {len(curve_jobs(settings))} curves are not collected "
            f"yet (e.g. config {cid} seed {seed}); finish the shards or pass --partial"
        )
    if not frames:
        raise CollectError(f"{workdir}: no finished curves to merge")
    frame = pd.concat(frames, ignore_index=True)
    runs = [r for p in sorted((workdir / SHARDS_DIR).glob("*.json"))
            for r in json.loads(p.read_text())["runs"]]
    meta: dict[str, Any] = {
        "name": name or out.name,
        "search_space": SPACE_SPEC,
        "max_epochs": settings.epochs,
        "metric": "val_error",
        "metrics": list(settings.metrics),
        "provenance": {
            "commands": sorted({r["command"] for r in runs}),
            "merge_command": _command(None),
            "model": settings.model,
            "data": settings.data,
            "n_train": settings.n_train,
            "n_val": settings.n_val,
            "split_seed": settings.split_seed,
            "validation": "held-out part of the CIFAR-10 training set",
            "design": f"scrambled Sobol (scipy.stats.qmc), seed {settings.design_seed}",
            "configs": int(frame["config_id"].nunique()),
            "curves": len(frames),
            "seeds_of_first_configs": [settings.multi_seed_configs, settings.seeds],
            "device": settings.device,
            "torch_threads_per_process": settings.threads,
            "shard_runs": len(runs),
            "hardware": runs[0]["hardware"] if runs else hardware(settings.device),
            "versions": runs[0]["versions"] if runs else versions(),
            "started_at": min((r["started_at"] for r in runs), default=None),
            "finished_at": max((r["updated_at"] for r in runs), default=None),
            "total_wall_time_s": round(sum(r["wall_s"] for r in runs), 1),
            "total_epoch_time_s": round(float(frame["epoch_time"].sum()), 1),
            "complete": not missing,
            "date": _now(),
        },
    }
    if settings.cost_metrics:
        meta["config_metrics"] = list(COST_METRICS)
        measured = [r["cost_metrics"] for r in runs if r.get("cost_metrics")]
        if len({json.dumps(m, sort_keys=True) for m in measured}) > 1:
            raise CollectError(
                f"{workdir}: the shard runs measured the cost metrics differently "
                f"(see {SHARDS_DIR}/*.json); merge only curves measured one way"
            )
        meta["provenance"]["cost_metrics"] = measured[0] if measured else None
    write_table(out, frame, meta)
    return out


def summarize(frame: pd.DataFrame) -> dict[str, Any]:
    """The landscape of a set of curves: final errors, seed noise, epoch time against batch size."""
    from scipy.stats import spearmanr

    last = frame[frame["epoch"] == frame["epoch"].max()]
    first_seed = last[last["seed"] == 0]
    errors = first_seed["val_error"].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "configs": int(frame["config_id"].nunique()),
        "curves": len(last),
        "final_val_error_seed0": dict(zip(
            ("best", "q25", "median", "q75", "worst"),
            np.round(np.quantile(errors, [0, 0.25, 0.5, 0.75, 1]), 4).tolist(), strict=True,
        )) if len(errors) else None,
        "diverged_curves": int((last["diverged"] > 0).sum()) if "diverged" in last else 0,
    }
    multi = last.pivot_table(index="config_id", columns="seed", values="val_error")
    multi = multi.dropna()
    if len(multi) >= 2 and multi.shape[1] >= 2:
        out["seed_noise"] = {
            "configs": len(multi),
            "seeds": int(multi.shape[1]),
            "mean_std_final_error": round(float(multi.std(axis=1, ddof=1).mean()), 4),
            "seed0_vs_seed1_spearman": round(float(spearmanr(multi[0], multi[1])[0]), 3),
            "range_of_config_means": round(float(np.ptp(multi.mean(axis=1))), 4),
        }
    live = frame[frame["diverged"] == 0] if "diverged" in frame else frame
    per_config = live.groupby("config_id").agg(batch=("batch_size", "first"),
                                               time=("epoch_time", "median"))
    if len(per_config) >= 3:
        bins = [8, 16, 32, 64, 129]
        cut = pd.cut(per_config["batch"], bins, right=False)
        out["median_epoch_time_by_batch_size"] = {
            str(k): round(float(v), 2)
            for k, v in per_config.groupby(cut, observed=True)["time"].median().items()
        }
        slope = np.polyfit(np.log(per_config["batch"]), np.log(per_config["time"]), 1)[0]
        out["epoch_time_loglog_slope_vs_batch_size"] = round(float(slope), 3)
    out.update(_cost_summary(frame))
    return out


def _cost_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Peak memory against batch size and latency by activation (where the table has them)."""
    out: dict[str, Any] = {}
    keys = ["config_id", "batch_size", "activation"]
    present = [m for m in COST_METRICS if m in frame.columns]
    if not present:
        return out
    per_config = frame.groupby(keys, observed=True)[present].median().reset_index()
    for name in present:
        out[name] = dict(zip(
            ("min", "q25", "median", "q75", "max"),
            np.round(np.quantile(per_config[name], [0, 0.25, 0.5, 0.75, 1]), 4).tolist(),
            strict=True,
        ))
    if len(per_config) >= 3 and "peak_memory_mb" in present:
        slope = np.polyfit(np.log(per_config["batch_size"]),
                           np.log(per_config["peak_memory_mb"]), 1)[0]
        out["peak_memory_loglog_slope_vs_batch_size"] = round(float(slope), 3)
    if "latency_ms" in present:
        out["median_latency_ms_by_activation"] = {
            str(k): round(float(v), 4)
            for k, v in per_config.groupby("activation")["latency_ms"].median().items()
        }
    return out


def _command(argv: Sequence[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "python -m surrogates.collect " + " ".join(shlex.quote(str(a)) for a in args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m surrogates.collect",
        description="Record learning curves of the real ResNet/CIFAR-10 objective into a table.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="collect the curves of one shard (resumable)")
    r.add_argument("--workdir", type=Path, required=True, help="journal folder of the collection")
    r.add_argument("--data", required=True,
                   help="CIFAR-10: the JPEG .tar.gz, its extracted folder, or torchvision's folder")
    r.add_argument("--cache-dir", default=".data/cache", help="cache of decoded images")
    r.add_argument("--shard", default="0/1", help="i/n: collect every n-th curve from the i-th")
    defaults = Settings(data="")
    for field, value in asdict(defaults).items():
        if field == "cost_metrics":
            r.add_argument("--cost-metrics", action="store_true",
                           help="also measure each configuration's peak training memory and "
                           "inference latency per image (peak_memory_mb, latency_ms)")
        elif field != "data":
            r.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    s = sub.add_parser("status", help="progress of a collection")
    s.add_argument("--workdir", type=Path, required=True)
    y = sub.add_parser("summary", help="final errors, seed noise and epoch times so far")
    y.add_argument("--workdir", type=Path, default=None, help="a collection working folder")
    y.add_argument("--table", type=Path, default=None, help="or a table folder")
    m = sub.add_parser("merge", help="combine the finished curves into a table folder")
    m.add_argument("--workdir", type=Path, required=True)
    m.add_argument("--out", type=Path, required=True, help="table folder to write")
    m.add_argument("--name", default=None, help="table name (default: the folder's name)")
    m.add_argument("--partial", action="store_true", help="merge even if curves are missing")
    return parser


def _frame_of(workdir: Path | None, table: Path | None) -> pd.DataFrame:
    if table is not None:
        from surrogates.table import load_table

        return load_table(table).frame
    if workdir is None:
        raise CollectError("summary needs --workdir or --table")
    settings = Settings(**read_settings(workdir))
    paths = sorted((workdir / CURVES_DIR).glob("config=*_seed=*.parquet"))
    if not paths:
        raise CollectError(f"{workdir}: no finished curves yet")
    return pd.concat([read_curve(p, settings) for p in paths], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.action == "run":
            fields = {f: getattr(args, f) for f in Settings.__dataclass_fields__}
            command = _command(argv)
            run(args.workdir, Settings(**fields), parse_shard(args.shard), args.cache_dir,
                command)
        elif args.action == "status":
            print(json.dumps(status(args.workdir), indent=2))
        elif args.action == "summary":
            print(json.dumps(summarize(_frame_of(args.workdir, args.table)), indent=2))
        else:
            print(f"wrote {merge(args.workdir, args.out, args.name, args.partial)}")
    except (CollectError, TableError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
