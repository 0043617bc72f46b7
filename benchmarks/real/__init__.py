"""The real objective: ResNets trained on CIFAR-10 with PyTorch (the only torch users here).

Import the submodules (``benchmarks.real.objective``) explicitly; importing this package alone
does not import torch. The names of the cost metrics the real objective measures
(:mod:`benchmarks.real.measure`) and the options of a ``kind: real`` benchmark live here so that
collection code and config checks can name them without torch.
"""

MEMORY_METRIC = "peak_memory_mb"
LATENCY_METRIC = "latency_ms"
COST_METRICS = (MEMORY_METRIC, LATENCY_METRIC)
# the options a benchmark of kind real takes (besides kind)
SPEC_KEYS = (
    "data", "model", "n_train", "n_val", "max_epochs", "cache_dir", "checkpoint_dir", "threads",
    "device", "split_seed", "eval_batch_size", "shortcut", "download", "name", "cost_metrics",
)  # fmt: skip
