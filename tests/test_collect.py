"""Collection of real learning curves into a table, on tiny data the tests write themselves."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from hpo_methods.space import SearchSpace
from surrogates.collect import (
    SPACE_SPEC,
    CollectError,
    Settings,
    curve_jobs,
    curve_path,
    design,
    main,
    merge,
    parse_shard,
    run,
    status,
)
from surrogates.table import TableError, load_table
from tests.cifar_fakes import accept_fake_batches, write_batches, write_jpegs


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_jpegs(tmp_path_factory.mktemp("jpeg"), per_class=5)
    path = root.parent / "cifar10-jpeg.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root / "train", arcname="train")
    return path


def tiny(data: Path, **changes) -> Settings:
    """3 configurations, the first with 2 seeds: 4 curves of 2 epochs."""
    base = dict(
        data=str(data), n_train=24, n_val=16, epochs=2, configs=3, multi_seed_configs=1, seeds=2
    )
    return Settings(**{**base, **changes})


def test_design_is_a_seeded_sobol_sample_of_legal_configurations():
    space = SearchSpace.from_spec(SPACE_SPEC)
    configs = design(space, 200, seed=0)
    assert len(configs) == 200 and configs == design(space, 200, seed=0)
    assert configs != design(space, 200, seed=1)
    for c in configs:
        space.validate(c)
    assert len({space.key(c) for c in configs}) == 200
    # a low-discrepancy design covers every fifth of each numeric range
    rates = np.log10([c["learning_rate"] for c in configs])
    assert np.histogram(rates, bins=5, range=(-5, -1))[0].min() >= 35
    assert {c["activation"] for c in configs} == {"ReLU", "LeakyReLU", "Softplus"}


def test_curve_jobs_and_shards():
    settings = Settings(data="x", configs=200, multi_seed_configs=20, seeds=3)
    jobs = curve_jobs(settings)
    assert len(jobs) == 240 and len(set(jobs)) == 240
    assert jobs[:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert jobs[59] == (19, 2) and jobs[60] == (20, 0) and jobs[-1] == (199, 0)
    assert parse_shard("1/2") == (1, 2)
    for bad in ("2/2", "1", "a/b", "0/0"):
        with pytest.raises(CollectError, match="--shard"):
            parse_shard(bad)


def test_run_skips_finished_curves_and_merges_to_a_valid_table(archive, tmp_path):
    work = tmp_path / "work"
    settings = tiny(archive)
    assert run(work, settings, (0, 2), None, "cmd shard 0") == 2  # curves (0,0) and (2,0)
    assert status(work)["done"] == 2
    with pytest.raises(CollectError, match="2 of 4 curves are not collected yet"):
        merge(work, tmp_path / "table")
    assert run(work, settings, (1, 2), None, "cmd shard 1") == 2
    first = curve_path(work, 0, 0)
    stamp = first.stat().st_mtime_ns
    assert run(work, settings, (0, 1), None, "rerun") == 0  # everything is done: nothing runs
    assert first.stat().st_mtime_ns == stamp
    first.unlink()  # lost (e.g. killed before it was written): only this curve runs again
    (work / "curves" / ".config=00001_seed=0.parquet.tmp").write_bytes(b"half a file")
    assert run(work, settings, (0, 1), None, "rerun") == 1

    table = load_table(merge(work, tmp_path / "table", name="tiny"))
    frame = table.frame
    assert len(frame) == 4 * 2 and table.name == "tiny" and table.max_epochs == 2
    assert sorted(set(zip(frame.config_id, frame.seed, strict=True))) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (2, 0),
    ]
    assert frame["val_error"].between(0, 1).all() and (frame["epoch_time"] > 0).all()
    assert np.isfinite(frame["train_loss"]).all() and (frame["diverged"] == 0).all()
    curve = frame[(frame.config_id == 0) & (frame.seed == 1)]
    assert curve["cumulative_time"].tolist() == pytest.approx(curve["epoch_time"].cumsum())
    prov = table.meta["provenance"]
    assert prov["commands"] == ["cmd shard 0", "cmd shard 1", "rerun"]
    assert (prov["model"], prov["n_train"], prov["n_val"]) == ("resnet8", 24, 16)
    assert prov["complete"] and prov["curves"] == 4 and prov["configs"] == 3
    assert prov["hardware"]["cpu_count"] >= 1 and "torch" in prov["versions"]
    assert prov["total_wall_time_s"] > 0 and prov["date"]
    # without --cost-metrics: the metric set of collections made before the option existed
    assert table.meta["metrics"] == ["val_error", "train_loss", "diverged"]
    assert "config_metrics" not in table.meta and "cost_metrics" not in prov
    assert not {"peak_memory_mb", "latency_ms"} & set(frame.columns)


def test_resume_with_other_settings_is_refused(archive, tmp_path):
    work = tmp_path / "work"
    run(work, tiny(archive, configs=1, seeds=1), (0, 1), None, "first")
    with pytest.raises(CollectError, match="collected with n_val=16, not 8"):
        run(work, tiny(archive, configs=1, seeds=1, n_val=8), (0, 1), None, "second")
    assert (
        main(
            [
                "run",
                "--workdir",
                str(work),
                "--data",
                str(archive),
                "--n-train",
                "24",
                "--n-val",
                "8",
                "--epochs",
                "2",
                "--configs",
                "1",
                "--seeds",
                "1",
                "--multi-seed-configs",
                "0",
            ]
        )
        == 2
    )


def test_broken_or_foreign_files_are_rejected_by_name(tmp_path, archive):
    work = tmp_path / "work"
    run(work, tiny(archive, configs=1, seeds=1), (0, 1), None, "first")
    good = curve_path(work, 0, 0)
    good.write_bytes(good.read_bytes()[:50])  # truncated
    with pytest.raises(TableError, match=r"config=00000_seed=0\.parquet: not a readable Parquet"):
        merge(work, tmp_path / "table")
    pd.DataFrame({"config_id": [0], "seed": [0], "epoch": [1]}).to_parquet(good)
    with pytest.raises(TableError, match="not a curve of this collection"):
        run(work, tiny(archive, configs=1, seeds=1), (0, 1), None, "again")
    (work / "settings.json").write_text(json.dumps({"colour": "blue"}))
    with pytest.raises(CollectError, match="not a collection settings file"):
        status(work)
    with pytest.raises(CollectError, match="is not a collection working folder"):
        merge(tmp_path / "empty", tmp_path / "table")


def test_the_torchvision_layout_collects_too(tmp_path):
    write_batches(tmp_path / "data", per_batch=8)
    settings = tiny(tmp_path / "data", configs=1, seeds=1, multi_seed_configs=0)
    with accept_fake_batches():
        assert run(tmp_path / "work", settings, (0, 1), None, "tv") == 1
    assert len(load_table(merge(tmp_path / "work", tmp_path / "t")).frame) == 2


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--workdir",
                str(tmp_path / "w"),
                "--data",
                str(tmp_path / "none"),
                "--shard",
                "3/2",
            ]
        )
        == 2
    )
    assert "--shard 3/2: need 0 <= i < n" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--workdir",
                str(tmp_path / "w"),
                "--data",
                str(tmp_path / "none"),
                "--epochs",
                "1",
                "--configs",
                "1",
                "--multi-seed-configs",
                "0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: CIFAR-10 data not found") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


def test_summary_of_a_hand_made_landscape():
    from surrogates.collect import summarize

    rows = []
    finals = {(0, 0): 0.5, (1, 0): 0.6, (2, 0): 0.7, (0, 1): 0.52, (1, 1): 0.58}
    batch = {0: 8, 1: 16, 2: 32}
    for (cid, seed), final in finals.items():
        for epoch in (1, 2):
            rows.append(
                {
                    "config_id": cid,
                    "seed": seed,
                    "epoch": epoch,
                    "batch_size": batch[cid],
                    "diverged": 0.0,
                    "val_error": final if epoch == 2 else 0.9,
                    "epoch_time": 32.0 / batch[cid],
                }
            )  # time proportional to 1/batch
    out = summarize(pd.DataFrame(rows))
    assert out["configs"] == 3 and out["curves"] == 5 and out["diverged_curves"] == 0
    assert out["final_val_error_seed0"] == {
        "best": 0.5,
        "q25": 0.55,
        "median": 0.6,
        "q75": 0.65,
        "worst": 0.7,
    }
    noise = out["seed_noise"]
    assert noise["configs"] == 2 and noise["seeds"] == 2
    assert noise["mean_std_final_error"] == pytest.approx(0.02 / np.sqrt(2), abs=1e-4)
    assert noise["seed0_vs_seed1_spearman"] == 1.0
    assert noise["range_of_config_means"] == pytest.approx(0.08)
    assert out["epoch_time_loglog_slope_vs_batch_size"] == pytest.approx(-1.0)
    assert out["median_epoch_time_by_batch_size"] == {
        "[8, 16)": 4.0,
        "[16, 32)": 2.0,
        "[32, 64)": 1.0,
    }


def test_a_collection_grows_in_place_and_keeps_its_curves(archive, tmp_path):
    work = tmp_path / "work"
    small = tiny(archive, configs=2, multi_seed_configs=1, seeds=2)
    assert run(work, small, (0, 1), None, "first") == 3  # (0,0) (0,1) (1,0)
    stamp = curve_path(work, 1, 0).stat().st_mtime_ns
    grown = tiny(archive, configs=3, multi_seed_configs=2, seeds=2)
    assert run(work, grown, (0, 1), None, "grown") == 2  # only (1,1) and (2,0) are new
    assert curve_path(work, 1, 0).stat().st_mtime_ns == stamp
    assert json.loads((work / "settings.json").read_text())["configs"] == 3
    assert design(SearchSpace.from_spec(SPACE_SPEC), 3, 0)[:2] == design(
        SearchSpace.from_spec(SPACE_SPEC), 2, 0
    )  # the grown design starts with the old one
    with pytest.raises(CollectError, match=r"collected with configs=3, not 2 \(a collection only"):
        run(work, small, (0, 1), None, "shrunk")


def _cli_run(work: Path, data: Path, *extra: str, configs: int = 3, seeded: int = 1,
             epochs: int = 2) -> int:
    return main(["run", "--workdir", str(work), "--data", str(data), "--cache-dir",
                 str(work.parent / "cache"), "--model", "resnet8", "--n-train", "24",
                 "--n-val", "16", "--epochs", str(epochs), "--configs", str(configs),
                 "--multi-seed-configs", str(seeded), "--seeds", "2", "--threads", "1",
                 "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def shipped(archive, tmp_path_factory) -> tuple[Path, Path]:
    """The shipping recipe on tiny data: a main table without cost metrics (3 epochs, 6
    configurations) and a timing table of the same design with them (2 epochs, 3 repeated
    configurations), each collected by two shards and merged, all through the command line."""
    root = tmp_path_factory.mktemp("ship")
    for name, extra in (("main", {"epochs": 3, "seeded": 0}), ("timing", {"seeded": 3})):
        flags = ("--cost-metrics",) if name == "timing" else ()
        for shard in ("0/2", "1/2"):
            assert _cli_run(root / name, archive, *flags, "--shard", shard, configs=6,
                            **extra) == 0
        assert main(["merge", "--workdir", str(root / name), "--out", str(root / f"{name}_t"),
                     "--name", name]) == 0
    return root / "main_t", root / "timing_t"


def test_cost_metrics_are_recorded_with_how_they_were_measured(shipped, tmp_path, capsys):
    main_table, timing_table = (load_table(p) for p in shipped)
    assert "cost_metrics" not in json.loads(
        (main_table.path.parent / "main" / "settings.json").read_text())
    assert json.loads(
        (timing_table.path.parent / "timing" / "settings.json").read_text())["cost_metrics"]
    assert main_table.meta["metrics"] == ["val_error", "train_loss", "diverged"]
    assert main_table.config_metrics == []
    table, frame = timing_table, timing_table.frame
    assert table.meta["metrics"] == ["val_error", "train_loss", "diverged", "peak_memory_mb",
                                     "latency_ms"]
    assert table.config_metrics == ["peak_memory_mb", "latency_ms"]
    for name in table.config_metrics:
        assert (frame[name] > 0).all()
        assert (frame.groupby(["config_id", "seed"])[name].nunique() == 1).all()  # per curve
    # the same configuration, two seeds: the same allocations, so the same peak to the byte
    memory = frame.groupby(["config_id", "seed"])["peak_memory_mb"].first().unstack().dropna()
    assert len(memory) == 3 and (memory[0] == memory[1]).all()
    how = table.meta["provenance"]["cost_metrics"]
    assert "PyTorch profiler" in how["peak_memory_mb"] and "2 training steps" in how[
        "peak_memory_mb"]
    assert "minimum of 200 timed forward passes" in how["latency_ms"]
    assert "batch size 1" in how["latency_ms"] and "1 torch thread(s) on cpu" in how["latency_ms"]
    capsys.readouterr()
    assert main(["summary", "--table", str(table.path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["peak_memory_mb"]["min"] > 0 and summary["median_latency_ms_by_activation"]


def test_the_recollected_timing_table_ships_its_metrics_end_to_end(shipped, tmp_path, capsys):
    """fit --timing --validate as scripts/ship_default_benchmark.sh runs it, then the
    surrogate benchmark: the new metrics are predicted, scored and reported."""
    from benchmarks.surrogate import SurrogateObjective
    from surrogates.fit import main as fit_main

    main_table, timing_table = shipped
    out = tmp_path / "surrogate"
    assert fit_main([str(main_table), "--out", str(out), "--timing", str(timing_table),
                     "--validate", "--folds", "3"]) == 0
    printed = capsys.readouterr().out
    assert "peak_memory_mb (per config, held out): R2" in printed
    report = json.loads((out / "validation.json").read_text())
    assert set(report["config_metrics"]) == {"peak_memory_mb", "latency_ms"}
    for scores in report["config_metrics"].values():
        assert set(scores["per_config"]) == {"r2", "r2_log", "spearman", "kendall"}
        assert scores["noise_ceiling"]["configs"] == 3
    objective = SurrogateObjective(out, main_table, noise=False)
    assert objective.metric_names == ("val_error", "train_loss", "diverged", "peak_memory_mb",
                                      "latency_ms")
    low, high = objective.metric_range("peak_memory_mb")
    bound = round((low + high) / 2, 3)
    problem = objective.problem(objectives=["val_error", "latency_ms"],
                                constraints=[f"peak_memory_mb<={bound}"])
    config = load_table(main_table).config_dicts()[0]
    metrics = objective.start_trial(0, config, seed=0).next_epoch().metrics
    timed = load_table(timing_table).frame
    observed = timed.loc[timed["config_id"] <= 5, "peak_memory_mb"]
    assert observed.min() <= metrics["peak_memory_mb"] <= observed.max()
    assert problem.feasible(metrics) == (metrics["peak_memory_mb"] <= bound)


def test_a_collection_without_cost_metrics_keeps_its_settings_and_metric_set(archive, tmp_path):
    """A working folder made before --cost-metrics existed (its settings.json does not name it)
    resumes unchanged, and cannot be switched to the other metric set."""
    work = tmp_path / "work"
    old = {"configs": 3, "data": str(archive), "design_seed": 0, "device": "cpu", "epochs": 2,
           "model": "resnet8", "multi_seed_configs": 1, "n_train": 24, "n_val": 16, "seeds": 2,
           "split_seed": 0, "threads": 1}
    (work / "curves").mkdir(parents=True)
    text = json.dumps(old, indent=2, sort_keys=True) + "\n"
    (work / "settings.json").write_text(text)
    assert _cli_run(work, archive, "--shard", "0/4") == 0
    assert (work / "settings.json").read_text() == text  # untouched: old code still reads it
    assert "peak_memory_mb" not in pd.read_parquet(curve_path(work, 0, 0)).columns
    with pytest.raises(CollectError, match="collected with cost_metrics=False, not True"):
        run(work, tiny(archive, cost_metrics=True), (0, 1), None, "with costs")
    grown = tiny(archive, configs=4)
    assert run(work, grown, (3, 4), None, "grown") == 1
    assert "cost_metrics" not in json.loads((work / "settings.json").read_text())


def test_summary_of_cost_metrics():
    from surrogates.collect import summarize

    rows = [
        {"config_id": cid, "seed": 0, "epoch": epoch, "batch_size": bs, "activation": act,
         "diverged": 0.0, "val_error": 0.5, "epoch_time": 1.0, "peak_memory_mb": 0.5 * bs,
         "latency_ms": lat}
        for cid, (bs, act, lat) in enumerate(
            [(8, "ReLU", 1.0), (16, "ReLU", 1.2), (64, "Softplus", 2.0), (32, "Softplus", 2.2)])
        for epoch in (1, 2)
    ]
    out = summarize(pd.DataFrame(rows))
    assert out["peak_memory_loglog_slope_vs_batch_size"] == pytest.approx(1.0)
    assert out["peak_memory_mb"] == {"min": 4.0, "q25": 7.0, "median": 12.0, "q75": 20.0,
                                     "max": 32.0}
    assert out["median_latency_ms_by_activation"] == {"ReLU": 1.1, "Softplus": 2.1}
