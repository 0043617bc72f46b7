"""Training and evaluation images per second of each model of the real objective.

    python scripts/bench_images_per_sec.py                    # all models, batches 32 and 128
    python scripts/bench_images_per_sec.py --models resnet8 --batch-sizes 8 64 --threads 1

Training = batch augmentation + forward + backward + SGD step (what one epoch of the real
objective does per batch); evaluation = forward in eval mode without gradients. Each figure times
whole batches for at least ``--seconds`` after one warm-up batch, on random images. Runs on CUDA
where present (or ``--device``). Prints a Markdown table; ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from benchmarks.real.data import augment, normalize
from benchmarks.real.models import MODELS, make_model
from benchmarks.real.objective import pick_device


def _timed(step, batch_size: int, seconds: float, sync) -> float:
    """Images per second of ``step()`` over whole batches, after one warm-up batch."""
    step()
    sync()
    done, start = 0, time.perf_counter()
    while True:
        step()
        done += batch_size
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and done >= 2 * batch_size:
            return done / elapsed


def measure(model: str, batch_size: int, device: torch.device, seconds: float) -> dict:
    """Training and evaluation images/s of ``model`` at ``batch_size`` on ``device``."""
    torch.manual_seed(0)
    net = make_model(model, "ReLU").to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = torch.randint(0, 256, (batch_size, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    generator = torch.Generator().manual_seed(0)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(augment(images, generator)), labels)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def eval_step() -> None:
        net(normalize(images)).argmax(1)

    net.train()
    train = _timed(train_step, batch_size, seconds, sync)
    net.eval()
    evaluate = _timed(eval_step, batch_size, seconds, sync)
    return {"model": model, "batch_size": batch_size, "train_images_per_s": round(train, 1),
            "eval_images_per_s": round(evaluate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet8", "resnet20", "resnet18"],
                        choices=MODELS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="auto (CUDA where present), cpu, cuda")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU, {torch.get_num_threads()} torch threads, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"# images/s on {where}\n")
    print("| model | batch | train images/s | eval images/s |\n| --- | ---: | ---: | ---: |")
    rows = []
    for model in args.models:
        for batch_size in args.batch_sizes:
            row = measure(model, batch_size, device, args.seconds)
            rows.append(row)
            print(f"| {model} | {batch_size} | {row['train_images_per_s']} | "
                  f"{row['eval_images_per_s']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": where, "figures": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
