"""The named methods users pick with ``method=<name>``: the modules of ``hpo_methods.methods``.

Each module's ``make(problem, seed, **settings)`` builds its method (a
:class:`~hpo_methods.protocol.TuningMethod`); the keyword arguments after ``seed`` are the
method's settings, with their defaults.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import hpo_methods.methods as methods_package
from hpo_methods.problem import Problem
from hpo_methods.protocol import TuningMethod

FIXED_ARGUMENTS = ("problem", "seed")
Factory = Callable[..., TuningMethod]


class UnknownMethodError(KeyError):
    """A method name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def method_names() -> list[str]:
    """Every method name: the modules of ``hpo_methods.methods``."""
    return sorted(m.name for m in pkgutil.iter_modules(methods_package.__path__))


def method_settings(name: str) -> dict[str, Any]:
    """The settings a method accepts, with their defaults."""
    return factory_settings(_factory(name))


def factory_settings(factory: Factory) -> dict[str, Any]:
    """The keyword settings of a method factory (every parameter after problem and seed)."""
    signature = inspect.signature(factory)
    return {
        p.name: p.default for p in signature.parameters.values() if p.name not in FIXED_ARGUMENTS
    }


def make_method(name: str, problem: Problem, seed: int, **settings: Any) -> TuningMethod:
    """Build the method ``name`` with its settings; unknown names or settings raise clear errors."""
    return build(name, _factory(name), problem, seed, settings)


def build(
    name: str, factory: Factory, problem: Problem, seed: int, settings: dict[str, Any]
) -> TuningMethod:
    """Call a method factory after checking its settings and that it can solve ``problem``."""
    accepted = factory_settings(factory)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(
            f"method '{name}' has no setting(s) {unknown}; "
            f"its settings: {', '.join(accepted) or 'none'}"
        )
    method = factory(problem, seed, **settings)
    if problem.multi_objective and not getattr(method, "multi_objective", False):
        objectives = ", ".join(str(g) for g in problem.objectives)
        raise ValueError(
            f"method '{name}' optimises one objective, and this benchmark has "
            f"{len(problem.objectives)} ({objectives}); pick a multi-objective method: "
            f"{', '.join(multi_objective_names()) or 'none is registered'}"
        )
    return method


def multi_objective_names() -> list[str]:
    """The registered methods that optimise several objectives (``MULTI_OBJECTIVE = True``)."""
    return [n for n in method_names() if getattr(_module(n), "MULTI_OBJECTIVE", False)]


def _module(name: str):
    return importlib.import_module(f"hpo_methods.methods.{name}")


def _factory(name: str) -> Factory:
    if name not in method_names():
        raise UnknownMethodError(
            f"unknown method '{name}'; valid methods: {', '.join(method_names())}"
        )
    return _module(name).make
