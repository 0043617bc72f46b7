"""The real objective: ResNets trained on CIFAR-10 with PyTorch (the only torch users here).

Import the submodules (``benchmarks.real.objective``) explicitly; importing this package alone
does not import torch.
"""
