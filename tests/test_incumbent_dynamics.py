"""scripts/incumbent_dynamics.py: the per-run figures counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("incumbent_dynamics")


def test_lowest_report_ties_last_change_and_the_incumbents_true_value(script):
    reports = pd.DataFrame({
        "benchmark": "b", "method": "m", "seed": 0,
        "time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "val_error": [0.7, 0.6, 0.65, 0.5, 0.5, np.nan],  # incumbent changes at 1, 2, 4
        "true_val_error": [0.72, 0.55, 0.6, 0.66, 0.58, 0.5],
    })
    row = script.dynamics(reports, "val_error").iloc[0]
    assert (row["reports"], row["lowest_report"], row["ties_at_lowest"]) == (5, 0.5, 2)
    assert (row["last_change_s"], row["changes"]) == (4.0, 3)
    assert row["incumbent_true"] == 0.66  # the first report of the lowest value
    assert row["best_true"] == 0.55  # among the finite reports only
