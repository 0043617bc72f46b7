"""The newcomer's path (issue 11): the README's outputs are git-ignored, real benchmarks need no
machine-specific path, and the minutes-long regression check runs in CI behind a marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_outputs_are_git_ignored():
    outputs = ["results/resnet8_cifar10/asha/seed=0/run.json", "figures/anytime_x.png",
               "baseline.json", "report.md"]  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    assert "--out figures" in readme and "--out baseline.json" in readme
    assert "--report report.md" in readme
    ignored = subprocess.run(["git", "check-ignore", *outputs], cwd=ROOT, capture_output=True,
                             text=True)  # fmt: skip
    assert ignored.stdout.split() == outputs


@pytest.mark.parametrize("name", ["resnet8_cifar10_real", "resnet_cifar10"])
def test_real_benchmarks_name_no_machine_path(name):
    spec = yaml.safe_load((ROOT / "conf" / "benchmark" / f"{name}.yaml").read_text())
    assert spec["kind"] == "real" and spec["data"] is None
    pytest.importorskip("torch")
    from benchmarks.real.objective import from_spec

    with pytest.raises(ValueError, match=r"needs benchmark\.data=PATH"):
        from_spec(spec)


def test_the_slow_regression_check_is_marked_and_ci_runs_it():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q -m slow" in ci
    test = "tests/test_default_benchmark.py::test_no_method_regressed_against_the_shipped_baseline"

    def collected(*args: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p",
                               "no:cacheprovider", *args, "tests/test_default_benchmark.py"],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        return [line for line in done.stdout.splitlines() if "::" in line]

    assert test not in collected()
    assert collected("-m", "slow") == [test]
