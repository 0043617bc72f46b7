"""How repeatable is the inference-latency figure? Fresh models per activation, several statistics.

    python scripts/latency_repeatability.py [--models 6] [--threads 1]

For each activation of the chapter's space, ``--models`` fresh resnet8 networks (weights from seeds
0, 1, ...) are timed at batch size 1 the way :mod:`benchmarks.real.measure` does, and the spread
(std/mean over the models, which share their architecture) of each statistic is printed: the
median of the first 50 timed passes, their minimum, and the minimum of all 200 (the collection's
figure). Run it on a quiet machine and again beside a training process to see what the load does.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.real.measure import LATENCY_REPEATS, LATENCY_WARMUP
from benchmarks.real.models import make_model
from benchmarks.real.objective import SPACE_SPEC


def pass_times(activation: str, seed: int) -> list[float]:
    """Milliseconds of each timed pass of a fresh model (after the warm-up passes)."""
    torch.manual_seed(seed)
    net = make_model("resnet8", activation, 10, "A").eval()
    image = torch.randn(1, 3, 32, 32)
    times = []
    with torch.inference_mode():
        for _ in range(LATENCY_WARMUP + LATENCY_REPEATS):
            start = time.perf_counter()
            net(image)
            times.append(1000.0 * (time.perf_counter() - start))
    return times[LATENCY_WARMUP:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="fresh models per activation")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (collection: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    statistics_of = {
        "median of 50": lambda t: statistics.median(t[:50]),
        "min of 50": lambda t: min(t[:50]),
        f"min of {LATENCY_REPEATS}": min,
    }
    for activation in SPACE_SPEC["activation"]["categories"]:
        runs = [pass_times(activation, seed) for seed in range(args.models)]
        for name, stat in statistics_of.items():
            values = [stat(t) for t in runs]
            spread = statistics.stdev(values) / statistics.mean(values)
            print(f"{activation:10s} {name:14s} mean {statistics.mean(values):.3f} ms  "
                  f"spread {100 * spread:.1f}%")


if __name__ == "__main__":
    main()
