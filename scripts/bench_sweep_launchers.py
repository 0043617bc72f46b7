"""Wall time of a methods x seeds sweep: Hydra's sequential launcher against joblib.

    python scripts/bench_sweep_launchers.py [--seeds 10] [--jobs 2] [--methods a,b,...] [-- extra]

Runs ``python -m benchmarks method=<all methods> seed=0..<seeds-1>`` on the default benchmark
into two fresh temporary results folders, once with the default launcher and once with
``hydra/launcher=joblib hydra.launcher.n_jobs=<jobs>``, checks that both wrote the same
``reports.parquet`` bytes, and prints a Markdown table of the wall times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpo_methods.registry import method_names


def sweep(results: Path, methods: list[str], seeds: int, extra: list[str]) -> float:
    command = [
        sys.executable, "-m", "benchmarks", f"method={','.join(methods)}",
        f"seed=0..{seeds - 1}", f"results_dir={results}", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def reports(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("reports.parquet")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--methods", default=",".join(method_names()))
    parser.add_argument("extra", nargs="*", help="more overrides for both sweeps")
    args = parser.parse_args()
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        seq = sweep(Path(tmp) / "sequential", methods, args.seeds, args.extra)
        joblib_extra = [*args.extra, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}"]
        par = sweep(Path(tmp) / "joblib", methods, args.seeds, joblib_extra)
        same = reports(Path(tmp) / "sequential") == reports(Path(tmp) / "joblib")
        runs = len(reports(Path(tmp) / "sequential"))
    print(f"{len(methods)} methods x {args.seeds} seeds = {runs} runs; identical results: {same}")
    print("| launcher | wall s | s/run |")
    print("|---|---|---|")
    print(f"| sequential (basic) | {seq:.1f} | {seq / runs:.2f} |")
    print(f"| joblib n_jobs={args.jobs} | {par:.1f} | {par / runs:.2f} |")


if __name__ == "__main__":
    main()
