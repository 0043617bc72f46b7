"""CIFAR-10 for the real objective: reading, caching, the train/validation split, augmentation.

Sources (``load_cifar10(source)``):

- torchvision's files: a folder that is, or holds, ``cifar-10-batches-py`` (``download=True``
  fetches it with torchvision where a network exists);
- the JPEG layout ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, as an extracted folder or as
  the ``.tar.gz`` archive itself (``cifar10-jpeg.tar.gz``).

Images are decoded once and cached as uint8 ``.npy`` arrays (N, 32, 32, 3) with int64 labels in a
cache folder keyed by the source's path, size and modification time. Validation images are a seeded
held-out part of the *training* set, never the test set. Augmentation (random crop 32 with padding
4, horizontal flip, normalisation) runs on whole batches of tensors.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
BATCHES_DIR = "cifar-10-batches-py"
SPLIT_FILES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
HOW_TO_GET = (
    "pass benchmark.data=PATH: the JPEG archive (cifar10-jpeg.tar.gz) or its extracted folder "
    "(train/<class>/*.jpg), or a folder holding torchvision's 'cifar-10-batches-py' "
    "(benchmark.download=true fetches it there where a network exists)"
)


class DataError(FileNotFoundError):
    """Missing or unreadable CIFAR-10 data; the message says how to get it."""


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 (N, 32, 32, 3) and labels as int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def load_cifar10(
    source: str | Path, split: str = "train", cache_dir: str | Path | None = None,
    download: bool = False,
) -> ImageSet:
    """One split ("train" or "test") of CIFAR-10 from ``source``, cached as ``.npy`` arrays."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; valid: train, test")
    source = Path(source).expanduser()
    if download and not _batches_dir(source):
        from torchvision.datasets import CIFAR10

        CIFAR10(str(source), train=True, download=True)
    kind = _source_kind(source)
    cache = _cache_folder(source, cache_dir) if cache_dir is not None else None
    if cache is not None:
        cached = _read_cache(cache, split)
        if cached is not None:
            return cached
    if kind == "batches":
        data = _read_batches(_batches_dir(source), split)  # type: ignore[arg-type]
    elif kind == "archive":
        data = _read_archive(source, split)
    else:
        data = _read_jpeg_folder(source / split, split)
    if cache is not None:
        _write_cache(cache, split, data)
    return data


def _batches_dir(source: Path) -> Path | None:
    for candidate in (source, source / BATCHES_DIR):
        if candidate.name != BATCHES_DIR:
            continue
        if candidate.is_dir() and (candidate / "data_batch_1").is_file():
            return candidate
    return None


def _source_kind(source: Path) -> str:
    if not source.exists():
        raise DataError(f"CIFAR-10 data not found at {source}: {HOW_TO_GET}")
    if source.is_file():
        if source.name.endswith((".tar.gz", ".tgz", ".tar")):
            return "archive"
        raise DataError(f"{source} is a file but not a .tar.gz archive of CIFAR-10: {HOW_TO_GET}")
    if _batches_dir(source):
        return "batches"
    if (source / "train").is_dir():
        return "jpeg"
    raise DataError(
        f"{source} holds neither '{BATCHES_DIR}' nor a 'train/<class>/' folder: {HOW_TO_GET}"
    )


def _cache_folder(source: Path, cache_dir: str | Path) -> Path:
    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:16]


def _read_cache(cache: Path, split: str) -> ImageSet | None:
    x_path, y_path = cache / f"{split}_images.npy", cache / f"{split}_labels.npy"
    if not (x_path.is_file() and y_path.is_file()):
        return None
    return ImageSet(np.load(x_path, allow_pickle=False), np.load(y_path, allow_pickle=False))


def _write_cache(cache: Path, split: str, data: ImageSet) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    for suffix, array in (("images", data.images), ("labels", data.labels)):
        final = cache / f"{split}_{suffix}.npy"
        tmp = cache / f".{split}_{suffix}.{os.getpid()}.npy"
        np.save(tmp, array, allow_pickle=False)
        tmp.replace(final)


def _read_batches(folder: Path, split: str) -> ImageSet:
    """torchvision's files, read by torchvision itself, which first checks every file's md5
    against the official release (so nothing but the genuine data set is ever unpickled)."""
    from torchvision.datasets import CIFAR10

    for name in SPLIT_FILES[split]:
        if not (folder / name).is_file():
            raise DataError(f"{folder / name}: missing CIFAR-10 batch file: {HOW_TO_GET}")
    try:
        dataset = CIFAR10(str(folder.parent), train=split == "train", download=False)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise DataError(f"{folder}: not the official CIFAR-10 batch files ({err})") from err
    images = np.ascontiguousarray(np.asarray(dataset.data, dtype=np.uint8))
    return ImageSet(images, np.asarray(dataset.targets, dtype=np.int64))


def _label(class_name: str, where: str) -> int:
    if class_name not in CLASSES:
        raise DataError(f"{where}: unknown class folder '{class_name}' (expected {CLASSES})")
    return CLASSES.index(class_name)


def _decode(data: bytes, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{where}: not a readable image ({err})") from err
    if image.shape != (32, 32, 3):
        raise DataError(f"{where}: image of shape {image.shape}, expected 32x32 RGB")
    return image


def _stack(items: list[tuple[str, int, np.ndarray]], where: str) -> ImageSet:
    if not items:
        raise DataError(f"{where}: no images found: {HOW_TO_GET}")
    items.sort(key=lambda item: (item[1], item[0]))
    return ImageSet(
        np.stack([image for _, _, image in items]),
        np.array([label for _, label, _ in items], dtype=np.int64),
    )


def _read_jpeg_folder(folder: Path, split: str) -> ImageSet:
    if not folder.is_dir():
        raise DataError(f"{folder}: missing '{split}' folder of CIFAR-10 images: {HOW_TO_GET}")
    items = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = _label(class_dir.name, str(class_dir))
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                items.append((path.name, label, _decode(path.read_bytes(), str(path))))
    return _stack(items, str(folder))


def _read_archive(path: Path, split: str) -> ImageSet:
    items = []
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                parts = Path(member.name).parts
                if not member.isfile() or len(parts) < 3 or parts[-3] != split:
                    continue
                if not parts[-1].lower().endswith((".jpg", ".jpeg", ".png")):
                    continue
                where = f"{path}:{member.name}"
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                items.append((parts[-1], _label(parts[-2], where), _decode(data, where)))
    except tarfile.TarError as err:
        raise DataError(f"{path}: not a readable tar archive ({err}): {HOW_TO_GET}") from err
    return _stack(items, f"{path} ({split}/<class>/*.jpg)")


def split_indices(n_total: int, n_train: int, n_val: int, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint seeded subsets of the training set: (training indices, validation indices)."""
    if n_train < 1 or n_val < 1:
        raise ValueError(f"n_train and n_val must be >= 1 (got {n_train}, {n_val})")
    if n_train + n_val > n_total:
        raise ValueError(
            f"n_train + n_val = {n_train + n_val} exceeds the {n_total} training images"
        )
    order = np.random.default_rng(seed).permutation(n_total)
    return np.sort(order[n_val: n_val + n_train]), np.sort(order[:n_val])


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, 32, 32, 3) to uint8 (N, 3, 32, 32) on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device)


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) to float in [0, 1], normalised with :data:`MEAN` and :data:`STD`."""
    mean = torch.tensor(MEAN, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=batch.device).view(1, 3, 1, 1)
    return (batch.float() / 255.0 - mean) / std


def augment(batch: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``padding``) and horizontal flip of a uint8 batch, then normalise.

    The same as torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor +
    Normalize per image, drawn for the whole batch at once from ``generator`` (on the CPU).
    """
    b, _, h, w = batch.shape
    padded = torch.nn.functional.pad(batch, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    offsets, flips = offsets.to(batch.device), flips.to(batch.device)
    rows = (offsets[0, :, None] + torch.arange(h, device=batch.device))[:, None, :, None]
    cols = torch.arange(w, device=batch.device).expand(b, w)
    cols = torch.where(flips[:, None], cols.flip(1), cols) + offsets[1, :, None]
    cols = cols[:, None, None, :]
    batch_idx = torch.arange(b, device=batch.device)[:, None, None, None]
    channel_idx = torch.arange(3, device=batch.device)[None, :, None, None]
    return normalize(padded[batch_idx, channel_idx, rows, cols])
