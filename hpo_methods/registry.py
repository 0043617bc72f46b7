"""The methods users pick with ``method=<name>``, and how a user's own method plugs in.

A method is built by a *factory* ``factory(problem, seed, **settings)`` (a function, or a class
whose constructor takes those arguments) that returns a
:class:`~hpo_methods.protocol.TuningMethod`; the keyword parameters after ``seed`` are the
method's settings, with their defaults. Names are found in this order:

1. *built-in*: the modules of ``hpo_methods.methods`` (their ``make``);
2. *adapters*: the library methods of :data:`hpo_methods.adapters.ADAPTERS` (Optuna, SMAC3,
   dehb), imported only when one is built; a missing library is a :class:`MissingExtraError`
   naming the pip command;
3. *plugins*: the Python entry points of group ``tunebench.methods`` that installed packages
   declare (``name = "package.module:factory"``), loaded only when one is built. A plugin cannot
   replace a built-in or adapter name (those are found first), and two packages may not
   register one name (:class:`MethodError`).

``method=custom method.target=package.module:attribute`` builds a factory named by its import
path, without any registration (:func:`make_method_from`). Every route goes through
:func:`build`, which checks the settings against the factory's signature, that the result
implements the protocol, and that it can solve the problem (one objective or several).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import hpo_methods.methods as methods_package
from hpo_methods.adapters import ADAPTERS
from hpo_methods.problem import Problem
from hpo_methods.protocol import TuningMethod

FIXED_ARGUMENTS = ("problem", "seed")
PLUGIN_GROUP = "tunebench.methods"
CUSTOM = "custom"
PROTOCOL_CALLS = ("suggest", "report", "complete", "fail", "dropped_trials")
CUSTOM_NEEDS_TARGET = (
    "method=custom needs method.target=package.module:attribute, a factory or class called as "
    "attribute(problem, seed, **settings)"
)
TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
Factory = Callable[..., TuningMethod]


class UnknownMethodError(KeyError):
    """A method name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class MethodError(ValueError):
    """A method that cannot be built as asked (a bad target or plugin, a setting it lacks, a
    problem it cannot solve); the message says which and what to do."""


class MissingExtraError(MethodError):
    """A library method whose library is not installed; the message names the pip command."""

    def __init__(self, method: str, extra: str, missing: str) -> None:
        super().__init__(
            f"method '{method}' needs the '{extra}' extra, which is not installed "
            f"(missing {missing}): pip install -e \".[{extra}]\""
        )
        self.method, self.extra = method, extra


def method_names() -> list[str]:
    """The built-in methods: the modules of ``hpo_methods.methods``."""
    return sorted(m.name for m in pkgutil.iter_modules(methods_package.__path__))


def adapter_names() -> list[str]:
    """The library methods (their extras may or may not be installed)."""
    return sorted(ADAPTERS)


def plugin_names() -> list[str]:
    """The names installed packages register in the ``tunebench.methods`` entry point group
    (except those of built-in and adapter methods, which take precedence, and ``custom``)."""
    own = {*method_names(), *ADAPTERS, CUSTOM}
    return sorted({ep.name for ep in _entry_points()} - own)


def all_method_names() -> list[str]:
    """Every name ``method=`` accepts besides ``custom``: built-in, adapters, plugins."""
    return sorted({*method_names(), *adapter_names(), *plugin_names()})


def method_settings(name: str) -> dict[str, Any]:
    """The settings a method accepts, with their defaults (``inspect.Parameter.empty``: none)."""
    return factory_settings(factory(name))


def takes_any_setting(name: str) -> bool:
    """Whether the method's factory takes ``**kwargs`` (then any setting is passed on)."""
    parameters = inspect.signature(factory(name)).parameters.values()
    return any(p.kind == p.VAR_KEYWORD for p in parameters)


def factory_settings(factory: Factory) -> dict[str, Any]:
    """The keyword settings of a method factory (every parameter after problem and seed).
    A ``**kwargs`` parameter is not a setting: it means any setting is accepted."""
    signature = inspect.signature(factory)
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if p.name not in FIXED_ARGUMENTS
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def make_method(name: str, problem: Problem, seed: int, **settings: Any) -> TuningMethod:
    """Build the method ``name`` with its settings; unknown names or settings raise clear errors."""
    return build(name, factory(name), problem, seed, settings)


def make_method_from(
    name: str, target: str | None, problem: Problem, seed: int, settings: dict[str, Any]
) -> TuningMethod:
    """Build a method from a run's config: ``custom`` with ``target`` (``module:attribute``),
    or a registered ``name`` (then ``target`` must be unset)."""
    if name == CUSTOM:
        if not target:
            raise MethodError(CUSTOM_NEEDS_TARGET)
        return build(f"{CUSTOM} ({target})", load_target(target), problem, seed, settings)
    if target:
        raise MethodError(
            f"method.target is read by method=custom only (this run's method is '{name}')"
        )
    return make_method(name, problem, seed, **settings)


def build(
    name: str, factory: Factory, problem: Problem, seed: int, settings: dict[str, Any]
) -> TuningMethod:
    """Call a method factory after checking its settings; check that the result implements
    the protocol and can solve ``problem``."""
    signature = _signature(name, factory)
    accepted = factory_settings(factory)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(settings) - set(accepted))
    if unknown and not takes_any:
        raise MethodError(
            f"method '{name}' has no setting(s) {unknown}; "
            f"its settings: {', '.join(accepted) or 'none'}"
        )
    required = [k for k, v in accepted.items() if v is inspect.Parameter.empty]
    missing = [k for k in required if k not in settings]
    if missing:
        raise MethodError(
            f"method '{name}' needs setting(s) {missing}: "
            + " ".join(f"method.settings.{k}=VALUE" for k in missing)
        )
    method = factory(problem, seed, **settings)
    lacking = [c for c in PROTOCOL_CALLS if not callable(getattr(method, c, None))]
    if lacking:
        raise MethodError(
            f"method '{name}' returned a {type(method).__name__}, which does not implement the "
            f"method protocol (hpo_methods.protocol.TuningMethod): it lacks {', '.join(lacking)}"
        )
    if problem.multi_objective and not getattr(method, "multi_objective", False):
        objectives = ", ".join(str(g) for g in problem.objectives)
        raise MethodError(
            f"method '{name}' optimises one objective, and this benchmark has "
            f"{len(problem.objectives)} ({objectives}); pick a multi-objective method: "
            f"{', '.join(multi_objective_names()) or 'none is registered'}"
        )
    return method


def _signature(name: str, factory: Factory) -> inspect.Signature:
    if not callable(factory):
        raise MethodError(
            f"method '{name}' is a {type(factory).__name__}, not a factory or class "
            f"callable as (problem, seed, **settings)"
        )
    try:
        signature = inspect.signature(factory)
        signature.bind_partial(None, None)
    except (TypeError, ValueError) as err:
        raise MethodError(
            f"method '{name}' cannot be called as (problem, seed, **settings): {err}"
        ) from None
    return signature


def multi_objective_names() -> list[str]:
    """The methods that optimise several objectives: built-in modules with
    ``MULTI_OBJECTIVE = True`` and the adapters that can (plugins are not imported to ask)."""
    builtin = [n for n in method_names() if getattr(_module(n), "MULTI_OBJECTIVE", False)]
    return sorted([*builtin, *(n for n, spec in ADAPTERS.items() if spec.multi_objective)])


def factory(name: str) -> Factory:
    """The factory behind a method name (module docstring for the order)."""
    if name == CUSTOM:
        raise MethodError(CUSTOM_NEEDS_TARGET)
    if name in method_names():
        return _module(name).make
    if name in ADAPTERS:
        return _adapter_factory(name)
    entry_points = [ep for ep in _entry_points() if ep.name == name]
    if entry_points:
        return _plugin_factory(name, entry_points)
    raise UnknownMethodError(
        f"unknown method '{name}'; valid methods: {', '.join([*all_method_names(), CUSTOM])}"
    )


def _module(name: str):
    return importlib.import_module(f"hpo_methods.methods.{name}")


def _adapter_factory(name: str) -> Factory:
    spec = ADAPTERS[name]
    try:
        module = importlib.import_module(f"hpo_methods.adapters.{spec.module}")
    except ImportError as err:
        missing = getattr(err, "name", None) or str(err)
        raise MissingExtraError(name, spec.extra, f"{missing}: {err}") from err
    return getattr(module, spec.factory)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=PLUGIN_GROUP))


def _plugin_factory(name: str, entry_points: list[importlib.metadata.EntryPoint]) -> Factory:
    values = sorted({ep.value for ep in entry_points})
    if len(values) > 1:
        raise MethodError(
            f"plugin method '{name}' is registered twice ({', '.join(values)}); "
            f"uninstall one of the packages"
        )
    return load_target(values[0], what=f"plugin method '{name}'")


def load_target(target: str, what: str = "method.target") -> Factory:
    """The object ``package.module:attribute`` names; one-line :class:`MethodError` otherwise."""
    target = str(target).strip()
    if not TARGET.match(target):
        raise MethodError(
            f"{what} '{target}' is not of the form package.module:attribute "
            f"(e.g. mypackage.search:MyMethod)"
        )
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, SyntaxError) as err:
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        raise MethodError(
            f"{what} '{target}': cannot import {module_name} ({reason}); is its package "
            f"installed or on PYTHONPATH?"
        ) from None
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise MethodError(f"{what} '{target}': {module_name} has no attribute '{attribute}'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise MethodError(
            f"{what} '{target}' is a {type(obj).__name__}, not a factory or class callable as "
            f"(problem, seed, **settings)"
        )
    return obj
