"""Tiny CIFAR-10 look-alikes that tests write themselves, in both layouts."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.real.data import CLASSES

PER_BATCH = 16  # images per torchvision batch file: 80 training images in all


@contextlib.contextmanager
def accept_fake_batches() -> Iterator[None]:
    """torchvision checks its files' md5 against the official release; fakes cannot pass it."""
    from torchvision.datasets import CIFAR10, cifar

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CIFAR10, "_check_integrity", lambda self: True)
        patch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
        yield


def fake_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 32, 32, 3) images whose mean colour depends on the label, and the labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    base = (labels[:, None, None, None] * 25).astype(np.int64)
    images = np.clip(base + rng.integers(0, 40, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
    return images, labels


def write_batches(root: Path, per_batch: int = PER_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's layout: root/cifar-10-batches-py/data_batch_1..5 and test_batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images, labels = fake_images(6 * per_batch, seed=1)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        part = slice(k * per_batch, (k + 1) * per_batch)
        batch = {
            "data": images[part].transpose(0, 3, 1, 2).reshape(per_batch, -1),
            "labels": labels[part].tolist(),
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CLASSES)}, f)
    return images[: 5 * per_batch], labels[: 5 * per_batch]


def write_jpegs(root: Path, per_class: int = 8) -> Path:
    """The JPEG layout: root/train/<class>/NNNN.jpg and root/test/<class>/NNNN.jpg."""
    from PIL import Image

    images, labels = fake_images(len(CLASSES) * per_class, seed=2)
    for split in ("train", "test"):
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:04d}.jpg", quality=95)
            if split == "test" and i >= len(CLASSES):
                break
    return root
