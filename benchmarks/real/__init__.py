"""The real objective: ResNets trained on CIFAR-10 with PyTorch (the only torch users here).

Import the submodules (``benchmarks.real.objective``) explicitly; importing this package alone
does not import torch. The names of the cost metrics the real objective measures
(:mod:`benchmarks.real.measure`) live here so that collection code can name them without torch.
"""

MEMORY_METRIC = "peak_memory_mb"
LATENCY_METRIC = "latency_ms"
COST_METRICS = (MEMORY_METRIC, LATENCY_METRIC)
