"""How real the surrogate's noisy learning curves look: three statistics, data against surrogate.

Part of the validation report (:func:`surrogates.validate.cross_validate`, section ``noise``).
Every configuration of the table gets ``draws x (its number of seeds)`` noisy curves from the
surrogate of the fold that held it out (so the pooled surrogate curves weigh configurations as
the table's curves do), and on the objective metric:

- **rise share**: the share of epoch steps (``y[e+1] - y[e]`` over every curve) where the value
  rises; ties (no change, frequent on a rounded metric) are reported apart;
- **step size**: quantiles (25, 50, 75, 90%), the mean, and the tail means (the mean of the
  largest 50, 25, 10%) of ``|y[e+1] - y[e]|`` over the same steps;
- **seed spread**: the pooled seed-to-seed standard deviation at every epoch over the
  configurations with several seeds (within-configuration variance, n - 1 degrees of freedom),
  data against the surrogate's draws of the same (held-out) configurations;
- **lower tail**: how far below its configuration's seed mean a value goes, the quantiles
  (1%, 0.5%, 0.1%) of the seed residuals ``y - mean over the configuration's seeds`` pooled over
  the configurations with several seeds; the surrogate's draws of a configuration are split into
  groups of as many curves as the data has seeds, so both go through the same estimator. Lucky
  draws make the incumbents of a noisy run, so this tail decides how far observed incumbents fall
  below true values.

Each comes with its relative difference to the data and the goal, ``GOAL`` (within 10%): for the
step size the largest relative difference of the mean and the three tail means (quantiles of a
rounded metric move in whole grid steps, 0.002 = 14% of a 0.014 quantile, so they are listed but
not judged); for the seed spread that of the root mean square over epochs (per-epoch ratios are
listed too; with 20-40 configurations an epoch's data figure alone has a sampling error of about
8-12%); for the lower tail that of the 1% quantile (the 0.1% quantile of 1,200-2,400 residuals
rests on a few values: listed, not judged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from surrogates.table import Table

GOAL = 0.10
QUANTILES = (0.25, 0.5, 0.75, 0.9)
TAILS = (0.5, 0.25, 0.1)  # tail means: the mean of the largest 50%, 25%, 10% of steps
LOWER_TAIL = (0.01, 0.005, 0.001)  # quantiles of the seed residuals; the first is judged
PDF_METADATA = {"CreationDate": None}  # no date in the PDFs: a refit that changes nothing
                                       # leaves the surrogate's folder byte-identical
DRAWS = 5


def draws_per_config(table: Table, draws: int = DRAWS) -> dict[int, int]:
    """How many noisy curves each configuration gets: ``draws`` per recorded seed."""
    seeds = table.frame.groupby("config_id")["seed"].nunique()
    return {int(cid): draws * int(n) for cid, n in seeds.items()}


def _steps(curves: np.ndarray) -> np.ndarray:
    return np.diff(curves, axis=1)


def _rel(value: float, reference: float) -> float | None:
    return float(value / reference - 1.0) if reference else None


def _pooled_sd(groups: list[np.ndarray]) -> np.ndarray:
    """Pooled within-group standard deviation per epoch of curves grouped by configuration."""
    squares = sum(((g - g.mean(axis=0)) ** 2).sum(axis=0) for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    return np.sqrt(squares / dof)


def noise_report(table: Table, surrogate: dict[int, np.ndarray]) -> dict[str, Any]:
    """The three statistics (see the module docstring).

    ``surrogate``: per config_id, its noisy curves of the metric, shape (draws, epochs).
    """
    frame = table.frame.sort_values(["config_id", "seed", "epoch"])
    e = table.max_epochs
    data = frame[table.metric].to_numpy(dtype=float).reshape(-1, e)
    owners = frame["config_id"].to_numpy()[::e]
    ok = np.isfinite(data).all(axis=1)
    data, owners = data[ok], owners[ok]
    ids = [cid for cid in np.unique(owners) if int(cid) in surrogate]
    sim = np.concatenate([surrogate[int(cid)] for cid in ids])
    d_steps, s_steps = _steps(data), _steps(sim)
    d_abs, s_abs = np.abs(d_steps).ravel(), np.abs(s_steps).ravel()
    rise = {"data": float((d_steps > 0).mean()), "surrogate": float((s_steps > 0).mean())}
    rise["relative_difference"] = _rel(rise["surrogate"], rise["data"])
    ties = {"data": float((d_steps == 0).mean()), "surrogate": float((s_steps == 0).mean())}
    dq = np.quantile(d_abs, QUANTILES)
    sq = np.quantile(s_abs, QUANTILES)
    step = {
        "quantiles": list(QUANTILES),
        "data": [float(v) for v in dq],
        "surrogate": [float(v) for v in sq],
        "mean_data": float(d_abs.mean()),
        "mean_surrogate": float(s_abs.mean()),
    }
    step["tail_shares"] = list(TAILS)
    step["tail_means_data"] = [_tail_mean(d_abs, t) for t in TAILS]
    step["tail_means_surrogate"] = [_tail_mean(s_abs, t) for t in TAILS]
    tails = zip(step["tail_means_surrogate"], step["tail_means_data"], strict=True)
    judged = [(step["mean_surrogate"], step["mean_data"]), *tails]
    diffs = [_rel(s, d) for s, d in judged]
    known = [x for x in diffs if x is not None]
    step["relative_difference"] = max(known, key=abs) if known else None  # signed
    out: dict[str, Any] = {
        "draws_per_recorded_seed": round(len(sim) / max(len(data), 1)),
        "goal_relative_difference": GOAL,
        "rise_share": {**rise, "per_step_data": _per_step(d_steps),
                       "per_step_surrogate": _per_step(s_steps)},
        "tie_share": ties,
        "step_size": step,
    }
    multi = [cid for cid in ids if (owners == cid).sum() >= 2]
    if multi:
        data_sd = _pooled_sd([data[owners == cid] for cid in multi])
        sim_sd = _pooled_sd([surrogate[int(cid)] for cid in multi])
        rms_d = float(np.sqrt(np.mean(data_sd**2)))
        rms_s = float(np.sqrt(np.mean(sim_sd**2)))
        ratio = sim_sd / data_sd
        out["seed_spread"] = {
            "configs": len(multi),
            "data": [float(v) for v in data_sd],
            "surrogate": [float(v) for v in sim_sd],
            "ratio_per_epoch": [float(v) for v in ratio],
            "rms_data": rms_d,
            "rms_surrogate": rms_s,
            "relative_difference": _rel(rms_s, rms_d),
            "max_epoch_relative_difference": float(np.max(np.abs(ratio - 1.0))),
        }
        groups = {int(cid): data[owners == cid] for cid in multi}
        out["lower_tail"] = lower_tail(groups, {cid: surrogate[cid] for cid in groups})
    out["met"] = {
        "rise_share": _within(rise["relative_difference"]),
        "step_size": _within(step["relative_difference"]),
        "seed_spread": _within(out.get("seed_spread", {}).get("relative_difference")),
        "lower_tail": _within(out.get("lower_tail", {}).get("relative_difference")),
    }
    return out


def seed_residuals(curves: np.ndarray, seeds: int) -> np.ndarray:
    """``curves`` (draws, epochs) split into consecutive groups of ``seeds`` curves (a last,
    incomplete group is dropped); each curve minus its group's mean curve, flattened."""
    usable = len(curves) // seeds * seeds
    grouped = curves[:usable].reshape(-1, seeds, curves.shape[1])
    return (grouped - grouped.mean(axis=1, keepdims=True)).ravel()


def lower_tail(data: dict[int, np.ndarray], surrogate: dict[int, np.ndarray]) -> dict[str, Any]:
    """The lower quantiles of seed residuals (module docstring), data against surrogate.

    ``data``: per configuration with several seeds, its recorded curves (seeds, epochs);
    ``surrogate``: the surrogate's noisy curves of the same configurations (draws, epochs).
    """
    d = np.concatenate([seed_residuals(c, len(c)) for c in data.values()])
    s = np.concatenate([seed_residuals(surrogate[cid], len(c)) for cid, c in data.items()])
    dq, sq = np.quantile(d, LOWER_TAIL), np.quantile(s, LOWER_TAIL)
    return {
        "configs": len(data), "residuals_data": int(d.size), "residuals_surrogate": int(s.size),
        "quantiles": list(LOWER_TAIL),
        "data": [float(v) for v in dq], "surrogate": [float(v) for v in sq],
        "relative_difference": _rel(float(sq[0]), float(dq[0])),
    }


def _tail_mean(values: np.ndarray, share: float) -> float:
    """The mean of the largest ``share`` of ``values``."""
    top = np.sort(values)[::-1][: max(1, int(np.ceil(share * len(values))))]
    return float(top.mean())


def _per_step(steps: np.ndarray) -> list[float]:
    return [float(v) for v in (steps > 0).mean(axis=0)]


def _within(diff: float | None) -> bool:
    return diff is not None and abs(diff) <= GOAL


def summary_lines(noise: dict[str, Any]) -> list[str]:
    """Human-readable lines for :func:`surrogates.validate.print_summary`."""
    rise, ties, step = noise["rise_share"], noise["tie_share"], noise["step_size"]
    lines = [
        f"  noise: rise share data {rise['data']:.3f} vs surrogate {rise['surrogate']:.3f} "
        f"({_pct(rise['relative_difference'])}); ties {ties['data']:.3f} vs "
        f"{ties['surrogate']:.3f}",
        "  noise: |step| quantiles "
        + ", ".join(f"{q:.0%} {d:.4f}/{s:.4f}" for q, d, s in
                    zip(step["quantiles"], step["data"], step["surrogate"], strict=True))
        + f", mean {step['mean_data']:.4f}/{step['mean_surrogate']:.4f}, tail means "
        + ", ".join(f"top {t:.0%} {d:.4f}/{s:.4f}" for t, d, s in
                    zip(step["tail_shares"], step["tail_means_data"],
                        step["tail_means_surrogate"], strict=True))
        + f" (data/surrogate; largest difference of mean and tail means "
        f"{_pct(step['relative_difference'])})",
    ]
    spread = noise.get("seed_spread")
    if spread:
        lines.append(
            f"  noise: seed spread (rms over epochs, {spread['configs']} configs) data "
            f"{spread['rms_data']:.4f} vs surrogate {spread['rms_surrogate']:.4f} "
            f"({_pct(spread['relative_difference'])}; worst epoch "
            f"{spread['max_epoch_relative_difference']:.0%})"
        )
    tail = noise.get("lower_tail")
    if tail:
        lines.append(
            "  noise: seed-residual lower tail (data/surrogate) "
            + ", ".join(f"{q:.1%} {d:+.4f}/{s:+.4f}" for q, d, s in
                        zip(tail["quantiles"], tail["data"], tail["surrogate"], strict=True))
            + f" ({_pct(tail['relative_difference'])} at {tail['quantiles'][0]:.0%})"
        )
    return lines


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


def figure(noise: dict[str, Any], metric: str, out: Path) -> list[Path]:
    """``noise.png``/``.pdf``: rise share per epoch step, |step| quantiles, seed spread, the
    lower tail of the seed residuals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data_c, sur_c = "#0072B2", "#D55E00"
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), constrained_layout=True)
    rise = noise["rise_share"]
    steps = np.arange(2, len(rise["per_step_data"]) + 2)
    ax = axes[0]
    ax.plot(steps, rise["per_step_data"], color=data_c, marker="o", ms=3,
            label=f"data ({rise['data']:.3f})")
    ax.plot(steps, rise["per_step_surrogate"], color=sur_c, marker="s", ms=3,
            label=f"surrogate ({rise['surrogate']:.3f})")
    ax.set_xlabel("epoch e (step from e - 1)")
    ax.set_ylabel("share of curves rising")
    ax.set_title("rise share per epoch step", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    step = noise["step_size"]
    ax = axes[1]
    qs = ([f"q{q * 100:.0f}" for q in step["quantiles"]] + ["mean"]
          + [f"top\n{t:.0%}" for t in step["tail_shares"]])
    x = np.arange(len(qs))
    ax.bar(x - 0.2, [*step["data"], step["mean_data"], *step["tail_means_data"]], 0.4,
           color=data_c, label="data")
    ax.bar(x + 0.2, [*step["surrogate"], step["mean_surrogate"],
                     *step["tail_means_surrogate"]], 0.4, color=sur_c, label="surrogate")
    ax.set_xticks(x, qs, fontsize=7)
    ax.set_ylabel(f"|{metric}[e] - {metric}[e - 1]|")
    ax.set_title("step size: quantiles, mean, tail means", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax = axes[2]
    spread = noise.get("seed_spread")
    if spread:
        epochs = np.arange(1, len(spread["data"]) + 1)
        band = np.asarray(spread["data"])
        ax.fill_between(epochs, band * (1 - GOAL), band * (1 + GOAL), color=data_c, alpha=0.15,
                        lw=0, label="data ± 10%")
        ax.plot(epochs, spread["data"], color=data_c, marker="o", ms=3, label="data")
        ax.plot(epochs, spread["surrogate"], color=sur_c, marker="s", ms=3, label="surrogate")
        ax.set_title(f"seed-to-seed sd ({spread['configs']} configs with seeds)", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"sd of {metric}")
    tail = noise.get("lower_tail")
    if tail:
        ax = axes[3]
        x = np.arange(len(tail["quantiles"]))
        ax.bar(x - 0.2, tail["data"], 0.4, color=data_c, label="data")
        ax.bar(x + 0.2, tail["surrogate"], 0.4, color=sur_c, label="surrogate")
        ax.set_xticks(x, [f"{q:.1%}" for q in tail["quantiles"]], fontsize=7)
        ax.set_xlabel("quantile")
        ax.set_ylabel(f"{metric} - its configuration's seed mean")
        ax.set_title(f"lower tail of seed residuals ({tail['configs']} configs)", fontsize=9)
        ax.legend(fontsize=8, frameon=False)
    else:
        axes[3].set_axis_off()
    paths = [out / "noise.png", out / "noise.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata=PDF_METADATA)
    plt.close(fig)
    return paths
