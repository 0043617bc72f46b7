"""Two identical sweeps into one results folder at the same time, several rounds: does any abort,
and are all runs complete, readable and byte-identical to a sweep run alone?

    python scripts/stress_concurrent_sweeps.py [--rounds 10] [--keep DIR] [-- overrides ...]

Each round starts two ``python -m benchmarks`` processes with the same sweep (default: methods
asha, random and hyperband, seeds 0..3, on ``resnet8_cifar10_tabular`` with ``budget.time=900``)
into a fresh results folder, waits for both, and checks: both exit 0; every run folder's
run.json says complete; both tables read back; no temporary file is left; every run's
``reports.parquet`` and ``trials.parquet`` equal those of a reference sweep run alone. Prints
one line per round and a total.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["method=asha,random,hyperband", "seed=0..3", "benchmark=resnet8_cifar10_tabular",
         "budget.time=900"]  # fmt: skip


def sweep(results: Path, overrides: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks", *overrides, f"results_dir={results}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def tables(results: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every run's table bytes, and what is wrong with the folder (empty: nothing)."""
    content, problems = {}, []
    for run in sorted(p.parent for p in results.rglob("run.json")):
        name = str(run.relative_to(results))
        status = json.loads((run / "run.json").read_text()).get("status")
        if status != "complete":
            problems.append(f"{name}: status {status}")
        for table in ("reports.parquet", "trials.parquet"):
            try:
                pq.read_table(run / table)
                content[f"{name}/{table}"] = (run / table).read_bytes()
            except (OSError, ValueError) as err:
                problems.append(f"{name}/{table}: unreadable ({err})")
    problems += [f"left behind: {p.relative_to(results)}" for p in results.rglob("*.tmp")]
    return content, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--keep", type=Path, default=None, help="keep the rounds' folders here")
    parser.add_argument("overrides", nargs="*", help=f"the sweep (default: {' '.join(SWEEP)})")
    args = parser.parse_args()
    overrides = args.overrides or SWEEP
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        reference = root / "reference"
        done = sweep(reference, overrides)
        _, err = done.communicate()
        if done.returncode != 0:
            print(f"the reference sweep failed:\n{err[-2000:]}")
            return 2
        expected, problems = tables(reference)
        print(f"reference: {len(expected) // 2} runs {problems or 'ok'}")
        bad = 0
        for i in range(args.rounds):
            results = root / f"round{i}"
            procs = [sweep(results, overrides) for _ in range(2)]
            outputs = [p.communicate() for p in procs]
            codes = [p.returncode for p in procs]
            content, problems = tables(results)
            if codes != [0, 0]:
                problems.append(f"exit codes {codes}: "
                                + " | ".join(e.strip().splitlines()[-1] for _, e in outputs if e))
            differing = sorted(k for k in expected if content.get(k) != expected[k])
            if differing:
                problems.append(f"{len(differing)} tables differ from the reference")
            bad += bool(problems)
            print(f"round {i}: {'ok' if not problems else '; '.join(problems[:3])}", flush=True)
        print(f"{args.rounds - bad} of {args.rounds} rounds left only complete, readable, "
              "byte-identical runs")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
