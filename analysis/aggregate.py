"""Statistics over seeds of curves on a grid, and average ranks over time.

Input curves are DataFrames with rows (method, seed) and one column per grid point (as made by
:func:`analysis.trajectories.incumbent_grid`). At a grid point where any seed of a method is NaN
(it has not reported yet) the statistic is NaN, so curves start once every seed has a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Results
from analysis.trajectories import Reference, incumbent_grid

STATISTICS = ("mean", "median", "iqm")
STAT_LABELS = {
    "mean": "mean ± standard error",
    "median": "median and quartiles",
    "iqm": "interquartile mean, 95% bootstrap CI",
}


def summarise(
    values: np.ndarray,
    stat: str = "mean",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and band over axis 0 (seeds) of ``values`` [seeds x points].

    ``mean``: mean +- standard error (ddof=1); ``median``: median, first and third quartiles;
    ``iqm``: interquartile mean (``scipy.stats.trim_mean(x, 0.25)``) with a percentile bootstrap
    confidence interval (``scipy.stats.bootstrap``, fixed ``seed``). Columns with a NaN are NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-d [seeds x points] (got shape {values.shape})")
    n, m = values.shape
    nan = np.full(m, np.nan)
    full = ~np.isnan(values).any(axis=0)
    centre, low, high = nan.copy(), nan.copy(), nan.copy()
    if n == 0 or not full.any():
        return centre, low, high
    v = values[:, full]
    if stat == "mean":
        centre[full] = v.mean(axis=0)
        se = v.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(v.shape[1], np.nan)
        low[full], high[full] = centre[full] - se, centre[full] + se
    elif stat == "median":
        low[full], centre[full], high[full] = np.percentile(v, [25, 50, 75], axis=0)
    elif stat == "iqm":
        centre[full] = stats.trim_mean(v, 0.25, axis=0)
        if n > 1:
            ci = stats.bootstrap(
                (v,),
                _iqm,
                axis=0,
                vectorized=True,
                method="percentile",
                confidence_level=confidence,
                n_resamples=n_resamples,
                rng=np.random.default_rng(seed),
            ).confidence_interval
            low[full], high[full] = ci.low, ci.high
    else:
        raise ValueError(f"unknown statistic '{stat}' (choose from {', '.join(STATISTICS)})")
    return centre, low, high


def _iqm(sample: np.ndarray, axis: int) -> np.ndarray:
    return stats.trim_mean(sample, 0.25, axis=axis)


def summarise_curves(curves: pd.DataFrame, stat: str = "mean") -> dict[str, pd.DataFrame]:
    """Per method: a DataFrame indexed by grid point with columns centre, low, high, n."""
    out = {}
    grid = curves.columns.to_numpy(dtype=float)
    for method, block in curves.groupby(level="method", sort=True):
        centre, low, high = summarise(block.to_numpy(dtype=float), stat)
        out[str(method)] = pd.DataFrame(
            {"centre": centre, "low": low, "high": high, "n": len(block)},
            index=pd.Index(grid, name=curves.columns.name),
        )
    return out


def ranks_by_block(curves: pd.DataFrame) -> pd.DataFrame:
    """Rank methods within each seed at each grid point (1 = best; ties get average ranks).

    Rows (method, seed) as in ``curves``; a NaN value (no report yet) ranks worse than any value.
    Seeds that not every method has are dropped.
    """
    wide = curves.copy()
    methods = wide.index.get_level_values("method").unique()
    seeds = wide.index.get_level_values("seed")
    counts = pd.Series(seeds).value_counts()
    shared = counts[counts == len(methods)].index
    wide = wide[seeds.isin(shared)]
    filled = wide.fillna(np.inf)
    return filled.groupby(level="seed").rank(method="average")


def rank_over_time(
    results: Results,
    refs: dict[str, Reference],
    fractions: np.ndarray,
) -> pd.DataFrame:
    """Average rank of each method at each fraction of the horizon, over benchmarks and seeds.

    Each (benchmark, seed) with runs of every method is one block; within it, methods are ranked
    by their incumbent at ``fraction * horizon`` (see :func:`ranks_by_block`). Returns rows =
    method, columns = fractions, plus the number of blocks in ``.attrs['blocks']``.
    """
    methods = sorted(results.runs["method"].unique())
    blocks = []
    for benchmark in sorted(refs):
        bench_methods = set(results.runs.loc[results.runs["benchmark"] == benchmark, "method"])
        if bench_methods != set(methods):
            continue  # a benchmark that not every method ran cannot be ranked fairly
        grid = np.asarray(fractions, dtype=float) * refs[benchmark].horizon
        ranks = ranks_by_block(incumbent_grid(results, benchmark, grid))
        ranks.columns = pd.Index(fractions, name="fraction")
        blocks.append(ranks)
    if not blocks:
        out = pd.DataFrame(np.nan, index=pd.Index(methods, name="method"), columns=fractions)
        out.attrs["blocks"] = 0
        return out
    stacked = pd.concat(blocks)
    out = stacked.groupby(level="method").mean().reindex(methods)
    out.attrs["blocks"] = len(stacked) // len(methods)
    return out
