"""Significance tests over seeds: paired Wilcoxon, Holm's correction, Friedman with Nemenyi.

The statistics come from libraries (scipy, autorank, scikit-posthocs); only Holm's step-down
adjustment, which scipy lacks, is written here (a few lines, checked against statsmodels in the
tests where statsmodels is installed).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    The i-th smallest of m p-values is multiplied by (m - i + 1), made monotone with a running
    maximum, and capped at 1. NaN p-values are passed through and do not count in m.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def wilcoxon_greater(x: np.ndarray, y: np.ndarray) -> float:
    """One-sided paired Wilcoxon signed-rank p-value for "x tends to be greater than y".

    All-zero differences (identical results) give p = 1. With n pairs the smallest possible
    p-value is 1 / 2**n, so fewer than 5 seeds can never reach p < 0.05.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if d.shape[0] == 0:
        return float("nan")
    if np.all(d == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about ties and small samples
        return float(stats.wilcoxon(d, alternative="greater", zero_method="zsplit").pvalue)


def min_wilcoxon_p(n: int) -> float:
    """The smallest one-sided p-value an exact Wilcoxon test of ``n`` pairs can give."""
    return 0.5**n if n > 0 else 1.0


@dataclass
class RankTest:
    """Friedman test with Nemenyi post-hoc over blocks (rows) and methods (columns)."""

    mean_ranks: pd.Series  # 1 = best, ascending
    pvalue: float  # of the omnibus test (Friedman; Wilcoxon for two methods)
    omnibus: str
    critical_difference: float | None
    pairwise: pd.DataFrame  # p-values of the pairwise post-hoc test (symmetric)
    n_blocks: int
    alpha: float


def friedman_nemenyi(table: pd.DataFrame, alpha: float = 0.05) -> RankTest:
    """Friedman + Nemenyi on ``table`` (rows = blocks such as benchmark x seed, columns = methods;
    lower values are better), through autorank (``force_mode='nonparametric'``) for the omnibus
    test, mean ranks and critical difference, and scikit-posthocs for the pairwise Nemenyi
    p-values that the diagram's crossbars need. With two methods autorank runs a (one-sided,
    better vs worse) Wilcoxon signed-rank test instead (Friedman needs three), whose p-value then
    also joins or separates the pair. autorank needs at least 5 blocks.
    """
    import autorank
    import scikit_posthocs as sp

    table = table.dropna()
    if table.shape[1] < 2:
        raise ValueError("a rank test needs at least two methods")
    if table.shape[0] < 5:  # autorank's minimum
        raise ValueError(
            f"a rank test needs at least 5 blocks (benchmark × seed pairs); got {table.shape[0]}"
        )
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # autorank prints and warns even when not verbose
        result = autorank.autorank(
            table, alpha=alpha, order="ascending", force_mode="nonparametric"
        )
    ranks = result.rankdf["meanrank"].astype(float).sort_values()
    if table.shape[1] == 2:
        p = float(result.pvalue)
        pairwise = pd.DataFrame(
            [[1.0, p], [p, 1.0]], index=table.columns, columns=table.columns
        )
    else:
        pairwise = sp.posthoc_nemenyi_friedman(table.to_numpy())
        pairwise.index = pairwise.columns = table.columns
    cd = getattr(result, "cd", None)
    return RankTest(
        mean_ranks=ranks,
        pvalue=float(result.pvalue),
        omnibus=str(result.omnibus),
        critical_difference=float(cd) if cd is not None else None,
        pairwise=pairwise.astype(float),
        n_blocks=int(table.shape[0]),
        alpha=alpha,
    )
