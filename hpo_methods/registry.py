"""The named methods users pick with ``method=<name>``: the modules of ``hpo_methods.methods``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import hpo_methods.methods as methods_package
from hpo_methods.protocol import Method
from hpo_methods.space import SearchSpace

FIXED_ARGUMENTS = ("space", "max_epochs", "seed")


class UnknownMethodError(KeyError):
    """A method name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def method_names() -> list[str]:
    """Every method name: the modules of ``hpo_methods.methods``."""
    return sorted(m.name for m in pkgutil.iter_modules(methods_package.__path__))


def method_settings(name: str) -> dict[str, Any]:
    """The settings a method accepts, with their defaults."""
    signature = inspect.signature(_factory(name))
    return {
        p.name: p.default for p in signature.parameters.values() if p.name not in FIXED_ARGUMENTS
    }


def make_method(
    name: str, space: SearchSpace, max_epochs: int, seed: int, **settings: Any
) -> Method:
    """Build the method ``name`` with its settings; unknown names or settings raise clear errors."""
    factory = _factory(name)
    accepted = method_settings(name)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(
            f"method '{name}' has no setting(s) {unknown}; "
            f"its settings: {', '.join(accepted) or 'none'}"
        )
    return factory(space, max_epochs, seed, **settings)


def _factory(name: str):
    if name not in method_names():
        raise UnknownMethodError(
            f"unknown method '{name}'; valid methods: {', '.join(method_names())}"
        )
    return importlib.import_module(f"hpo_methods.methods.{name}").make
