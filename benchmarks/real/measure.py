"""Cost metrics of a configuration, measured (never computed by formula).

Both are properties of a configuration (model, activation, batch size), measured once per trial
by the real objective (:meth:`benchmarks.real.objective.RealTrialRun.next_epoch`, right after the
first epoch and outside its timed window) and reported with every epoch of the trial.

``peak_memory_mb`` (MiB, 2**20 bytes): the most memory that training the configuration holds at
once. Inside the measured window: a fresh model of the configuration (its weights drawn from the
trial's seed), its SGD optimizer, and :data:`MEMORY_STEPS` training steps (an augmented batch of
``batch_size`` training images, or the whole training subset where that is smaller; forward,
cross-entropy, backward, SGD step): weights, gradients, momentum buffers (the second step holds
them: steady state), the input batch, the activations saved for the backward pass and the kernels'
temporary tensors. The objective's data set (loaded once, the same for every configuration) is
not counted.

- CUDA: the caching allocator's own peak: ``torch.cuda.reset_peak_memory_stats``, then
  ``torch.cuda.max_memory_allocated`` minus ``torch.cuda.memory_allocated`` at the start.
- CPU: the PyTorch profiler with ``profile_memory=True`` records every allocation and free of
  PyTorch's CPU allocator (c10) with its size; the figure is the peak of their running sum over
  the window. Everything the window allocates is freed inside it (checked: the sum returns to
  zero), so the figure does not depend on what the process did before; it is exactly repeatable
  for a configuration (same shapes, same allocations) and grows with the batch size. Memory
  outside PyTorch's allocator (the interpreter, libraries, thread stacks) is not counted.

``latency_ms``: inference latency per image, i.e. at batch size 1 (a deployed classifier answers
one request at a time, and that is what a bound on latency constrains): a fresh model of the
configuration in eval mode under ``torch.inference_mode``, one validation image,
:data:`LATENCY_WARMUP` untimed passes, then the *minimum* of :data:`LATENCY_REPEATS` timed passes
(``time.perf_counter`` around each forward pass; ``torch.cuda.synchronize`` on CUDA), with the
process's torch thread count (the collection's ``--threads``). The minimum, as ``timeit``
advises: a pass is only ever slowed by what else the machine does (the other collection shard
training on the next core, the host), so the fastest pass is the repeatable figure. Measured on
the 2-core collection VM (resnet8, one thread): the median of 50 passes taken right after a
training epoch, with the other shard training, varied by 23-26% (std/mean) between
configurations sharing an activation, i.e. between repeats of the same network; in a quiet
process the median of 50 varies by 1.4-5.9% over six fresh models per activation, the minimum
of 200 by 0.6-1.5% (``python scripts/latency_repeatability.py``). In the chapter's space it depends
on the model and the activation only: the SGD hyperparameters and the training batch size do not
change the network that answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from benchmarks.real import LATENCY_METRIC, MEMORY_METRIC

MEMORY_STEPS = 2
LATENCY_WARMUP = 10
LATENCY_REPEATS = 200
MIB = float(2**20)


def peak_memory_mb(window: Callable[[], None], device: torch.device) -> float:
    """Peak memory (MiB) that ``window()`` allocates on ``device`` (see the module docstring).

    ``window`` must free what it allocates (its tensors are local to it): on the CPU this is
    checked. No garbage collection is forced (a full collection costs seconds in a process holding
    a data set); tensors are freed by reference counting when ``window`` returns.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        window()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - start) / MIB
    if device.type != "cpu":
        raise ValueError(f"peak memory is measured on cpu or cuda, not {device.type}")
    from torch.profiler import ProfilerActivity, profile

    # Kineto (the profiler's backend) would log two lines per measurement (and an error where no
    # GPU is present) to stderr; a level set by the user is kept. Read when it first starts.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        window()
    return cpu_peak_bytes(prof) / MIB


def cpu_peak_bytes(prof: Any) -> int:
    """The peak of the running sum of the CPU allocator's allocations and frees in ``prof``."""
    sizes = [
        event.nbytes()
        for event in sorted(prof.profiler.kineto_results.events(), key=lambda e: e.start_ns())
        if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    running = peak = 0
    for size in sizes:
        running += size
        peak = max(peak, running)
    if running != 0:
        raise RuntimeError(
            f"memory probe: {running} bytes allocated in the measured window were not freed in it "
            f"(or freed from an earlier window); the peak would not be repeatable"
        )
    return peak


@torch.inference_mode()
def latency_ms(net: nn.Module, image: torch.Tensor, device: torch.device,
               warmup: int = LATENCY_WARMUP, repeats: int = LATENCY_REPEATS) -> float:
    """Fewest milliseconds of one forward pass of ``image`` (a batch of 1) in eval mode, over
    ``repeats`` timed passes after ``warmup`` untimed ones."""
    if image.shape[0] != 1:
        raise ValueError(f"latency is per image: expected a batch of 1, got {image.shape[0]}")
    net.eval()
    cuda = device.type == "cuda"
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        net(image)
        if cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1000.0 * min(times)


def describe(device: torch.device) -> dict[str, str]:
    """How each cost metric is measured on ``device`` (for results and table provenance)."""
    if device.type == "cuda":
        memory = ("CUDA caching allocator: max_memory_allocated minus memory_allocated at the "
                  "start, after reset_peak_memory_stats")
    else:
        memory = ("PyTorch profiler (profile_memory=True): peak of the running sum of every "
                  "allocation and free of PyTorch's CPU allocator in the window")
    return {
        MEMORY_METRIC: (
            f"MiB; {memory}; window: a fresh model of the configuration (weights from the "
            f"trial's seed), its SGD optimizer and {MEMORY_STEPS} training steps at the "
            f"configuration's batch size (steady state: momentum buffers held); the data set "
            f"is not counted; measured once per trial after its first epoch, outside the "
            f"epoch's time"
        ),
        LATENCY_METRIC: (
            f"ms per image: minimum of {LATENCY_REPEATS} timed forward passes of one validation "
            f"image (batch size 1) after {LATENCY_WARMUP} untimed ones, eval mode, "
            f"torch.inference_mode, {torch.get_num_threads()} torch thread(s) on {device}; "
            f"a fresh model of the configuration; once per trial after its first epoch"
        ),
    }
