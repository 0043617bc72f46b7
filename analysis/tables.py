"""Final-performance tables: mean +- standard error over seeds, best in bold, significance marks.

In every column the method with the lowest mean is **bold**. Every other method is compared with
it by a one-sided paired Wilcoxon signed-rank test over the seeds both have ("is this method
worse?"), with Holm's correction over the methods of that column; a method whose adjusted p-value
is at least ``alpha`` is *not significantly worse* than the best and gets a dagger (†). The best
method itself is bold and not marked. Tables come as Markdown and as LaTeX (booktabs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.load import Results
from analysis.stats import holm, wilcoxon_greater
from analysis.trajectories import Reference, incumbent_grid

FRACTIONS = (0.25, 0.5, 1.0)
MARK = "†"
COLUMNS = ["table", "column", "method", "mean", "se", "n", "best", "not_worse", "p_holm"]


def compare_methods(values: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Compare the methods (columns) of ``values`` (rows = seeds; lower is better).

    Returns one row per method: mean, se (standard error, ddof=1), n, best (lowest mean),
    p_holm (Holm-adjusted one-sided Wilcoxon p-value against the best, over shared seeds) and
    not_worse (p_holm >= alpha; True for the best).
    """
    means = values.mean(axis=0, skipna=False)
    counts = values.notna().sum(axis=0)
    se = values.std(axis=0, ddof=1, skipna=False) / np.sqrt(counts.where(counts > 0))
    finite = means.dropna()
    best = str(finite.idxmin()) if len(finite) else None
    pvalues = pd.Series(np.nan, index=values.columns, dtype=float)
    if best is not None:
        for method in values.columns:
            if method == best or math.isnan(means[method]):
                continue
            pair = values[[method, best]].dropna()
            pvalues[method] = wilcoxon_greater(pair[method].to_numpy(), pair[best].to_numpy())
    adjusted = pd.Series(holm(pvalues.to_numpy()), index=values.columns)
    out = pd.DataFrame(
        {
            "method": [str(m) for m in values.columns],
            "mean": means.to_numpy(dtype=float),
            "se": se.to_numpy(dtype=float),
            "n": counts.to_numpy(dtype=int),
            "best": [m == best for m in values.columns],
            "p_holm": adjusted.to_numpy(dtype=float),
        }
    )
    out["not_worse"] = out["best"] | (out["p_holm"] >= alpha)
    return out


def final_performance(
    results: Results,
    refs: dict[str, Reference],
    fractions: Sequence[float] = FRACTIONS,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Incumbent value at each fraction of the horizon, per benchmark (one table each)."""
    parts = []
    for benchmark in sorted(refs):
        grid = np.asarray(fractions, dtype=float) * refs[benchmark].horizon
        curves = incumbent_grid(results, benchmark, grid)
        for j, fraction in enumerate(fractions):
            values = curves.iloc[:, j].unstack("method")
            part = compare_methods(values, alpha)
            label = f"{fraction:.0%} ({fraction * refs[benchmark].horizon:.0f} s)"
            part.insert(0, "column", label)
            part.insert(0, "table", benchmark)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def per_benchmark(
    metrics: pd.DataFrame, column: str, alpha: float = 0.05, name: str | None = None
) -> pd.DataFrame:
    """One table (called ``name``) of ``column`` of :func:`~analysis.trajectories.run_metrics`:
    rows methods, columns benchmarks."""
    parts = []
    for benchmark, block in metrics.groupby("benchmark", sort=True):
        values = block.pivot(index="seed", columns="method", values=column)
        part = compare_methods(values, alpha)
        part.insert(0, "column", str(benchmark))
        part.insert(0, "table", name or column)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _cell(row: pd.Series, digits: int, latex: bool) -> str:
    if math.isnan(row["mean"]):
        return "--" if latex else "—"
    pm = r" $\pm$ " if latex else " ± "
    text = f"{row['mean']:.{digits}f}"
    if not math.isnan(row["se"]):
        text += f"{pm}{row['se']:.{digits}f}"
    if row["best"]:
        return rf"\textbf{{{text}}}" if latex else f"**{text}**"
    if row["not_worse"]:
        return text + (r"$^\dagger$" if latex else f" {MARK}")
    return text


def _grid(table: pd.DataFrame, digits: int, latex: bool) -> pd.DataFrame:
    cells = table.assign(cell=[_cell(r, digits, latex) for _, r in table.iterrows()])
    columns = list(dict.fromkeys(table["column"]))
    grid = cells.pivot(index="method", columns="column", values="cell")
    return grid.reindex(columns=columns).fillna("—" if not latex else "--")


def to_markdown(table: pd.DataFrame, digits: int = 4, title: str = "") -> str:
    """Markdown tables of a :func:`final_performance` / :func:`per_benchmark` frame."""
    lines = []
    for name, block in table.groupby("table", sort=False):
        grid = _grid(block, digits, latex=False)
        n = int(block["n"].max())
        lines.append(f"**{title}{name}** (mean ± standard error over {n} seeds)\n")
        lines.append("| method | " + " | ".join(grid.columns) + " |")
        lines.append("|---" * (len(grid.columns) + 1) + "|")
        for method, row in grid.iterrows():
            lines.append(f"| {method} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def to_latex(table: pd.DataFrame, digits: int = 4, title: str = "") -> str:
    """LaTeX (booktabs) tables of a :func:`final_performance` / :func:`per_benchmark` frame."""
    out = []
    for name, block in table.groupby("table", sort=False):
        grid = _grid(block, digits, latex=True)
        out.append(f"% {title}{name}: mean $\\pm$ standard error; bold: best; "
                   "$^\\dagger$: not significantly worse than the best")
        out.append(r"\begin{tabular}{l" + "r" * len(grid.columns) + "}")
        out.append(r"\toprule")
        header = ["method", *(_tex_escape(c) for c in grid.columns)]
        out.append(" & ".join(header) + r" \\")
        out.append(r"\midrule")
        for method, row in grid.iterrows():
            out.append(" & ".join([_tex_escape(str(method)), *row]) + r" \\")
        out.append(r"\bottomrule")
        out.append(r"\end{tabular}")
        out.append("")
    return "\n".join(out)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX.get(char, char) for char in text)
