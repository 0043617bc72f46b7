"""What one ``python -m benchmarks`` command did: every run's outcome, and the summary after it.

Each run (a Hydra job, in this process or in a launcher's worker process) appends one JSON line
with its outcome to the file named by ``$TUNEBENCH_SWEEP_LOG``, which ``python -m benchmarks``
creates for the command and removes after it. Outcomes: ``new`` (ran), ``redone`` (a damaged
complete run, run again), ``skipped`` (already complete), ``busy`` (another process is running
it), ``refused`` (bad input or a stored run with other settings: one ``error:`` line) and
``failed`` (an internal error, whose traceback is printed). After the command
:func:`report` prints the refusals once each (on stderr), a compact table per benchmark
(method label x mean ± standard error of the best value at the end) and the next command.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV = "TUNEBENCH_SWEEP_LOG"
RAN = ("new", "redone")
COUNTED = ("new", "redone", "skipped", "busy", "refused", "failed")


def record(outcome: dict[str, Any]) -> bool:
    """Append ``outcome`` to the command's log; False when no command log is open."""
    path = os.environ.get(ENV)
    if not path:
        return False
    line = (json.dumps(outcome, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write of a short line: appends from processes do not mix
    finally:
        os.close(fd)
    return True


class SweepLog:
    """The command's outcome log (a temporary file named in ``$TUNEBENCH_SWEEP_LOG``)."""

    def __enter__(self) -> SweepLog:
        fd, name = tempfile.mkstemp(prefix="tunebench-sweep-", suffix=".jsonl")
        os.close(fd)
        self.path = Path(name)
        self._saved = os.environ.get(ENV)
        os.environ[ENV] = name
        return self

    def read(self) -> list[dict[str, Any]]:
        outcomes = []
        for line in self.path.read_text().splitlines():
            try:
                outcomes.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return outcomes

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
        if self._saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._saved


def report(outcomes: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The lines to print after a command: (stdout lines, stderr lines)."""
    errors: dict[str, int] = {}
    for o in outcomes:
        if o.get("outcome") == "refused":
            errors[o["error"]] = errors.get(o["error"], 0) + 1
    err_lines = [f"error: {m}" + (f" ({n} runs)" if n > 1 else "") for m, n in errors.items()]
    done = [o for o in outcomes if o.get("outcome") in ("new", "redone", "skipped", "busy")]
    if not done:
        return [], err_lines
    counts = {k: sum(o.get("outcome") == k for o in outcomes) for k in COUNTED}
    parts = [f"{counts['new'] + counts['redone']} new"]
    if counts["redone"]:
        parts[-1] += f" ({counts['redone']} redone: damaged)"
    parts.append(f"{counts['skipped']} skipped (already complete)")
    if counts["busy"]:
        parts.append(f"{counts['busy']} left to another process running them")
    parts.append(f"{counts['refused'] + counts['failed']} failed")
    out = [f"{len(outcomes)} run{'s' if len(outcomes) != 1 else ''}: {', '.join(parts)}"]
    out += _table(done)
    dirs = sorted({str(o["results_dir"]) for o in done if o.get("results_dir")})
    if dirs:
        out.append(f"next: python -m analysis.figures {' '.join(shlex.quote(d) for d in dirs)} "
                   "--out figures")
    return out, err_lines


def _table(outcomes: Iterable[dict[str, Any]]) -> list[str]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for o in outcomes:
        key = (str(o.get("benchmark")), str(o.get("method")))
        group = groups.setdefault(key, {"metric": o.get("metric"), "values": [], "runs": 0})
        group["runs"] += 1
        best = o.get("best")
        if isinstance(best, int | float) and math.isfinite(best):
            group["values"].append(float(best))
    lines = []
    width = max(len(m) for _, m in groups) + 2
    for benchmark in sorted({b for b, _ in groups}):
        metric = next(g["metric"] for (b, _), g in groups.items() if b == benchmark)
        lines.append(f"{benchmark}: best {metric} at the end (mean ± standard error over seeds)")
        for (b, method), group in sorted(groups.items()):
            if b != benchmark:
                continue
            lines.append(f"  {method:<{width}}{_mean_se(group['values'])}  "
                         f"({len(group['values'])} of {group['runs']} runs)")
    return lines


def _mean_se(values: list[float]) -> str:
    if not values:
        return "—"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.4f}"
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return f"{mean:.4f} ± {math.sqrt(var / len(values)):.4f}"
