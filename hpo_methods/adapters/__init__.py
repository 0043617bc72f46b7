"""The field's own libraries as tunebench methods: Optuna, SMAC3 and the ``dehb`` package.

Each library has one module here (:mod:`~hpo_methods.adapters.optuna`,
:mod:`~hpo_methods.adapters.smac`, :mod:`~hpo_methods.adapters.dehb`) that wraps its ask/tell
interface in the five calls of :class:`~hpo_methods.protocol.TuningMethod`. The libraries are
optional extras (``pip install -e ".[optuna]"``, ``[smac]``, ``[dehb]``): nothing imports an
adapter module, or its library, until a run asks for one of its methods
(:func:`hpo_methods.registry.make_method`). This module is only the table below (no imports).

Shared rules (:mod:`~hpo_methods.adapters.common`): the search space is mapped exactly (log
scales, integers, categoricals, the exact grid of finite ranges, the recorded configurations of
a table), the harness seed seeds the library, and a rerun with the same seed is byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdapterSpec:
    """Where a library method lives and what it needs.

    ``module``: the adapter module under ``hpo_methods.adapters``; ``factory``: the function in
    it, called as ``factory(problem, seed, **settings)``; ``extra``: the pip extra that installs
    the library; ``multi_objective``: whether it can optimise several objectives.
    """

    module: str
    factory: str
    extra: str
    multi_objective: bool = False


ADAPTERS: dict[str, AdapterSpec] = {
    "optuna_tpe": AdapterSpec("optuna", "tpe", "optuna", multi_objective=True),
    "optuna_gp": AdapterSpec("optuna", "gp", "optuna", multi_objective=True),
    "optuna_cmaes": AdapterSpec("optuna", "cmaes", "optuna"),
    "optuna_nsga2": AdapterSpec("optuna", "nsga2", "optuna", multi_objective=True),
    "optuna_sh": AdapterSpec("optuna", "tpe_sh", "optuna"),
    "optuna_hyperband": AdapterSpec("optuna", "tpe_hyperband", "optuna"),
    "smac_hpo": AdapterSpec("smac", "hpo", "smac"),
    "smac_hyperband": AdapterSpec("smac", "hyperband", "smac"),
    "smac_mf": AdapterSpec("smac", "multi_fidelity", "smac"),
    "dehb_pkg": AdapterSpec("dehb", "dehb", "dehb"),
}
