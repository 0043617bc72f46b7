"""The named methods users pick with ``method=<name>``: each name builds a searcher + scheduler."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hpo_methods.protocol import Method
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.schedulers.fifo import FIFOScheduler
from hpo_methods.searchers.random_search import RandomSearcher
from hpo_methods.space import SearchSpace

MethodFactory = Callable[..., Method]


class UnknownMethodError(KeyError):
    """A method name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def _random(space: SearchSpace, max_epochs: int, seed: int) -> Method:
    """Random search, every trial trained to max_epochs."""
    return Method(RandomSearcher(space, seed, max_epochs), FIFOScheduler(max_epochs, seed), "random")


def _asha(
    space: SearchSpace,
    max_epochs: int,
    seed: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    variant: str = "stopping",
) -> Method:
    """Random search under asynchronous successive halving."""
    scheduler = ASHAScheduler(max_epochs, seed, grace_period, reduction_factor, variant)
    return Method(RandomSearcher(space, seed, max_epochs), scheduler, "asha")


METHODS: dict[str, MethodFactory] = {
    "random": _random,
    "asha": _asha,
}


def method_names() -> list[str]:
    return sorted(METHODS)


def make_method(
    name: str, space: SearchSpace, max_epochs: int, seed: int, **settings: Any
) -> Method:
    """Build the method ``name`` with its settings; unknown names or settings raise clear errors."""
    if name not in METHODS:
        raise UnknownMethodError(
            f"unknown method '{name}'; valid methods: {', '.join(method_names())}"
        )
    factory = METHODS[name]
    accepted = [
        p for p in inspect.signature(factory).parameters if p not in ("space", "max_epochs", "seed")
    ]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(
            f"method '{name}' has no setting(s) {unknown}; its settings: {accepted or 'none'}"
        )
    return factory(space, max_epochs, seed, **settings)
