"""The models of the real objective: the chapter's ResNet-18 and the small CIFAR ResNets.

- ``resnet18``: torchvision's ResNet-18 (10 classes) with a 3x3 stride-1 first convolution and no
  max-pool, as in the chapter.
- ``resnet20`` / ``resnet8``: the CIFAR ResNets of He et al. (2016), depth 6n + 2 with n = 3 / 1
  basic blocks in each of three stages of 16, 32 and 64 channels; shortcut option "A" (identity,
  subsampled and zero-padded where the shape changes) or "B" (1x1 convolution + batch norm).

Every model takes an ``activation`` in :data:`ACTIVATIONS`; every activation module is that one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models import resnet18

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "ReLU": lambda: nn.ReLU(inplace=True),
    "LeakyReLU": lambda: nn.LeakyReLU(inplace=True),
    "Softplus": nn.Softplus,
}
CIFAR_DEPTHS = {"resnet8": 1, "resnet20": 3}
MODELS = ("resnet18", "resnet20", "resnet8")


def make_model(name: str, activation: str = "ReLU", num_classes: int = 10,
               shortcut: str = "A") -> nn.Module:
    """The model called ``name`` (see :data:`MODELS`) with every activation ``activation``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    if name == "resnet18":
        model = resnet18(weights=None, num_classes=num_classes)
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
        return replace_activations(model, activation)
    if name in CIFAR_DEPTHS:
        return CifarResNet(CIFAR_DEPTHS[name], activation, num_classes, shortcut)
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")


def replace_activations(module: nn.Module, activation: str) -> nn.Module:
    """Swap every activation module (ReLU, LeakyReLU, Softplus) inside ``module`` in place."""
    for child_name, child in module.named_children():
        if isinstance(child, nn.ReLU | nn.LeakyReLU | nn.Softplus):
            setattr(module, child_name, ACTIVATIONS[activation]())
        else:
            replace_activations(child, activation)
    return module


class _ShortcutA(nn.Module):
    """Identity shortcut: subsample by ``stride`` and zero-pad the new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            half = self.extra // 2
            x = nn.functional.pad(x, (0, 0, 0, 0, half, self.extra - half))
        return x


class _BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, activation: str,
                 shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = ACTIVATIONS[activation]()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = ACTIVATIONS[activation]()
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "A":
            self.shortcut = _ShortcutA(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images (He et al. 2016, section 4.2)."""

    def __init__(self, n: int, activation: str = "ReLU", num_classes: int = 10,
                 shortcut: str = "A") -> None:
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"unknown shortcut option {shortcut!r}; valid: A, B")
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.act = ACTIVATIONS[activation]()
        layers: list[nn.Module] = []
        in_channels = 16
        for stage, channels in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(_BasicBlock(in_channels, channels, stride, activation, shortcut))
                in_channels = channels
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.act(self.bn(self.conv(x))))
        return self.fc(torch.flatten(self.pool(x), 1))
