"""The real objective on tiny CIFAR-10 look-alikes that the tests write in both layouts."""

from __future__ import annotations

import math
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.real import COST_METRICS  # noqa: E402
from benchmarks.real.data import (  # noqa: E402
    DataError,
    augment,
    load_cifar10,
    normalize,
    split_indices,
)
from benchmarks.real.measure import cpu_peak_bytes, latency_ms, peak_memory_mb  # noqa: E402
from benchmarks.real.models import make_model  # noqa: E402
from benchmarks.real.objective import (  # noqa: E402
    CHANCE_ERROR,
    RealObjective,
    RealTrialRun,
    from_spec,
)
from tests.cifar_fakes import (  # noqa: E402
    PER_BATCH,
    accept_fake_batches,
    write_batches,
    write_jpegs,
)


@pytest.fixture(scope="module", autouse=True)
def _fake_batches_pass_the_integrity_check():
    with accept_fake_batches():
        yield


CONFIG = {
    "learning_rate": 0.05,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "batch_size": 8,
    "activation": "ReLU",
}


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    root = tmp_path_factory.mktemp("torchvision")
    images, labels = write_batches(root)
    return root, images, labels


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jpegs(tmp_path_factory.mktemp("jpeg") / "cifar10")


@pytest.fixture(scope="module")
def archive(jpegs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "cifar10-jpeg.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(jpegs / split, arcname=split)
    return path


@pytest.fixture(scope="module")
def objective(batches, tmp_path_factory) -> RealObjective:
    return RealObjective(
        batches[0],
        "resnet8",
        n_train=48,
        n_val=16,
        max_epochs=3,
        cache_dir=None,
        threads=1,
        checkpoint_dir=tmp_path_factory.mktemp("ckpt"),
    )


# --- data -------------------------------------------------------------------------------------


def test_torchvision_batches_are_read_exactly(batches, tmp_path):
    root, images, labels = batches
    for source in (root, root / "cifar-10-batches-py"):
        data = load_cifar10(source, "train", cache_dir=tmp_path)
        assert data.images.shape == (80, 32, 32, 3) and data.images.dtype == np.uint8
        np.testing.assert_array_equal(data.images, images)
        np.testing.assert_array_equal(data.labels, labels)
    assert len(load_cifar10(root, "test")) == PER_BATCH


def test_jpeg_folder_and_archive_give_the_same_arrays_and_are_cached(jpegs, archive, tmp_path):
    folder = load_cifar10(jpegs, "train")
    assert folder.images.shape == (80, 32, 32, 3)
    assert np.bincount(folder.labels).tolist() == [8] * 10
    assert folder.labels[0] == 0 and folder.labels[-1] == 9  # sorted by class, then file name
    # JPEG is lossy, but the mean colour of each label survives (25 * label + ~19.5)
    means = [folder.images[folder.labels == k].mean() for k in range(10)]
    assert np.allclose(means, 25 * np.arange(10) + 19.5, atol=3)
    packed = load_cifar10(archive, "train", cache_dir=tmp_path)
    np.testing.assert_array_equal(packed.images, folder.images)
    np.testing.assert_array_equal(packed.labels, folder.labels)
    cached = sorted(p.name for p in tmp_path.rglob("*.npy"))
    assert cached == ["train_images.npy", "train_labels.npy"]
    again = load_cifar10(archive, "train", cache_dir=tmp_path)  # read back from the cache
    np.testing.assert_array_equal(again.images, folder.images)


def test_missing_or_wrong_data_says_how_to_get_it(tmp_path, jpegs):
    with pytest.raises(DataError, match=r"not found at .*nowhere.*cifar10-jpeg\.tar\.gz"):
        load_cifar10(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"benchmark\.download=true fetches it"):
        load_cifar10(tmp_path)  # an empty folder
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"not a \.tar\.gz archive"):
        load_cifar10(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"CIFAR-10 data not found"):
        RealObjective(tmp_path / "nowhere", cache_dir=None)
    bad = tmp_path / "bad" / "train" / "unicorn"
    bad.mkdir(parents=True)
    with pytest.raises(DataError, match="unknown class folder 'unicorn'"):
        load_cifar10(tmp_path / "bad")


def test_split_is_seeded_disjoint_and_from_the_training_set():
    train, val = split_indices(100, 60, 30, seed=3)
    assert len(train) == 60 and len(val) == 30 and not set(train) & set(val)
    assert max(train.max(), val.max()) < 100
    again = split_indices(100, 60, 30, seed=3)
    assert (again[0] == train).all() and (again[1] == val).all()
    assert not (split_indices(100, 60, 30, seed=4)[1] == val).all()
    with pytest.raises(ValueError, match="exceeds the 100 training images"):
        split_indices(100, 80, 30)


def test_augment_is_a_padded_crop_and_flip_per_image():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    out = augment(x, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)  # the same draws, replayed image by image
    offsets = torch.randint(0, 9, (2, 6), generator=g)
    flips = torch.rand(6, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(6):
        r, c = int(offsets[0, i]), int(offsets[1, i])
        crop = padded[i : i + 1, :, r : r + 32, c : c + 32]
        expected = normalize(crop.flip(3) if flips[i] else crop)
        torch.testing.assert_close(out[i : i + 1], expected, rtol=0, atol=0)
    # an unpadded, unflipped crop is plain normalisation: pixel 0 -> -mean/std
    zeros = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).flatten()
    torch.testing.assert_close(
        zeros, torch.tensor([-0.4914 / 0.2023, -0.4822 / 0.1994, -0.4465 / 0.2010])
    )


# --- models -----------------------------------------------------------------------------------


def test_models_have_the_published_shapes_and_swap_every_activation():
    counts = {}
    for name in ("resnet8", "resnet20"):
        net = make_model(name, "Softplus")
        counts[name] = sum(p.numel() for p in net.parameters())
        kinds = {
            type(m).__name__
            for m in net.modules()
            if isinstance(m, torch.nn.ReLU | torch.nn.LeakyReLU | torch.nn.Softplus)
        }
        assert kinds == {"Softplus"}
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert counts["resnet20"] == 269_722  # He et al.: 0.27M parameters
    assert counts["resnet8"] < counts["resnet20"]
    big = make_model("resnet18", "LeakyReLU")
    assert big.conv1.kernel_size == (3, 3) and big.conv1.stride == (1, 1)
    assert isinstance(big.maxpool, torch.nn.Identity) and big.fc.out_features == 10
    assert not any(isinstance(m, torch.nn.ReLU) for m in big.modules())
    option_b = make_model("resnet8", "ReLU", shortcut="B")
    assert sum(p.numel() for p in option_b.parameters()) > counts["resnet8"]
    with pytest.raises(ValueError, match="unknown model 'resnet7'"):
        make_model("resnet7")


# --- training ---------------------------------------------------------------------------------


def _curve(run: RealTrialRun, epochs: int) -> list[tuple[float, float]]:
    return [
        (r.metrics["val_error"], r.metrics["train_loss"])
        for r in (run.next_epoch() for _ in range(epochs))
    ]


@pytest.mark.parametrize("layout", ["torchvision", "jpeg"])
def test_two_epochs_give_sane_records(layout, batches, jpegs):
    source = batches[0] if layout == "torchvision" else jpegs
    obj = RealObjective(
        source, "resnet8", n_train=48, n_val=16, max_epochs=2, cache_dir=None, threads=1
    )
    run = obj.start_trial(0, CONFIG, seed=1)
    results = [run.next_epoch() for _ in range(2)]
    for r in results:
        assert set(r.metrics) == {"val_error", "train_loss", "diverged", *COST_METRICS}
        assert 0.0 <= r.metrics["val_error"] <= 1.0
        assert (r.metrics["val_error"] * 16) == pytest.approx(round(r.metrics["val_error"] * 16))
        assert math.isfinite(r.metrics["train_loss"]) and r.metrics["train_loss"] > 0
        assert r.metrics["diverged"] == 0.0 and r.epoch_time > 0
    assert run.epochs_done == 2
    with pytest.raises(RuntimeError, match="already trained 2 epochs"):
        run.next_epoch()
    assert obj.describe()["n_train"] == 48 and obj.describe()["kind"] == "real"


def test_resume_from_checkpoint_continues_the_same_curve(objective):
    straight = _curve(objective.start_trial(7, CONFIG, seed=11), 3)
    paused = objective.start_trial(7, CONFIG, seed=11)
    first = _curve(paused, 1)
    paused.pause()
    assert paused.net is None and paused.checkpoint.is_file()
    second = _curve(paused, 1)  # reloads the checkpoint in the same run object
    paused.pause()
    paused.pause()  # pausing twice keeps the checkpoint
    elsewhere = objective.resume_trial(7, CONFIG, 11, epochs_done=2)  # e.g. another worker
    third = _curve(elsewhere, 1)
    assert first + second + third == straight  # bit-identical on the CPU
    elsewhere.close()
    assert not elsewhere.checkpoint.exists()
    other_seed = _curve(objective.start_trial(7, CONFIG, seed=12), 1)
    assert other_seed != straight[:1]


def test_resume_without_checkpoint_is_a_clear_error(objective):
    run = objective.resume_trial(3, CONFIG, 5, epochs_done=2)
    with pytest.raises(RuntimeError, match=r"checkpoint .* is missing"):
        run.next_epoch()


def test_a_diverging_run_is_reported_not_raised(objective):
    wild = {**CONFIG, "learning_rate": 1e8}  # outside the search space on purpose
    run = RealTrialRun(objective, 9, wild, seed=0)
    results = [run.next_epoch()]
    run.pause()  # a diverged trial may be paused and resumed in another process too
    resumed = RealTrialRun(objective, 9, wild, seed=0, epochs_done=1)
    results += [resumed.next_epoch(), resumed.next_epoch()]
    for r in results:
        assert r.metrics == {
            "val_error": CHANCE_ERROR,
            "train_loss": pytest.approx(math.nan, nan_ok=True),
            "diverged": 1.0,
            **results[0].metrics,  # the configuration's cost metrics, kept through the pause
        }
        assert r.metrics["peak_memory_mb"] > 0 and r.metrics["latency_ms"] > 0
        assert r.epoch_time > 0
    assert results[2].epoch_time == results[0].epoch_time  # later epochs: the same cost
    assert run.net is None and resumed.net is None and resumed.epochs_done == 3


def test_builder_of_kind_real(batches):
    from benchmarks.registry import BUILDERS

    spec = {
        "name": "tiny_real",
        "kind": "real",
        "model": "resnet8",
        "data": str(batches[0]),
        "n_train": 32,
        "n_val": 16,
        "max_epochs": 2,
        "cache_dir": None,
        "threads": 1,
    }
    obj = BUILDERS["real"](spec)
    assert isinstance(obj, RealObjective) and obj.name == "tiny_real" and obj.max_epochs == 2
    assert obj.space.names == [
        "learning_rate",
        "momentum",
        "weight_decay",
        "batch_size",
        "activation",
    ]
    with pytest.raises(ValueError, match=r"unknown options \['epochs'\]"):
        from_spec({**spec, "epochs": 3})
    with pytest.raises(ValueError, match=r"needs benchmark\.data"):
        from_spec({**spec, "data": None})


# --- cost metrics: peak training memory and inference latency ---------------------------------


def _costs(objective: RealObjective, seed: int = 1, **changes) -> dict[str, float]:
    run = objective.start_trial(0, {**CONFIG, **changes}, seed=seed)
    metrics = run.next_epoch().metrics
    run.close()
    return {name: metrics[name] for name in COST_METRICS}


def test_peak_memory_grows_with_the_batch_and_is_exactly_repeatable(objective):
    memory = {bs: _costs(objective, batch_size=bs)["peak_memory_mb"] for bs in (8, 16, 32)}
    assert memory[8] < memory[16] < memory[32]
    # activations are per image: the growth from 16 to 32 images is twice that from 8 to 16
    assert (memory[32] - memory[16]) / (memory[16] - memory[8]) == pytest.approx(2.0, rel=0.05)
    assert _costs(objective, batch_size=16)["peak_memory_mb"] == memory[16]  # same allocations
    assert _costs(objective, seed=5, batch_size=16)["peak_memory_mb"] == memory[16]
    # a batch larger than the 48 training images trains on all 48
    assert _costs(objective, batch_size=100)["peak_memory_mb"] == (
        _costs(objective, batch_size=48)["peak_memory_mb"]
    )
    # in-place ReLU keeps fewer activations for the backward pass than Softplus
    softplus = _costs(objective, batch_size=16, activation="Softplus")["peak_memory_mb"]
    assert softplus > memory[16]


def test_cpu_peak_is_the_allocators_own_running_total():
    """The figure is the allocator's: the profiler's exported trace carries the CPU allocator's
    running 'Total Allocated' with every event; its peak over the window is ours."""
    import json

    from torch.profiler import ProfilerActivity, profile

    net = make_model("resnet8", "LeakyReLU")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        x = torch.zeros(12, 3, 32, 32)
        net(x).sum().backward()
        del x
        net.zero_grad(set_to_none=True)
    ours = cpu_peak_bytes(prof)
    trace = Path(__file__).parent / ".trace.json"
    try:
        prof.export_chrome_trace(str(trace))
        events = [e["args"] for e in json.loads(trace.read_text())["traceEvents"]
                  if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0]
    finally:
        trace.unlink(missing_ok=True)
    start = events[0]["Total Allocated"] - events[0]["Bytes"]
    assert ours == max(e["Total Allocated"] for e in events) - start
    assert ours > 12 * 16 * 32 * 32 * 4  # at least the first activation map of 12 images


def test_a_window_that_keeps_memory_is_refused():
    kept = []
    with pytest.raises(RuntimeError, match="not freed"):
        peak_memory_mb(lambda: kept.append(torch.zeros(1000)), torch.device("cpu"))


def test_latency_is_per_image_in_eval_mode():
    net = make_model("resnet8", "ReLU")
    net.train()
    assert latency_ms(net, torch.zeros(1, 3, 32, 32), torch.device("cpu"), 1, 3) > 0
    assert not net.training
    with pytest.raises(ValueError, match="batch of 1"):
        latency_ms(net, torch.zeros(2, 3, 32, 32), torch.device("cpu"))


def test_cost_metrics_are_measured_once_and_leave_the_curve_alone(batches, objective, tmp_path):
    plain = RealObjective(batches[0], "resnet8", n_train=48, n_val=16, max_epochs=3,
                          cache_dir=None, threads=1, cost_metrics=False)
    assert plain.metric_names == ("val_error", "train_loss", "diverged")
    assert objective.metric_names == ("val_error", "train_loss", "diverged", *COST_METRICS)
    assert plain.describe()["cost_metrics"] is None
    assert set(objective.describe()["cost_metrics"]) == set(COST_METRICS)
    without = [plain.start_trial(2, CONFIG, seed=4).next_epoch() for _ in range(1)]
    run = objective.start_trial(2, CONFIG, seed=4)
    first = run.next_epoch()
    assert set(without[0].metrics) == {"val_error", "train_loss", "diverged"}
    assert {k: first.metrics[k] for k in without[0].metrics} == without[0].metrics
    run.pause()
    resumed = objective.resume_trial(2, CONFIG, 4, epochs_done=1)  # e.g. another worker
    resumed.measure_costs = lambda: pytest.fail("measured again")  # type: ignore[method-assign]
    later = [resumed.next_epoch(), resumed.next_epoch()]
    for result in later:
        assert {k: result.metrics[k] for k in COST_METRICS} == {
            k: first.metrics[k] for k in COST_METRICS
        }
    straight = plain.start_trial(2, CONFIG, seed=4)
    curve = [straight.next_epoch().metrics["val_error"] for _ in range(3)]
    assert curve == [r.metrics["val_error"] for r in (first, *later)]  # bit-identical
    resumed.close()
    problem = objective.problem(objectives=["val_error", "latency_ms"],
                                constraints=["peak_memory_mb<=100"])
    assert problem.metrics == (*objective.metric_names, "epoch_time")


def test_builder_passes_the_cost_metrics_switch(batches):
    spec = {"name": "r", "kind": "real", "data": str(batches[0]), "n_train": 32, "n_val": 16,
            "max_epochs": 1, "cache_dir": None, "threads": 1, "cost_metrics": False}
    assert from_spec(spec).metric_names == ("val_error", "train_loss", "diverged")


def test_latency_is_the_fastest_timed_pass(monkeypatch):
    """Warm-up passes are not timed; of the timed ones the fastest counts (a pass is only ever
    slowed by other work on the machine), not the median."""
    from benchmarks.real import measure

    # perf_counter readings: the warm-up pass's start, then (start, end) of three timed passes
    readings = iter([0.0, 10.0, 10.005, 11.0, 11.001, 12.0, 12.003])

    def perf_counter() -> float:
        return next(readings)

    monkeypatch.setattr(measure, "time", SimpleNamespace(perf_counter=perf_counter))
    net = torch.nn.Identity()
    assert measure.latency_ms(net, torch.zeros(1, 3, 32, 32), torch.device("cpu"), 1, 3) == (
        pytest.approx(1.0)
    )
