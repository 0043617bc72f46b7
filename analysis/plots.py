"""The paper figures, each drawn from tidy data onto one column-width axes.

Every function returns the figure; :func:`analysis.style.save` writes it. Time axes are log
scale where the text says so; curves are NaN (not drawn) before every seed of a method has
reported (see :mod:`analysis.trajectories`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from analysis.aggregate import STAT_LABELS
from analysis.stats import RankTest
from analysis.style import MethodStyle, new_figure

REGRET_FLOOR = 1e-4  # regret below this (or 0: the best known value) is drawn at this floor


def anytime(
    summaries: dict[str, pd.DataFrame],
    style: MethodStyle,
    title: str,
    ylabel: str,
    xlabel: str,
    stat: str,
    best_known: float | None = None,
    log_y: bool = False,
    log_x: bool = True,
):
    """Aggregated incumbent curves (centre line, shaded band) against (log) time."""
    fig, ax = new_figure()
    lowest, highest = np.inf, -np.inf
    clipped = False
    for method in style.methods:
        if method not in summaries:
            continue
        s = summaries[method]
        x = s.index.to_numpy(dtype=float)
        centre, low, high = (s[c].to_numpy(dtype=float) for c in ("centre", "low", "high"))
        if log_y:
            clipped |= bool(np.any(centre[np.isfinite(centre)] < REGRET_FLOOR))
            centre, low, high = (np.maximum(v, REGRET_FLOOR) for v in (centre, low, high))
        ax.plot(x, centre, **style.line(method), drawstyle="steps-post")
        ax.fill_between(x, low, high, color=style.color(method), alpha=0.2, lw=0, step="post")
        finite = centre[np.isfinite(centre)]
        if len(finite):
            lowest, highest = min(lowest, finite.min()), max(highest, finite.max())
    if best_known is not None and np.isfinite(best_known) and not log_y:
        ax.axhline(best_known, color="0.4", lw=0.6, ls=":", label="best known")
        lowest = min(lowest, best_known)
    if log_x:
        ax.set_xscale("log")
        _log_ticks(ax)
    if log_y:
        ax.set_yscale("log")
        if np.isfinite(lowest):  # bands reaching regret 0 run off the bottom, not to the floor
            ax.set_ylim(bottom=max(REGRET_FLOOR, lowest / 3))
        low_y, high_y = ax.get_ylim()
        if high_y < 100 * low_y:  # under two decades: few or no powers of ten to label
            _log_labels(ax.yaxis)
    elif np.isfinite(lowest) and highest > lowest:
        pad = 0.04 * (highest - lowest)
        ax.set_ylim(lowest - pad, highest + pad)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n({STAT_LABELS[stat]})")
    ax.grid(True, which="major")
    if clipped:
        ax.text(0.98, 0.97, f"regret ≤ {REGRET_FLOOR:g} drawn at {REGRET_FLOOR:g}",
                transform=ax.transAxes, ha="right", va="top", fontsize=6, color="0.3")
    _legend_below(ax)
    return fig


def ranks(
    mean_ranks: pd.DataFrame, style: MethodStyle, n_blocks: int, n_benchmarks: int
):
    """Average rank (1 = best) against the fraction of the time budget (log axis)."""
    fig, ax = new_figure()
    x = mean_ranks.columns.to_numpy(dtype=float)
    for method in style.methods:
        if method in mean_ranks.index:
            ax.plot(x, mean_ranks.loc[method].to_numpy(dtype=float), **style.line(method))
    ax.set_xscale("log")
    _log_ticks(ax)
    n = len(style.methods)
    ax.set_ylim(0.9, n + 0.1)
    ax.set_yticks(np.arange(1, n + 1))
    ax.invert_yaxis()
    ax.set_xlabel("fraction of the time budget")
    ax.set_ylabel("average rank (1 = best)")
    plural = "s" if n_benchmarks != 1 else ""
    ax.set_title(f"Average rank over time\n({n_blocks} seed × benchmark pairs, "
                 f"{n_benchmarks} benchmark{plural})")
    ax.grid(True, which="major")
    _legend_below(ax)
    return fig


def cd_diagram(test: RankTest, style: MethodStyle, what: str):
    """Critical-difference diagram (scikit-posthocs) of a Friedman/Nemenyi :class:`RankTest`:
    average ranks on an axis from 1 to the number of methods, bars joining methods that are not
    significantly different, and the critical difference (CD) where there is one."""
    import scikit_posthocs as sp

    n = len(test.mean_ranks)
    fig, ax = new_figure(height=0.7 + 0.2 * n)
    # the labels sit left and right of the axes: leave them room within the column width
    longest = max(len(str(m)) for m in test.mean_ranks.index) + 6
    margin = min(0.36, (0.048 * longest + 0.05) / fig.get_figwidth())
    fig.subplots_adjust(left=margin, right=1 - margin)
    sp.critical_difference_diagram(
        test.mean_ranks,
        test.pairwise,
        alpha=test.alpha,
        ax=ax,
        color_palette={m: style.color(m) for m in test.mean_ranks.index},
        label_props={"fontsize": 6.5},
        crossbar_props={"color": "black", "linewidth": 1.5},
        text_h_margin=0.03 * max(n - 1, 1),
    )
    ax.set_xlim(1, max(n, 2))
    bottom, top = ax.get_ylim()
    if test.critical_difference:  # a bar as long as the CD, under the labels, from rank 1
        cd_len, y = test.critical_difference, bottom - 0.7
        ax.plot([1, 1 + cd_len], [y, y], color="black", lw=1.2)
        ax.plot([1, 1], [y - 0.15, y + 0.15], [1 + cd_len] * 2, [y - 0.15, y + 0.15],
                color="black", lw=1.2)  # fmt: skip
        ax.text(1 + cd_len / 2, y - 0.25, f"critical difference (CD) = {cd_len:.2f}",
                ha="center", va="top", fontsize=6.5)  # fmt: skip
        bottom = y - 0.9
    ax.set_ylim(bottom, max(top, 0.3))
    for artist in [*ax.lines, *ax.collections, *ax.texts]:
        artist.set_clip_on(False)  # a marker at rank 1 or n sits on the axes' edge
    ax.xaxis.set_major_locator(MaxNLocator(nbins=min(n, 6), integer=True))
    cd = f", CD = {test.critical_difference:.2f}" if test.critical_difference else ""
    ax.set_title(
        f"Average rank of {what} (1 = best)\n{test.n_blocks} seed × benchmark pairs; "
        f"{test.omnibus.capitalize()} p = {test.pvalue:.2g}{cd}",
        fontsize=7, pad=10,
    )  # fmt: skip
    return fig


MAX_CURVES = 60  # learning curves drawn at most; the rest are thinned out


def learning_curves(
    reports: pd.DataFrame, metric: str, title: str, xlabel: str, colors: dict[str, str],
    ylabel: str | None = None, max_curves: int = MAX_CURVES,
):  # fmt: skip
    """The learning curves of one run's trials against time; stopped trials end early (×).

    ``reports`` holds one run's reports; a trial's last decision names its outcome. The black
    step line is the run's incumbent (from every trial). With more than ``max_curves`` trials,
    the trials that set the incumbent and a fixed sample of the others are drawn, and the title
    says how many.
    """
    fig, ax = new_figure(height=2.6)
    reports = reports.sort_values(["trial_id", "epoch"], kind="stable")
    shown = _thin(reports, metric, max_curves)
    if len(shown) < reports["trial_id"].nunique():
        title += f" ({len(shown)} drawn)"
    seen = set()
    for _, trial in reports[reports["trial_id"].isin(shown)].groupby("trial_id", sort=True):
        outcome = _outcome(trial["decision"].iloc[-1])
        x, y = trial["time"].to_numpy(dtype=float), trial[metric].to_numpy(dtype=float)
        label = outcome if outcome not in seen else None
        seen.add(outcome)
        ax.plot(x, y, color=colors[outcome], lw=0.5, alpha=0.6, label=label)
        if outcome == "stopped":
            ax.plot(x[-1:], y[-1:], "x", color=colors[outcome], ms=2.5, mew=0.6)
    order = reports.sort_values("time", kind="stable")
    values = order[metric].to_numpy(dtype=float)
    incumbent = np.fmin.accumulate(np.where(np.isfinite(values), values, np.inf))
    ax.plot(order["time"], incumbent, color="black", lw=1.0, drawstyle="steps-post",
            label="incumbent")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=min(3, len(labels)), handlelength=1.2, columnspacing=1.0)  # fmt: skip
    return fig


def _thin(reports: pd.DataFrame, metric: str, limit: int) -> list[int]:
    """Trial ids to draw: all if at most ``limit``, else those that set the incumbent and a
    fixed (seeded) sample of the rest."""
    trials = sorted(reports["trial_id"].unique())
    if len(trials) <= limit:
        return trials
    order = reports.sort_values("time", kind="stable")
    values = order[metric].to_numpy(dtype=float)
    running = np.fmin.accumulate(np.where(np.isfinite(values), values, np.inf))
    improved = np.r_[True, running[1:] < running[:-1]] & np.isfinite(values)
    keep = set(order["trial_id"].to_numpy()[improved].tolist())
    rest = [t for t in trials if t not in keep]
    extra = max(limit - len(keep), 0)
    rng = np.random.default_rng(0)
    keep |= set(rng.choice(rest, size=min(extra, len(rest)), replace=False).tolist())
    return sorted(keep)


def _outcome(decision: str) -> str:
    """Group a trial's last decision: completed, stopped, paused (never resumed), failed."""
    if decision in ("completed", "stopped", "paused", "failed"):
        return decision
    return "running at the end"


def _legend_below(ax) -> None:
    """The legend under the axes, so it never hides a curve."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=min(3, len(labels)), handlelength=2.0, columnspacing=1.0)


def _log_labels(axis) -> None:
    """Label 1, 2 and 5 times each power of ten on a log axis, so that an axis spanning less
    than a decade still has labelled ticks."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _log_ticks(ax) -> None:
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1))
    ax.xaxis.set_minor_formatter(NullFormatter())
