"""The real objective: a ResNet trained on CIFAR-10, epoch by epoch (see ``benchmarks.real``).

Each epoch trains once over the training subset (SGD with momentum and weight decay, the chapter's
MultiStepLR at epochs 25 and 40, batch augmentation) and evaluates the validation subset. It
reports ``val_error``, ``train_loss`` and ``diverged`` (1.0 once the training loss was NaN or
infinite), and the measured seconds of training plus validation.

With ``cost_metrics`` (the default) every epoch also reports the configuration's
``peak_memory_mb`` (peak training memory) and ``latency_ms`` (inference latency per image),
measured once per trial right after its first epoch, outside the epoch's timed window, and
repeated at every later epoch (they are properties of the configuration, not of the epoch); see
:mod:`benchmarks.real.measure` for how. The measurement neither draws from the trial's random
streams nor touches its model, so the learning curve is the same with or without it. A checkpoint
keeps the measured values, so a resumed trial reports the same ones.

A diverged trial stops training: from then on it reports the chance error ``1 - 1/10`` with
``train_loss`` NaN. The diverged epoch's time is estimated for a whole epoch (on the CPU training
stops at the first non-finite loss; the time is scaled by the share of the epoch trained), and
every later epoch reports that time again: what a training loop that does not check for NaN would
have spent.

``pause()`` writes a checkpoint (model, optimizer, LR schedule, epoch, RNG states) and frees the
model; the next ``next_epoch()`` loads it with ``torch.load(weights_only=True)`` and continues the
same curve as an uninterrupted run (bit for bit on the CPU). A run's checkpoints live in a folder
of their own, ``<checkpoint_dir>/run-<id>`` (:meth:`RealObjective.for_run`), so concurrent runs
never share a checkpoint name; a trial's checkpoint is deleted when it ends, when the method drops
it while paused, and with the whole folder when the run ends.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.objective import EpochResult, Objective, TrialRun
from benchmarks.real import COST_METRICS, LATENCY_METRIC, MEMORY_METRIC, SPEC_KEYS
from benchmarks.real.data import augment, load_cifar10, normalize, split_indices, to_tensor
from benchmarks.real.models import MODELS, make_model
from hpo_methods.space import Config, SearchSpace

SPACE_SPEC: dict[str, dict[str, Any]] = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "weight_decay": {"type": "loguniform", "low": 1e-9, "high": 1e-2},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
}
MILESTONES = (25, 40)
NUM_CLASSES = 10
CHANCE_ERROR = 1.0 - 1.0 / NUM_CLASSES


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA where present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class RealObjective(Objective):
    """ResNet on a CIFAR-10 subset; ``data`` is the archive, JPEG folder or torchvision folder."""

    metric_names: tuple[str, ...] = ("val_error", "train_loss", "diverged")

    def __init__(
        self,
        data: str | Path,
        model: str = "resnet8",
        n_train: int = 1000,
        n_val: int = 500,
        max_epochs: int = 20,
        cache_dir: str | Path | None = ".data/cache",
        checkpoint_dir: str | Path | None = None,
        threads: int | None = None,
        device: str = "auto",
        split_seed: int = 0,
        eval_batch_size: int = 500,
        shortcut: str = "A",
        download: bool = False,
        name: str | None = None,
        cost_metrics: bool = True,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1 (got {max_epochs})")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.name = name or f"{model}_cifar10"
        self.model = model
        self.shortcut = shortcut
        self.max_epochs = int(max_epochs)
        self.space = SearchSpace.from_spec(SPACE_SPEC)
        self.device = pick_device(device)
        self.eval_batch_size = int(eval_batch_size)
        self.cost_metrics = bool(cost_metrics)
        if self.cost_metrics:
            self.metric_names = (*RealObjective.metric_names, *COST_METRICS)
        self.data_source = str(data)
        self.n_train, self.n_val, self.split_seed = int(n_train), int(n_val), int(split_seed)
        train = load_cifar10(data, "train", cache_dir, download=download)
        train_idx, val_idx = split_indices(len(train), self.n_train, self.n_val, self.split_seed)
        self.train_x = to_tensor(train.images[train_idx], self.device)
        self.train_y = torch.from_numpy(train.labels[train_idx]).to(self.device)
        self.val_x = normalize(to_tensor(train.images[val_idx], self.device))
        self.val_y = torch.from_numpy(train.labels[val_idx]).to(self.device)
        self._own_checkpoints = checkpoint_dir is None
        self.checkpoint_dir = Path(checkpoint_dir or tempfile.mkdtemp(prefix="tunebench-ckpt-"))

    def start_trial(self, trial_id: int, config: Config, seed: int) -> RealTrialRun:
        self.space.validate(config)
        return RealTrialRun(self, trial_id, dict(config), int(seed))

    def resume_trial(self, trial_id: int, config: Config, seed: int, epochs_done: int
                     ) -> RealTrialRun:
        """Continue a paused trial (in any process) from the checkpoint its ``pause`` wrote."""
        self.space.validate(config)
        return RealTrialRun(self, trial_id, dict(config), int(seed), epochs_done=epochs_done)

    def describe(self) -> dict:
        from benchmarks.real.measure import describe as measurement

        return {
            **super().describe(),
            "kind": "real",
            "model": self.model,
            "data": self.data_source,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "split_seed": self.split_seed,
            "device": str(self.device),
            "torch_threads": torch.get_num_threads(),
            "cost_metrics": measurement(self.device) if self.cost_metrics else None,
        }

    def for_run(self, run_id: str) -> RealObjective:
        """This objective with checkpoints under ``<checkpoint_dir>/run-<run_id>``."""
        scoped = copy.copy(self)
        scoped.checkpoint_dir = self.checkpoint_dir / f"run-{run_id}"
        scoped._own_checkpoints = False
        scoped._run_scoped = True
        return scoped

    def discard_paused(self, trial_id: int) -> None:
        for path in self.checkpoint_dir.glob(f"trial-{int(trial_id)}-*.pt"):
            path.unlink(missing_ok=True)

    def discard_run(self) -> None:
        """Delete this run's checkpoint folder (only a folder made by :meth:`for_run`)."""
        if getattr(self, "_run_scoped", False):
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def __del__(self) -> None:
        if getattr(self, "_own_checkpoints", False):
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)




def from_spec(spec: dict[str, Any]) -> RealObjective:
    """Build from a ``conf/benchmark/*.yaml`` dict of kind ``real`` (unknown keys are an error)."""
    options = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(options) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"benchmark '{spec.get('name')}': unknown options {unknown} for kind real; "
            f"valid: {', '.join(SPEC_KEYS)}"
        )
    if not options.get("data"):
        raise ValueError(
            f"benchmark '{spec.get('name')}' needs benchmark.data=PATH: CIFAR-10 as the JPEG "
            "archive (cifar10-jpeg.tar.gz), its extracted folder, or a folder for torchvision's "
            "files (add benchmark.download=true to fetch them there where a network exists)"
        )
    return RealObjective(**options)


def make_optimizer(net: nn.Module, config: Config) -> torch.optim.SGD:
    """SGD with the configuration's learning rate, momentum and weight decay."""
    return torch.optim.SGD(
        net.parameters(),
        lr=config["learning_rate"],
        momentum=config["momentum"],
        weight_decay=config["weight_decay"],
    )


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               targets: torch.Tensor) -> torch.Tensor:
    """One SGD step on a batch; returns the batch's mean loss (detached)."""
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _checkpoint_name(trial_id: int, seed: int, config: Config) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"trial-{trial_id}-seed-{seed}-{digest}.pt"


class RealTrialRun(TrialRun):
    """One training run of a configuration; see the module docstring for pause and divergence."""

    def __init__(self, objective: RealObjective, trial_id: int, config: Config, seed: int,
                 epochs_done: int = 0) -> None:
        self.objective = objective
        self.trial_id = trial_id
        self.config = config
        self.seed = seed
        self.epochs_done = int(epochs_done)
        self.diverged = False
        self.last_epoch_time = 0.0
        self.costs: dict[str, float] | None = None  # measured once, after the first epoch
        self.net: nn.Module | None = None
        self.generator = torch.Generator()
        self.checkpoint = objective.checkpoint_dir / _checkpoint_name(trial_id, seed, config)

    def _initialise(self) -> None:
        """A fresh model: its weights and the data order are drawn from the trial's seed."""
        self.generator.manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.net = self._make_net()
        self._build_optimizer()

    def _make_net(self) -> nn.Module:
        obj = self.objective
        return make_model(obj.model, self.config["activation"], NUM_CLASSES, obj.shortcut).to(
            obj.device
        )

    def _build_optimizer(self) -> None:
        assert self.net is not None
        self.optimizer = make_optimizer(self.net, self.config)
        self.schedule = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(MILESTONES), gamma=0.1
        )

    def next_epoch(self) -> EpochResult:
        if self.epochs_done >= self.objective.max_epochs:
            raise RuntimeError(f"trial {self.trial_id} already trained {self.epochs_done} epochs")
        if self.net is None and not self.diverged:
            if self.epochs_done == 0:
                self._initialise()
            else:
                self._load()
        if self.diverged:
            self.epochs_done += 1
            return self._diverged_result()
        start = time.perf_counter()
        loss, share_done = self._train_epoch()
        if not math.isfinite(loss):
            self.diverged = True
            self._synchronize()
            # Training stopped at the first non-finite loss: scale up to a whole epoch.
            self.last_epoch_time = (time.perf_counter() - start) / share_done
            self.epochs_done += 1
            self.net = None
            self.optimizer = None  # type: ignore[assignment]
            return self._diverged_result()
        error = self._evaluate()
        self._synchronize()
        self.last_epoch_time = time.perf_counter() - start
        self.epochs_done += 1
        return self._result({"val_error": error, "train_loss": loss, "diverged": 0.0})

    def _diverged_result(self) -> EpochResult:
        return self._result({"val_error": CHANCE_ERROR, "train_loss": math.nan, "diverged": 1.0})

    def _result(self, metrics: dict[str, float]) -> EpochResult:
        """The epoch's metrics, with the configuration's cost metrics (measured on first use)."""
        if self.objective.cost_metrics:
            if self.costs is None:
                self.costs = self.measure_costs()
            metrics = {**metrics, **self.costs}
        return EpochResult(metrics, self.last_epoch_time)

    def measure_costs(self) -> dict[str, float]:
        """Peak training memory and inference latency of this configuration (see
        :mod:`benchmarks.real.measure`): a fresh model with the trial's initial weights, its own
        random streams; the trial's model, optimizer and random state are left as they were."""
        from benchmarks.real.measure import MEMORY_STEPS, latency_ms, peak_memory_mb

        obj = self.objective
        n = len(obj.train_y)
        batch_size = min(int(self.config["batch_size"]), n)

        def train_steps() -> None:
            torch.manual_seed(self.seed)
            net = self._make_net()
            optimizer = make_optimizer(net, self.config)
            generator = torch.Generator().manual_seed(self.seed)
            net.train()
            for _ in range(MEMORY_STEPS):
                idx = torch.randperm(n, generator=generator)[:batch_size].to(obj.device)
                train_step(net, optimizer, augment(obj.train_x[idx], generator), obj.train_y[idx])

        cuda = []
        if obj.device.type == "cuda":
            cuda = [obj.device.index if obj.device.index is not None
                    else torch.cuda.current_device()]
        with torch.random.fork_rng(devices=cuda):
            memory = peak_memory_mb(train_steps, obj.device)
            torch.manual_seed(self.seed)
            latency = latency_ms(self._make_net(), obj.val_x[:1], obj.device)
        return {MEMORY_METRIC: memory, LATENCY_METRIC: latency}

    def _synchronize(self) -> None:
        if self.objective.device.type == "cuda":
            torch.cuda.synchronize(self.objective.device)

    def _train_epoch(self) -> tuple[float, float]:
        """Mean training loss (NaN once it is not finite) and the share of the epoch trained."""
        obj, net = self.objective, self.net
        assert net is not None
        net.train()
        n = len(obj.train_y)
        batch_size = int(self.config["batch_size"])
        order = torch.randperm(n, generator=self.generator).to(obj.device)
        total = torch.zeros((), device=obj.device)
        for begin in range(0, n, batch_size):
            idx = order[begin: begin + batch_size]
            inputs = augment(obj.train_x[idx], self.generator)
            loss = train_step(net, self.optimizer, inputs, obj.train_y[idx])
            total += loss * len(idx)
            if obj.device.type == "cpu" and not torch.isfinite(loss):
                return math.nan, (begin + len(idx)) / n
        self.schedule.step()
        return float(total.item()) / n, 1.0

    @torch.no_grad()
    def _evaluate(self) -> float:
        obj, net = self.objective, self.net
        assert net is not None
        net.eval()
        correct = torch.zeros((), dtype=torch.long, device=obj.device)
        for begin in range(0, len(obj.val_y), obj.eval_batch_size):
            logits = net(obj.val_x[begin: begin + obj.eval_batch_size])
            correct += (logits.argmax(1) == obj.val_y[begin: begin + obj.eval_batch_size]).sum()
        return 1.0 - int(correct.item()) / len(obj.val_y)

    def pause(self) -> None:
        """Write a checkpoint and free the model (a diverged trial keeps only its state)."""
        state: dict[str, Any] = {
            "epochs_done": self.epochs_done,
            "diverged": self.diverged,
            "last_epoch_time": self.last_epoch_time,
            "costs": self.costs,
        }
        if self.net is None and not self.diverged:
            return  # never trained here, or paused already: the checkpoint on disk is current
        if self.net is not None:
            state.update(
                model=self.net.state_dict(),
                optimizer=self.optimizer.state_dict(),
                schedule=self.schedule.state_dict(),
                generator=self.generator.get_state(),
                cpu_rng=torch.get_rng_state(),
            )
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.checkpoint.parent, prefix=f".{self.checkpoint.name}.",
                                    suffix=".tmp")  # fmt: skip
        os.close(fd)
        try:
            torch.save(state, name)
            os.replace(name, self.checkpoint)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        self.net = None
        self.optimizer = None  # type: ignore[assignment]
        self.schedule = None  # type: ignore[assignment]

    def _load(self) -> None:
        if not self.checkpoint.is_file():
            raise RuntimeError(f"trial {self.trial_id}: checkpoint {self.checkpoint} is missing")
        state = torch.load(self.checkpoint, map_location=self.objective.device, weights_only=True)
        if int(state["epochs_done"]) != self.epochs_done:
            raise RuntimeError(
                f"{self.checkpoint}: holds epoch {state['epochs_done']}, "
                f"expected {self.epochs_done}"
            )
        self.diverged = bool(state["diverged"])
        self.last_epoch_time = float(state["last_epoch_time"])
        if state.get("costs") is not None:
            self.costs = {k: float(v) for k, v in state["costs"].items()}
        if self.diverged:
            return
        self.net = self._make_net()
        self.net.load_state_dict(state["model"])
        self._build_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["cpu_rng"])

    def close(self) -> None:
        self.net = None
        self.optimizer = None  # type: ignore[assignment]
        self.checkpoint.unlink(missing_ok=True)
