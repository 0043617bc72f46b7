"""analysis.figures: every figure and table is written, non-empty, at column width."""

from __future__ import annotations

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
