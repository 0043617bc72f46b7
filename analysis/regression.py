"""Regression tracking: record a baseline of per-seed results, check fresh results against it.

    python -m analysis.regression record RESULTS_DIR --out baseline.json [--score true|observed]
    python -m analysis.regression check RESULTS_DIR --baseline baseline.json [--report report.md]
        [--alpha 0.05] [--tolerance 0.005]

``record`` stores, per benchmark, method and seed: the final incumbent (``final``), its normalised
regret (``regret``) and the area under the normalised-regret curve (``auc``), with the code
revision, the settings that make runs comparable (time/trial/epoch budget, n_workers, backend,
seeds, the benchmark's identity) and the method settings, plus the reference values used to
normalise (so that ``check`` normalises fresh results the same way) and the incumbent score of
every benchmark (``true`` or ``observed``, :func:`analysis.trajectories.choose_scores`; default:
true where the results carry noise-free values). ``check`` scores fresh results as the baseline
did (a baseline without a score was recorded on observed values) and refuses a ``--score`` that
differs from it.

``check`` refuses (exit 2) to compare results whose benchmark, budget, n_workers, backend or seeds
differ from the baseline's, or that lack a recorded (benchmark, method). Otherwise, per
(benchmark, method): identical per-seed values are "unchanged"; else, for ``regret`` and ``auc``
(both normalised, lower is better), a one-sided paired Wilcoxon signed-rank test over seeds, Holm-
corrected over every comparison of the check, plus a practical tolerance on the mean change
decide: "regressed" (significantly worse and worse on average by more than the tolerance),
"improved" (the mirror image) or "changed within noise". Exit status 1 if anything regressed.
A Markdown report says what moved and by how much. Changed method settings are reported, not
refused (a changed default is exactly what a regression check is for).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import Results, ResultsError, load_results, objective_identity
from analysis.stats import holm, min_wilcoxon_p, wilcoxon_greater
from analysis.trajectories import (
    SCORES,
    Reference,
    choose_scores,
    has_true_values,
    references,
    run_metrics,
)

FORMAT = "tunebench-regression-baseline"
VERSION = 1
VALUES = ("final", "regret", "auc")
DECIDING = ("regret", "auc")  # normalised, so one tolerance fits both
EXACT_RTOL = 1e-12
TOLERANCE = 0.005  # mean change in normalised regret / AUC that matters: 0.5% of worst - best
UNCHANGED, NOISE, IMPROVED, REGRESSED = (
    "unchanged", "changed within noise", "improved", "regressed"
)


class Refused(ResultsError):
    """Results that must not be compared with the baseline (exit status 2)."""


# -- what identifies a comparable run ---------------------------------------------------------


def benchmark_identity(run: pd.Series) -> dict[str, Any]:
    """What makes two runs' benchmark the same: run.json's objective without file locations
    (keys such as ``table`` or ``*_path``: the same table may live elsewhere on another machine;
    its checksum, where recorded, stays) and the best known value."""
    objective = {k: _plain(v) for k, v in objective_identity(run["objective"]).items()}
    return {
        "name": run["benchmark"],
        "objective": objective,
        "best_known_value": _plain(run["best_known_value"]),
    }


def run_settings(run: pd.Series) -> dict[str, Any]:
    """The settings that must match for a comparison: budget, n_workers, backend."""
    return {
        "budget": {
            "time": _plain(run["budget_time"]),
            "trials": _plain(run["budget_trials"]),
            "epochs": _plain(run["budget_epochs"]),
        },
        "n_workers": _plain(run["n_workers"]),
        "backend": _plain(run["backend"]),
    }


def _plain(value: Any) -> Any:
    """JSON-comparable: NaN and missing become None, numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def _single(values: list[Any], what: str, where: str) -> Any:
    distinct = []
    for v in values:
        if v not in distinct:
            distinct.append(v)
    if len(distinct) != 1:
        raise Refused(f"{where}: runs differ in {what} ({' vs '.join(map(str, distinct[:3]))}); "
                      "a baseline needs one setting per benchmark and method")
    return distinct[0]


# -- record -----------------------------------------------------------------------------------


def make_baseline(results: Results, source: str = "") -> dict[str, Any]:
    """The baseline of ``results`` (a JSON-ready dict)."""
    refs = references(results)
    metrics = run_metrics(results, refs).set_index(["benchmark", "method", "seed"])
    benchmarks = {}
    for name, runs in results.runs.groupby("benchmark", sort=True):
        identity = _single([benchmark_identity(r) for _, r in runs.iterrows()],
                           "benchmark identity", f"benchmark '{name}'")
        benchmarks[str(name)] = {"identity": identity, "reference": refs[str(name)].to_dict(),
                                 "score": results.score(str(name))}
    groups = []
    for (benchmark, method), runs in results.runs.groupby(["benchmark", "method"], sort=True):
        where = f"{benchmark}/{method}"
        settings = _single([run_settings(r) for _, r in runs.iterrows()], "settings", where)
        method_settings = _single([_plain(r["method_settings"]) for _, r in runs.iterrows()],
                                  "method settings", where)
        seeds = {
            str(seed): {v: float(metrics.loc[(benchmark, method, seed), v]) for v in VALUES}
            for seed in sorted(runs["seed"])
        }
        for seed, values in seeds.items():
            if not all(math.isfinite(x) for x in values.values()):
                horizon = refs[str(benchmark)].horizon
                raise Refused(f"{where} seed {seed}: no value at the horizon ({horizon:g} s): the "
                              "run reported nothing by then; a baseline needs every run's value")
        groups.append(
            {
                "benchmark": benchmark,
                "method": method,
                "git_revision": sorted({str(r) for r in runs["git_revision"]}),
                "settings": settings,
                "method_settings": method_settings,
                "seeds": seeds,
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "benchmarks": benchmarks,
        "groups": groups,
    }


def read_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; a :class:`Refused` error says what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise Refused(f"baseline '{path}' does not exist") from err
    except (OSError, json.JSONDecodeError) as err:
        raise Refused(f"baseline '{path}' is not readable JSON: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Refused(f"'{path}' is not a tunebench regression baseline (no format '{FORMAT}')")
    if data.get("version") != VERSION:
        raise Refused(f"baseline '{path}' has version {data.get('version')}, this reads {VERSION}")
    problem = baseline_problem(data)
    if problem:
        raise Refused(f"baseline '{path}': {problem}; record it again")
    return data


def baseline_problem(data: dict[str, Any]) -> str:
    """What makes a baseline unusable ('' if nothing): a missing key, a value of the wrong
    type, a null or non-finite value, references that cannot normalise, no seeds."""
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, dict) or not benchmarks:
        return "'benchmarks' must be a non-empty mapping"
    for name, bench in benchmarks.items():
        where = f"benchmarks['{name}']"
        if not isinstance(bench, dict) or not isinstance(bench.get("identity"), dict):
            return f"{where} needs an 'identity' mapping"
        ref = bench.get("reference")
        if not isinstance(ref, dict):
            return f"{where} needs a 'reference' mapping"
        for key in ("best", "worst", "horizon"):
            if not _finite(ref.get(key)):
                return f"{where}.reference.{key} must be a finite number (got {ref.get(key)!r})"
        if not ref["worst"] > ref["best"] or not ref["horizon"] > 0:
            return (f"{where}.reference is degenerate (best {ref['best']}, worst {ref['worst']}, "
                    f"horizon {ref['horizon']})")
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        return "'groups' must be a non-empty list"
    for i, group in enumerate(groups):
        where = f"groups[{i}]"
        if not isinstance(group, dict):
            return f"{where} must be a mapping"
        for key, kind in (("benchmark", str), ("method", str), ("settings", dict),
                          ("method_settings", dict), ("seeds", dict), ("git_revision", list)):
            if not isinstance(group.get(key), kind):
                return f"{where}.{key} must be a {kind.__name__} (got {group.get(key)!r})"
        if group["benchmark"] not in benchmarks:
            return f"{where}.benchmark '{group['benchmark']}' is not in 'benchmarks'"
        if not group["seeds"]:
            return f"{where} ({group['benchmark']}/{group['method']}) has no seeds"
        for seed, values in group["seeds"].items():
            if not str(seed).lstrip("-").isdigit() or not isinstance(values, dict):
                return f"{where}.seeds['{seed}'] must map an integer seed to its values"
            for value in VALUES:
                if not _finite(values.get(value)):
                    return (f"{where}.seeds['{seed}'].{value} must be a finite number "
                            f"(got {values.get(value)!r})")
    return ""


def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))  # fmt: skip


# -- check ------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One (benchmark, method, value) compared over seeds."""

    benchmark: str
    method: str
    value: str
    baseline: np.ndarray
    current: np.ndarray
    p_worse: float = math.nan
    p_better: float = math.nan
    p_worse_holm: float = math.nan
    p_better_holm: float = math.nan
    verdict: str = UNCHANGED
    reason: str = ""

    @property
    def delta(self) -> np.ndarray:
        return self.current - self.baseline

    @property
    def identical(self) -> bool:
        return bool(np.allclose(self.current, self.baseline, rtol=EXACT_RTOL, atol=0.0))


@dataclass
class CheckResult:
    """The outcome of a check: comparisons, per-group verdicts, notes."""

    comparisons: list[Comparison]
    verdicts: dict[tuple[str, str], str]
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return REGRESSED in self.verdicts.values()


def check(
    results: Results,
    baseline: dict[str, Any],
    alpha: float = 0.05,
    tolerance: float = TOLERANCE,
    score: str | None = None,
) -> CheckResult:
    """Compare ``results`` with ``baseline``; raise :class:`Refused` on mismatched settings.

    Incumbents are scored as the baseline scored them; ``score``, if given, must be that.
    """
    notes: list[str] = []
    refs = _check_benchmarks(results, baseline)
    _baseline_scores(results, baseline, score)
    extra = sorted(set(results.runs["benchmark"]) - set(refs))
    if extra:
        notes.append(f"benchmark(s) {', '.join(extra)}: not in the baseline, not compared")
        results = _only_benchmarks(results, set(refs))
    metrics = run_metrics(results, refs).set_index(["benchmark", "method", "seed"])
    present = {(b, m): runs for (b, m), runs in results.runs.groupby(["benchmark", "method"])}
    comparisons: list[Comparison] = []
    for group in baseline["groups"]:
        key = (group["benchmark"], group["method"])
        where = f"{key[0]}/{key[1]}"
        if key not in present:
            raise Refused(f"{where} is in the baseline but not in the results; run it "
                          "(same settings and seeds) or record a new baseline")
        runs = present.pop(key)
        settings = _single([run_settings(r) for _, r in runs.iterrows()], "settings", where)
        _compare_settings(where, group["settings"], settings)
        seeds = sorted(int(s) for s in group["seeds"])
        if sorted(runs["seed"]) != seeds:
            raise Refused(f"{where}: seeds {_seeds(sorted(runs['seed']))} differ from the "
                          f"baseline's {_seeds(seeds)}")
        method_settings = _single([_plain(r["method_settings"]) for _, r in runs.iterrows()],
                                  "method settings", where)
        if method_settings != group["method_settings"]:
            notes.append(f"{where}: method settings changed from {group['method_settings']} "
                         f"to {method_settings}")
        for value in VALUES:
            base = np.array([group["seeds"][str(s)][value] for s in seeds], dtype=float)
            now = np.array([metrics.loc[(key[0], key[1], s), value] for s in seeds], dtype=float)
            comparisons.append(Comparison(key[0], key[1], value, base, now))
    for benchmark, method in sorted(present):
        notes.append(f"{benchmark}/{method}: not in the baseline, not compared")
    _decide(comparisons, alpha, tolerance)
    verdicts = _group_verdicts(comparisons)
    n = min((len(c.baseline) for c in comparisons), default=0)
    tests = sum(1 for c in comparisons if c.value in DECIDING and not c.identical)
    if tests and min_wilcoxon_p(n) >= alpha / tests:
        notes.append(f"with {n} seeds the smallest possible p-value is {min_wilcoxon_p(n):.3g}, "
                     f"not below α/{tests} = {alpha / tests:.3g}: no change can be called "
                     "significant; use more seeds")
    return CheckResult(comparisons, verdicts, notes)


def _check_benchmarks(results: Results, baseline: dict[str, Any]) -> dict[str, Reference]:
    refs = {}
    for name, recorded in baseline["benchmarks"].items():
        runs = results.runs[results.runs["benchmark"] == name]
        if runs.empty:
            raise Refused(f"benchmark '{name}' is in the baseline but not in the results")
        identity = _single([benchmark_identity(r) for _, r in runs.iterrows()],
                           "benchmark identity", f"benchmark '{name}'")
        if identity != recorded["identity"]:
            diff = _diff(recorded["identity"], identity)
            raise Refused(f"benchmark '{name}' differs from the baseline's: {diff}")
        refs[name] = Reference(**recorded["reference"])
    return refs


def _baseline_scores(results: Results, baseline: dict[str, Any], score: str | None) -> None:
    """Score ``results`` as the baseline did (a baseline without scores: observed)."""
    scores = {}
    for name, recorded in baseline["benchmarks"].items():
        used = recorded.get("score", "observed")
        if score is not None and score != used:
            raise Refused(f"benchmark '{name}': the baseline scores incumbents by {used} values, "
                          f"not {score}; record a new baseline with --score {score}")
        if used == "true":
            part = results.reports[results.reports["benchmark"] == name]
            metric = results.runs.loc[results.runs["benchmark"] == name, "metric"].iloc[0]
            for (method, seed), reports in part.groupby(["method", "seed"]):
                if not has_true_values(reports, metric):
                    raise Refused(f"{name}/{method} seed {seed}: no noise-free values "
                                  f"(true_{metric}), but the baseline scores by them")
        scores[name] = used
    results.scores = scores


def _only_benchmarks(results: Results, keep: set[str]) -> Results:
    def part(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["benchmark"].isin(keep)]

    return Results(part(results.runs), part(results.reports), part(results.trials),
                   results.skipped, notes=results.notes, scores=dict(results.scores))


def _compare_settings(where: str, recorded: dict, current: dict) -> None:
    if recorded != current:
        raise Refused(f"{where}: settings differ from the baseline's: {_diff(recorded, current)}")


def _diff(old: Any, new: Any, prefix: str = "") -> str:
    """The first differing key of two nested dicts, as 'key: old -> new'."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _diff(old.get(key), new.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.') or 'value'}: baseline {old!r}, now {new!r}"


def _seeds(seeds: list[int]) -> str:
    return "{" + ", ".join(map(str, seeds)) + "}"


def _decide(comparisons: list[Comparison], alpha: float, tolerance: float) -> None:
    tested = [c for c in comparisons if c.value in DECIDING and not c.identical]
    for c in tested:
        c.p_worse = wilcoxon_greater(c.current, c.baseline)
        c.p_better = wilcoxon_greater(c.baseline, c.current)
    worse = holm([c.p_worse for c in tested])
    better = holm([c.p_better for c in tested])
    for c, pw, pb in zip(tested, worse, better, strict=True):
        c.p_worse_holm, c.p_better_holm = float(pw), float(pb)
        mean = float(np.mean(c.delta))
        if pw < alpha and mean > tolerance:
            c.verdict = REGRESSED
            c.reason = f"worse, p = {pw:.3g}, mean {mean:+.4f} beyond ±{tolerance:g}"
        elif pb < alpha and mean < -tolerance:
            c.verdict = IMPROVED
            c.reason = f"better, p = {pb:.3g}, mean {mean:+.4f} beyond ±{tolerance:g}"
        else:
            c.verdict = NOISE
            p = min(pw, pb)
            c.reason = (
                f"significant (p = {p:.3g}) but mean {mean:+.4f} within ±{tolerance:g}"
                if p < alpha
                else f"not significant (p = {p:.3g})"
            )
    for c in comparisons:
        if c.value not in DECIDING and not c.identical:
            c.verdict = NOISE  # 'final' is reported; 'regret' (its normalised twin) decides


def _group_verdicts(comparisons: list[Comparison]) -> dict[tuple[str, str], str]:
    order = [UNCHANGED, NOISE, IMPROVED, REGRESSED]
    verdicts: dict[tuple[str, str], str] = {}
    for c in comparisons:
        key = (c.benchmark, c.method)
        verdicts[key] = max(verdicts.get(key, UNCHANGED), c.verdict, key=order.index)
    return verdicts


# -- the report -------------------------------------------------------------------------------


def report_markdown(
    result: CheckResult, baseline: dict[str, Any], results: Results, alpha: float, tolerance: float
) -> str:
    """What moved and by how much, as Markdown."""
    overall = "REGRESSED" if result.regressed else "no regression"
    current_revs = sorted({str(r) for r in results.runs["git_revision"]})
    base_revs = sorted({r for g in baseline["groups"] for r in g["git_revision"]})
    lines = [
        f"# Regression check: {overall}",
        "",
        f"Baseline revision {', '.join(base_revs)} (recorded {baseline.get('created_at')}); "
        f"current revision {', '.join(current_revs)}.",
        f"Decision: one-sided paired Wilcoxon over seeds (Holm-corrected over all "
        f"{_n_tests(result)} comparisons that differ), α = {alpha:g}, and a mean change beyond "
        f"±{tolerance:g} in normalised regret or AUC (lower is better; Δ = now − baseline; "
        "p-values below are Holm-adjusted).",
        "",
        "| benchmark | method | verdict | final value (baseline → now) | Δ regret | Δ AUC "
        "| seeds worse / better (regret; AUC) | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_key: dict[tuple[str, str], dict[str, Comparison]] = {}
    for c in result.comparisons:
        by_key.setdefault((c.benchmark, c.method), {})[c.value] = c
    for key, values in by_key.items():
        final, regret, auc = values["final"], values["regret"], values["auc"]
        counts = "; ".join(
            f"{int(np.sum(c.delta > 0))} / {int(np.sum(c.delta < 0))}" for c in (regret, auc)
        )
        why = "; ".join(f"{c.value}: {c.reason}" for c in (regret, auc) if c.reason)
        verdict = result.verdicts[key]
        shown = f"**{verdict}**" if verdict == REGRESSED else verdict
        lines.append(
            f"| {key[0]} | {key[1]} | {shown} | "
            f"{np.mean(final.baseline):.5g} → {np.mean(final.current):.5g} | "
            f"{np.mean(regret.delta):+.4f} | {np.mean(auc.delta):+.4f} | {counts} | "
            f"{why or '—'} |"
        )
    if result.notes:
        lines += ["", "Notes:", "", *(f"- {n}" for n in result.notes)]
    return "\n".join(lines) + "\n"


def _n_tests(result: CheckResult) -> int:
    return sum(1 for c in result.comparisons if c.value in DECIDING and not c.identical)


# -- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.regression",
        description="Record per-seed baselines of results, or check results against one.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="write a baseline file for a results folder")
    rec.add_argument("results", type=Path, nargs="+")
    rec.add_argument("--out", type=Path, required=True, help="baseline JSON file to write")
    rec.add_argument("--score", choices=SCORES, default=None,
                     help="score incumbents by noise-free (true) or reported (observed) values; "
                     "default: true where the results carry them")
    chk = sub.add_parser("check", help="compare results with a baseline (exit 1: regression)")
    chk.add_argument("results", type=Path, nargs="+")
    chk.add_argument("--baseline", type=Path, required=True)
    chk.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    chk.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    chk.add_argument("--score", choices=SCORES, default=None,
                     help="must match the baseline's score (default: the baseline's)")
    chk.add_argument("--tolerance", type=float, default=TOLERANCE,
                     help=f"smallest mean change in normalised regret or AUC that counts "
                     f"({TOLERANCE})")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            results = choose_scores(load_results(args.results), args.score)
            baseline = make_baseline(results, ", ".join(map(str, args.results)))
            text = json.dumps(baseline, indent=2, sort_keys=True, allow_nan=False) + "\n"
            _write(args.out, text)
            seeds = sum(len(g["seeds"]) for g in baseline["groups"])
            print(f"recorded {len(baseline['groups'])} benchmark/method group(s), {seeds} runs "
                  f"-> {args.out}")
            return 0
        baseline = read_baseline(args.baseline)
        results = load_results(args.results)
        result = check(results, baseline, args.alpha, args.tolerance, args.score)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = report_markdown(result, baseline, results, args.alpha, args.tolerance)
    if args.report is not None:
        try:
            _write(args.report, text)
        except ResultsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    print(text, end="")
    return 1 if result.regressed else 0


def _write(path: Path, text: str) -> None:
    """Write a file the user named; a folder in the way or an unwritable place is an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as err:
        raise ResultsError(f"cannot write '{path}': {err.strerror or err}") from err


if __name__ == "__main__":
    sys.exit(main())
