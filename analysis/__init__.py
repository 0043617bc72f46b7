"""Analysis of tunebench results folders: anytime statistics, paper figures, regression tracking.

This package reads results folders only (``run.json``, ``config.yaml``, ``reports.parquet``,
``trials.parquet``); it never imports the methods, objectives or surrogates that produced them.

- :mod:`analysis.load`: results folders -> tidy DataFrames (runs, reports, trials).
- :mod:`analysis.trajectories`: incumbent trajectories on a time grid, regret, area under the curve.
- :mod:`analysis.aggregate`: statistics over seeds (mean/SE, median/IQR, IQM/bootstrap), ranks.
- :mod:`analysis.stats`: paired Wilcoxon tests, Holm's step-down correction, Friedman/Nemenyi.
- :mod:`analysis.tables`: final-performance tables (Markdown and LaTeX).
- :mod:`analysis.figures`: ``python -m analysis.figures RESULTS --out FIGDIR``.
- :mod:`analysis.regression`: ``python -m analysis.regression record|check``.
"""
