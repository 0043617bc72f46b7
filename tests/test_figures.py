"""analysis.figures: every figure and table is written, non-empty, at column width."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from analysis import plots
from analysis.figures import main
from analysis.stats import friedman_nemenyi
from analysis.style import COLUMN_WIDTH, OKABE_ITO, RC, MethodStyle, save
from tests.test_analysis import write_run


def make_results(
    root: Path, methods=("asha", "bo", "random"), benchmarks=("b1", "b2"), seeds: int = 4
) -> Path:
    rng = np.random.default_rng(1)
    for benchmark in benchmarks:
        for i, method in enumerate(methods):
            for seed in range(seeds):
                times = np.sort(rng.uniform(1, 99, 8))
                values = np.minimum.accumulate(rng.uniform(0.2, 0.9, 8)) + 0.02 * i
                write_run(root, benchmark, method, seed, list(zip(times, values, strict=True)))
    write_run(root, benchmarks[0], methods[0], 9, [(1, 0.5)], status="incomplete")
    return root


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_all_figures_and_tables_written(tmp_path, capsys):
    results = make_results(tmp_path / "res")
    out = tmp_path / "figs"
    assert main([str(results), "--out", str(out), "--stat", "iqm"]) == 0
    names = [
        "anytime_b1",
        "anytime_b2",
        "regret_b1",
        "regret_b2",
        "regret_all",
        "rank_over_time",
        "cd_diagram",
        "learning_curves",
    ]
    for name in names:
        pdf, png = out / f"{name}.pdf", out / f"{name}.png"
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 2000, name
        width, height = png_size(png)
        assert 600 < width <= (COLUMN_WIDTH + 0.3) * 300 and height > 150, name
    summary = (out / "summary.md").read_text()
    assert "## Final performance" in summary and "| bo |" in summary
    assert "Friedman test over 8 blocks" in summary
    assert "Skipped 1 incomplete" in summary
    assert "interquartile mean" in summary
    tex = (out / "tables.tex").read_text()
    assert r"\begin{tabular}{lrrr}" in tex and r"\textbf{" in tex
    assert "skipped 1 incomplete" in capsys.readouterr().err


def test_learning_curves_of_a_chosen_run_and_bad_run(tmp_path, capsys):
    results = make_results(tmp_path / "res", methods=("random", "tpe"), benchmarks=("b1",))
    out = tmp_path / "figs"
    run = results / "b1" / "tpe" / "seed=2"
    argv = [
        str(results),
        "--out",
        str(out),
        "--run",
        str(run),
        "--stat",
        "median",
        "--time-axis",
        "linear",
    ]
    assert main(argv) == 0
    assert (out / "learning_curves.png").stat().st_size > 1000
    assert not (out / "regret_all.pdf").exists()  # only one benchmark
    assert not (out / "cd_diagram.pdf").exists()  # 4 seeds x 1 benchmark: too few blocks
    assert "at least 5 blocks (benchmark × seed pairs); got 4" in (out / "summary.md").read_text()
    assert main([str(results), "--out", str(out), "--run", str(tmp_path)]) == 2
    assert "is not one of the loaded runs" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing"), "--out", str(out)]) == 2


def test_two_methods_cd_diagram(tmp_path):
    rng = np.random.default_rng(0)
    blocks = pd.DataFrame({"random": rng.uniform(size=6), "tpe": rng.uniform(size=6)})
    test = friedman_nemenyi(blocks)
    style = MethodStyle(blocks.columns)
    with plt.rc_context(RC):
        paths = save(plots.cd_diagram(test, style, "final regret"), tmp_path, "cd")
    assert [p.name for p in paths] == ["cd.pdf", "cd.png"]
    assert paths[0].stat().st_size > 2000 and png_size(paths[1])[0] > 600


def test_method_colours_fixed_by_sorted_name():
    style = MethodStyle(["random", "asha", "bo", "asha"])
    assert style.methods == ["asha", "bo", "random"]
    assert [style.color(m) for m in style.methods] == list(OKABE_ITO[:3])
    assert style.line("bo")["linestyle"] == "--"
    with pytest.raises(KeyError):
        style.color("unknown")


# -- honest analysis and the newcomer's path (issue 11) -----------------------------------------


def _label(root: Path, benchmark: str, folder: str, method: str, label: str) -> None:
    """Make the runs in ``folder`` runs of ``method`` whose label is ``label``."""
    for run in (root / benchmark / folder).iterdir():
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "method": method,
                                                  "method_label": label}))  # fmt: skip


def test_two_variants_of_a_method_are_two_methods(tmp_path, capsys):
    results = make_results(tmp_path / "res", methods=("asha", "asha-variant=promotion"),
                           benchmarks=("b1",), seeds=5)  # fmt: skip
    _label(results, "b1", "asha-variant=promotion", "asha", "asha-variant=promotion")
    out = tmp_path / "figs"
    assert main([str(results), "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "| asha |" in summary and "| asha-variant=promotion |" in summary


def test_runs_with_other_budgets_or_workers_are_never_pooled(tmp_path, capsys):
    root = tmp_path / "res"
    make_results(root, methods=("asha", "bo"), benchmarks=("b1",))
    for seed in range(4):  # bo also ran with 600 s on 8 workers: other runs, other settings
        write_run(tmp_path / "other", "b1", "bo", seed, [(5, 0.5), (500, 0.2)],
                  budget_time=600.0, n_workers=8)  # fmt: skip
    out = tmp_path / "figs"
    assert main([str(root), str(tmp_path / "other"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert ("note: benchmark 'b1' has runs with different budget.time, n_workers: analysed "
            "apart as 'b1 [budget.time=100, n_workers=1]', 'b1 [budget.time=600, n_workers=8]'"
            ) in captured.err
    assert (out / "anytime_b1-budget.time=100-n_workers=1.png").is_file()
    assert (out / "anytime_b1-budget.time=600-n_workers=8.png").is_file()
    summary = (out / "summary.md").read_text()
    assert "| b1 [budget.time=600, n_workers=8] | 0.1 | " in summary
    assert "| b1 [budget.time=100, n_workers=1] | 0.1 | " in summary


def test_what_was_written_and_why_a_figure_was_not(tmp_path, capsys):
    results = make_results(tmp_path / "res", methods=("random", "tpe"), benchmarks=("b1",))
    out = tmp_path / "figs"
    assert main([str(results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote 10 files to {out}: anytime_b1, learning_curves, "
                              "rank_over_time, regret_b1 (PDF and PNG), summary.md, tables.tex")
    assert "not drawn: No cd_diagram (critical-difference diagram): a rank test needs at least 5 " \
        "blocks" in printed
    assert "not drawn: No regret_all: one benchmark" in printed


def test_runs_without_reports_are_noted_or_refused_in_one_line(tmp_path, capsys):
    root = make_results(tmp_path / "res", methods=("random", "tpe"), benchmarks=("b1",))
    for method in ("random", "tpe"):
        for seed in range(2):
            write_run(root, "empty", method, seed, [])  # no report within the budget
    out = tmp_path / "figs"
    assert main([str(root), "--out", str(out)]) == 0
    assert ("not drawn: No figures or tables for benchmark empty: none of its 4 runs reported "
            "a value within its budget.") in capsys.readouterr().out
    assert main([str(root / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: no run reported any value within its budget: nothing to draw "
                   "(4 runs, every one without reports)"]


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    results = make_results(tmp_path / "res", methods=("random", "tpe"), benchmarks=("b1",))
    (tmp_path / "a_file").write_text("x")
    assert main([str(results), "--out", str(tmp_path / "a_file")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --out '{tmp_path / 'a_file'}' is a file, not a folder"
    ]


def test_cd_diagram_has_a_cd_bar_and_unclipped_markers():
    rng = np.random.default_rng(3)
    blocks = pd.DataFrame({m: rng.uniform(size=12) + i for i, m in enumerate("abcd")})
    test = friedman_nemenyi(blocks)
    with plt.rc_context(RC):
        fig = plots.cd_diagram(test, MethodStyle(blocks.columns), "final regret")
    ax = fig.axes[0]
    assert any(t.get_text() == f"critical difference (CD) = {test.critical_difference:.2f}"
               for t in ax.texts)  # fmt: skip
    assert all(not c.get_clip_on() for c in ax.collections)  # rank 1 and 4 on the edges
    plt.close(fig)


def test_learning_curves_are_thinned_and_the_legend_clears_the_title():
    rng = np.random.default_rng(0)
    rows = [{"trial_id": t, "epoch": e, "time": t * 10.0 + e, "val_error": rng.uniform(0.2, 0.9),
             "decision": "continue" if e < 3 else "completed"}
            for t in range(200) for e in range(1, 4)]  # fmt: skip
    reports = pd.DataFrame(rows)
    colors = {"completed": "C0", "stopped": "C1", "paused": "C2", "failed": "C3",
              "running at the end": "C4"}  # fmt: skip
    with plt.rc_context(RC):
        fig = plots.learning_curves(reports, "val_error", "asha: 200 trials", "time (s)", colors)
    ax = fig.axes[0]
    assert ax.get_title() == f"asha: 200 trials ({plots.MAX_CURVES} drawn)"
    assert len(ax.lines) == plots.MAX_CURVES + 1  # the drawn curves and the incumbent
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 < ax.get_window_extent().y0  # below the axes, far from the title
    plt.close(fig)


def test_a_regret_axis_within_one_decade_is_labelled():
    grid = np.geomspace(1, 100, 20)
    summary = {"a": pd.DataFrame({"centre": np.linspace(0.08, 0.02, 20), "low": 0.015,
                                  "high": 0.09, "n": 3}, index=grid)}  # fmt: skip
    with plt.rc_context(RC):
        fig = plots.anytime(summary, MethodStyle(["a"]), "t", "normalised regret", "time",
                            "mean", log_y=True)  # fmt: skip
    ax = fig.axes[0]
    fig.canvas.draw()
    low, high = ax.get_ylim()
    labelled = [t for t in ax.get_yticklabels() if t.get_text() and low <= t.get_position()[1]
                <= high]  # fmt: skip
    assert len(labelled) >= 2, [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)


def test_the_same_figure_saves_to_byte_identical_files(tmp_path, monkeypatch):
    """No creation date in the PDF: rerunning the analysis (or a surrogate refit that changes
    nothing) a day later leaves the files as they were."""
    written = []
    for folder, day in (("a", 0), ("b", 1)):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(86400 * day))  # matplotlib's clock for PDFs
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        written.append([p.read_bytes() for p in save(fig, tmp_path / folder, "f")])
    assert written[0] == written[1]
