"""One look for every figure: column-width sizes, fonts, and a fixed colour per method.

Colours are the Okabe-Ito palette (colour-blind safe), handed out by sorted method name, so a
method has the same colour (and line style) in every figure of one ``analysis.figures`` run.
Figures are written as vector PDF and as PNG (300 dpi) with the Agg backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# Okabe & Ito (2008); yellow last (weak on white), black for the ninth and later.
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
LINESTYLES = ("-", "--", "-.", ":")
COLUMN_WIDTH = 3.3  # inches: one column of a two-column paper
RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "lines.linewidth": 1.2,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType: editable text in the PDF
    "ps.fonttype": 42,
}


class MethodStyle:
    """Colour and line style of each method, fixed by sorted method name."""

    def __init__(self, methods: Iterable[str]) -> None:
        self.methods = sorted(set(methods))
        self.colors = {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(self.methods)}
        self.linestyles = {m: LINESTYLES[i % len(LINESTYLES)] for i, m in enumerate(self.methods)}

    def color(self, method: str) -> str:
        return self.colors[method]

    def line(self, method: str) -> dict:
        """Keyword arguments for ``ax.plot`` of ``method``."""
        return {"color": self.colors[method], "linestyle": self.linestyles[method], "label": method}


def new_figure(height: float = 2.3, width: float = COLUMN_WIDTH):
    """A figure and axes of column width."""
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


PDF_METADATA = {"CreationDate": None}  # no date in the PDFs: the same runs give the same files


def save(fig, out_dir: Path, name: str) -> list[Path]:
    """Write ``name``.pdf and ``name``.png into ``out_dir``; close the figure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.pdf", out_dir / f"{name}.png"]
    fig.savefig(paths[0], metadata=PDF_METADATA)
    fig.savefig(paths[1], dpi=300)
    plt.close(fig)
    return paths
