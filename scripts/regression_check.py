"""The CI regression check of every method on the default benchmark against a shipped baseline.

    python scripts/regression_check.py record   # rerun the sweep, rewrite the shipped baseline
    python scripts/regression_check.py check    # rerun the sweep, compare (exit 1: regression)

The sweep is small on purpose (10 seeds, 10 simulated minutes, 4 workers, every method) so that
it fits in CI (10 seeds: the fewest with which a one-sided Wilcoxon test can reach significance
after Holm's correction over every comparison). The baseline lives in
``analysis/baselines/<benchmark>.json``. Results go to a temporary folder unless ``--results``
names one (then a rerun reuses complete runs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = "resnet8_cifar10"
SWEEP = ["seed=0..9", "budget.time=600", "n_workers=4"]
BASELINE = ROOT / "analysis" / "baselines" / f"{BENCHMARK}.json"


def method_names() -> list[str]:
    """The built-in methods (the baseline's; library adapters and ``custom`` are not in it)."""
    sys.path.insert(0, str(ROOT))
    from hpo_methods.registry import method_names as builtin_names

    return builtin_names()


def sweep(results: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "benchmarks", f"benchmark={BENCHMARK}",
         f"method={','.join(method_names())}", *SWEEP, f"results_dir={results}"],
        check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["record", "check"])
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = (args.results or Path(tmp)).resolve()
        sweep(results)
        command = [sys.executable, "-m", "analysis.regression", args.command, str(results)]
        if args.command == "record":
            command += ["--out", str(BASELINE)]
        else:
            command += ["--baseline", str(BASELINE)]
            if args.report is not None:
                command += ["--report", str(args.report)]
        return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
