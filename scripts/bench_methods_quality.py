"""Quality and cost of the model-based searchers.

Quality: simple regret (best value found - known optimum) after ``--evals`` evaluations on Branin
and Hartmann-6, over ``--seeds`` seeds, one worker, for random, bo, tpe and rea (median and
quartiles, as a Markdown table). Targets (issue 5): BO's median regret at least 10x smaller than
random search's; TPE and REA below random search. ``tests/test_quality.py`` checks the same at a
reduced size in CI. A method may carry settings (values are YAML):
``--methods random,tpe,tpe:gamma=0.25:gamma_cap=null`` compares TPE's default with the old
``ceil(0.25 n)`` rule.

Cost: real seconds of one simulated run with 4 workers of bo (a budget of 200 trials) and of
mobster (the default time budget, 10800 s; both ASHA variants) on a synthetic table of 1000
recorded configurations, 27 epochs (a finite space) and on synthetic curves over the continuous
space; random and asha for comparison (and tpe, rea, bohb, hyperband on the table). A stress
case: curves with epochs 10x shorter, where ASHA starts thousands of trials in the time budget.
Target: bo and mobster under 20 s.

    python scripts/bench_methods_quality.py                 # everything (a few minutes)
    python scripts/bench_methods_quality.py --seeds 5 --no-cost
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.tables

from benchmarks.objective import Objective  # noqa: E402
from benchmarks.simulated import Budget, SimulatedBackend  # noqa: E402
from benchmarks.synthetic import SyntheticCurvesObjective, SyntheticObjective  # noqa: E402
from benchmarks.tabular import TabularObjective  # noqa: E402
from hpo_methods.registry import make_method  # noqa: E402

PROBLEMS = ("branin", "hartmann6")
METHODS = ("random", "bo", "tpe", "rea")


def parse_method(spec: str) -> tuple[str, dict]:
    """``name`` or ``name:key=value:key=value`` (values are YAML) -> (name, settings)."""
    name, *items = spec.split(":")
    settings = {}
    for item in items:
        key, _, value = item.partition("=")
        settings[key.strip()] = yaml.safe_load(value)
    return name.strip(), settings


def regret(
    problem: str, method: str, seed: int, evals: int, workers: int = 1, **settings: object
) -> float:
    """Simple regret of one run of ``evals`` evaluations."""
    objective = SyntheticObjective(problem)
    tuner = make_method(method, objective.problem(), seed, **settings)
    result = SimulatedBackend(tuner, objective, workers, Budget(trials=evals), seed).run()
    return float(result.summary["best_val_error"]) - objective.best_known_value()


def quality_table(seeds: int, evals: int, workers: int, methods: tuple[str, ...]) -> list[str]:
    """Markdown rows of the regret table, then the verdicts against the targets."""
    lines = [
        f"Simple regret after {evals} evaluations, {seeds} seeds, {workers} worker(s)",
        "",
        "| problem | method | median | q25 | q75 | median / random's | seconds per run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for problem in PROBLEMS:
        medians = {}
        for method in methods:
            name, settings = parse_method(method)
            start = time.perf_counter()
            values = [regret(problem, name, s, evals, workers, **settings) for s in range(seeds)]
            per_run = (time.perf_counter() - start) / seeds
            q25, med, q75 = np.percentile(values, [25, 50, 75])
            medians[method] = med
            ratio = med / medians["random"] if "random" in medians else float("nan")
            lines.append(
                f"| {problem} | {method} | {med:.3g} | {q25:.3g} | {q75:.3g} | {ratio:.3g} "
                f"| {per_run:.2f} |"
            )
        if "random" in medians:
            base = medians["random"]
            if "bo" in medians:
                ok = medians["bo"] * 10 <= base
                verdicts.append(f"- {problem}: BO median regret >= 10x below random: {_yes(ok)}")
            for method in ("tpe", "rea"):
                if method in medians:
                    ok = medians[method] < base
                    verdicts.append(f"- {problem}: {method} median below random: {_yes(ok)}")
    return [*lines, "", *verdicts]


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def timed_run(objective: Objective, method: str, budget: Budget) -> tuple[float, dict]:
    """Real seconds of one simulated run with 4 workers (the method's import excluded)."""
    name, settings = parse_method(method)
    make_method(name, objective.problem(), 0, **settings)  # imports, outside the clock
    tuner = make_method(name, objective.problem(), 0, **settings)
    start = time.perf_counter()
    result = SimulatedBackend(tuner, objective, 4, budget, 0).run()
    return time.perf_counter() - start, result.summary


COST_PLAN = {
    "table": "bo trials=200, random trials=200, mobster time=10800, "
    "mobster:variant=promotion time=10800, asha time=10800, asha:variant=promotion time=10800, "
    "tpe trials=200, rea trials=200, bohb time=10800, hyperband time=10800",
    "curves": "bo trials=200, random trials=200, mobster time=10800, "
    "mobster:variant=promotion time=10800, asha time=10800",
    "fast curves": "mobster time=10800, mobster:variant=promotion time=10800, asha time=10800, "
    "bo time=10800, random time=10800",
}
OBJECTIVE_LABELS = {
    "table": "synthetic table (1000 configs, 27 epochs)",
    "curves": "synthetic curves (continuous, 27 epochs)",
    "fast curves": "synthetic curves, epochs 10x shorter (20 epochs)",
}


def cost_table() -> list[str]:
    """Markdown rows of the cost measurements."""
    from tests.tables import synthetic_table

    lines = [
        "Real seconds of one simulated run, 4 workers",
        "",
        "| objective | method | budget | trials | epochs | best val_error | seconds |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        objectives = {
            "table": TabularObjective(synthetic_table(Path(tmp) / "table", 1000, 27)),
            "curves": SyntheticCurvesObjective(27),
            "fast curves": SyntheticCurvesObjective(20, time_scale=0.1),
        }
        for key, runs in COST_PLAN.items():
            for run in runs.split(", "):
                method, budget_label = run.rsplit(" ", 1)
                name, value = budget_label.split("=")
                budget = Budget(**{name: float(value) if name == "time" else int(value)})
                seconds, summary = timed_run(objectives[key], method, budget)
                lines.append(
                    f"| {OBJECTIVE_LABELS[key]} | {method} | {budget_label} | {summary['trials']} "
                    f"| {summary['epochs']} | {summary['best_val_error']:.4f} | {seconds:.2f} |"
                )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per method and problem")
    parser.add_argument("--evals", type=int, default=50, help="evaluations per run")
    parser.add_argument("--workers", type=int, default=1, help="parallel workers in quality runs")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--no-quality", action="store_true", help="skip the regret table")
    parser.add_argument("--no-cost", action="store_true", help="skip the timing runs")
    args = parser.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if not args.no_quality:
        print("\n".join(quality_table(args.seeds, args.evals, args.workers, methods)), flush=True)
        print()
    if not args.no_cost:
        print("\n".join(cost_table()))


if __name__ == "__main__":
    main()
