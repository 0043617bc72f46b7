"""Bad input: a clear one-line error, a non-zero exit, and nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from surrogates.table import TABLE_FILE, TableError, load_table, read_parquet
from tests.tables import noisy_synthetic_table, synthetic_table


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    good = root / "good"
    synthetic_table(good, n_configs=6, max_epochs=3)
    frame = pd.read_parquet(good / TABLE_FILE)
    for name, broken in {
        "no_epoch_time": frame.drop(columns=["epoch_time"]),
        "nan_momentum": frame.assign(momentum=frame["momentum"].where(frame.index != 4)),
        "lr_outside": frame.assign(learning_rate=frame["learning_rate"] * 1e6),
        "error_percent": frame.assign(val_error=frame["val_error"] * 100),
    }.items():
        (root / name).mkdir()
        (root / name / "meta.json").write_bytes((good / "meta.json").read_bytes())
        broken.to_parquet(root / name / TABLE_FILE)
    (root / "evil_name").mkdir()
    meta = json.loads((good / "meta.json").read_text())
    (root / "evil_name" / "meta.json").write_text(json.dumps({**meta, "name": "../../evil"}))
    (root / "evil_name" / TABLE_FILE).write_bytes((good / TABLE_FILE).read_bytes())
    (root / "truncated").mkdir()
    (root / "truncated" / "meta.json").write_bytes((good / "meta.json").read_bytes())
    data = (good / TABLE_FILE).read_bytes()
    (root / "truncated" / TABLE_FILE).write_bytes(data[: len(data) // 2])
    return root


CASES = [
    (["method=nope"], "unknown method 'nope'; valid methods: "),
    (["method=asha,nope"], "unknown method 'nope'"),
    (["benchmark=nope"], "unknown benchmark 'nope'; valid benchmarks: "),
    (["seed=5..2"], "empty range"),
    (["seed=1..x"], "a range is written key=A..B"),
    (["budget.time=-10"], "budget.time must be a positive number"),
    (["budget.trials=-3"], "budget.trials must be a positive number"),
    (["budget.time=null"], "the budget needs at least one of"),
    (["n_workers=0"], "n_workers must be >= 1"),
    (["results_dir=a_file"], "results_dir 'a_file' exists and is not a folder"),
    (["method=asha", "method.settings.reduction_factor=0.5"], "reduction_factor must be > 1"),
    (["method=asha", "method.settings.variant=sometimes"], "variant must be one of"),
    (["+method.settings.speed=3"], "method 'random' has no setting(s) ['speed']"),
    (["backend=cloud"], "backend must be one of simulated, local"),
    (["TABLE=missing"], "not a table folder"),
    (["TABLE=no_epoch_time"], "missing column 'epoch_time'"),
    (["TABLE=nan_momentum"], "column 'momentum' has 1 missing (NaN) values"),
    (["TABLE=lr_outside"], "column 'learning_rate' has values outside its domain"),
    (["TABLE=truncated"], "not a readable Parquet file"),
    (["TABLE=error_percent"], "column 'val_error' must lie in [0, 1]; found ["),
    # strict values and unknown keys (issue 11)
    (["overwrite=no"], "overwrite must be true or false (got 'no')"),
    (["overwrite=1"], "overwrite must be true or false (got 1)"),
    (["method=asha", "method.settings.grace_period=true"],
     "method.settings.grace_period must be an integer (got True)"),
    (["method=asha", "method.settings.grace_period=2.5"],
     "method.settings.grace_period must be an integer (got 2.5)"),
    (["method=asha", "method.settings.variant=3"], "method.settings.variant must be a string"),
    (["method=tpe", "method.settings.constant_liar=yes"],
     "method.settings.constant_liar must be true or false (got 'yes')"),
    (["results_dir="], "results_dir must name a folder (got '')"),
    (["results_dir=a_file/below"], "a_file' is a file, not a folder"),
    (["budget.tme=5"], "unknown key 'budget.tme'; did you mean 'budget.time'?"),
    (["+budget.tme=5"], "unknown key 'budget.tme'; did you mean 'budget.time'?"),
    (["sed=3"], "unknown key 'sed'; did you mean 'seed'?"),
    (["+foo=1"], "unknown key 'foo' (valid keys: backend, benchmark, budget, "),
    (["benchmark.tabel=x"], "unknown key 'benchmark.tabel'; did you mean 'benchmark.table'?"),
    (["method=asha", "method.settings.grace=2"],
     "unknown key 'method.settings.grace'; did you mean 'method.settings.grace_period'?"),
    (["method=asha", "+method.settings.grace=2"],
     "has no setting(s) ['grace']; did you mean 'method.settings.grace_period'?"),
    (["method.label=../up"], "method.label must be a folder name"),
    (["benchmark.timing=x"], "benchmark 'tabular' does not set 'benchmark.timing' in its config "
                             "(it is a valid key): add it with +benchmark.timing=x"),
    (["TABLE=evil_name"], "name '../../evil' must be letters, digits and _ . -"),
]


@pytest.mark.parametrize(("overrides", "message"), CASES, ids=[c[1][:30] for c in CASES])
def test_bad_input_is_one_clear_line(tables, tmp_path, overrides, message):
    (tmp_path / "a_file").write_text("not a folder")
    table = tables / "good"
    args = []
    for override in overrides:
        if override.startswith("TABLE="):
            table = tables / override.split("=", 1)[1]
        else:
            args.append(override)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            *args,
            "benchmark=tabular",
            f"benchmark.table={table}",
            "results_dir=out",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "HYDRA_FULL_ERROR": ""},
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "a_file"]
    assert written == []


def test_truncated_parquet_names_the_file(tables):
    with pytest.raises(TableError, match=str(tables / "truncated" / TABLE_FILE)):
        load_table(tables / "truncated")
    with pytest.raises(TableError, match="no such file"):
        read_parquet(Path(tables / "nowhere.parquet"))


def test_a_surrogate_whose_table_checksum_differs_is_refused(tmp_path):
    other = noisy_synthetic_table(tmp_path / "other", n_configs=12, max_epochs=20, repeated=3)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "benchmark=resnet8_cifar10",
         f"benchmark.table={other.path}", "results_dir=out"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "sha256" in lines[0] or "checksum" in lines[0]
    assert not (tmp_path / "out").exists()


def _run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=cwd,
                            capture_output=True, text=True,
                            env={**os.environ, "HYDRA_FULL_ERROR": ""})  # fmt: skip
    return result, [line for line in result.stderr.splitlines() if line.strip()]


def test_a_non_boolean_noise_is_refused(tmp_path):
    result, lines = _run(["benchmark.noise=maybe", "results_dir=out"], tmp_path)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == "error: benchmark.noise must be true or false (got 'maybe')"
    assert not (tmp_path / "out").exists()


def test_a_results_folder_blocked_by_a_file_is_one_clear_line(tables, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tabular").write_text("in the way")
    result, lines = _run(["benchmark=tabular", f"benchmark.table={tables / 'good'}",
                          "results_dir=out"], tmp_path)  # fmt: skip
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot create the results folder 'out/tabular/random/")
    assert (tmp_path / "out" / "tabular").read_text() == "in the way"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_an_unwritable_results_dir_is_one_clear_line(tables, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result, lines = _run(["benchmark=tabular", f"benchmark.table={tables / 'good'}",
                              "results_dir=locked/out"], tmp_path)  # fmt: skip
    finally:
        locked.chmod(0o700)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "results_dir 'locked/out' cannot be created" in lines[0]
