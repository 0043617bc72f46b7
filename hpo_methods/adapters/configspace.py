"""The search space as a ConfigSpace ``ConfigurationSpace`` (used by SMAC3 and the dehb package;
both depend on ConfigSpace). The mapping itself: :mod:`hpo_methods.adapters.common`."""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS
import numpy as np

from hpo_methods.adapters.common import CATEGORICAL, FLOAT, INT, SpaceMap, plain
from hpo_methods.space import Config


def configspace(space: SpaceMap, seed: int) -> CS.ConfigurationSpace:
    """A ``ConfigurationSpace`` holding exactly the space's parameters, seeded with ``seed``:
    floats and integers (log where declared), categoricals, ordinals over exact grids.

    ConfigSpace's defaults are its own (a float's midpoint, a categorical's first category),
    except for the one categorical of a table's recorded configurations: its first category is
    the table's first row, which means nothing (and on the shipped table is its best
    configuration), so its default is drawn at random with ``seed``. SMAC's Hyperband facade
    evaluates the default configuration first.
    """
    cs = CS.ConfigurationSpace(seed=seed)
    for p in space.params:
        if p.kind == FLOAT:
            hp: Any = CS.UniformFloatHyperparameter(p.name, p.low, p.high, log=p.log)
        elif p.kind == INT:
            hp = CS.UniformIntegerHyperparameter(p.name, int(p.low), int(p.high), log=p.log)
        elif p.kind == CATEGORICAL and p.name == space.table_param:
            default = p.choices[int(np.random.default_rng(seed).integers(len(p.choices)))]
            hp = CS.CategoricalHyperparameter(p.name, list(p.choices), default_value=default)
        elif p.kind == CATEGORICAL:
            hp = CS.CategoricalHyperparameter(p.name, list(p.choices))
        else:
            hp = CS.OrdinalHyperparameter(p.name, list(p.choices))
        cs.add(hp)
    return cs


def decode(space: SpaceMap, config: Any) -> Config:
    """Our configuration for a ConfigSpace ``Configuration`` (or a mapping of its values)."""
    return space.decode({name: plain(value) for name, value in dict(config).items()})
