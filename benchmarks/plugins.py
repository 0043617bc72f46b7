"""Methods from other packages on the command line: entry-point plugins and ``method=custom``.

Hydra composes ``method=<name>`` from a config node of that name. The built-in methods and the
library adapters have a YAML file in ``conf/method/``; a plugin (an entry point of group
``tunebench.methods``, see :mod:`hpo_methods.registry`) gets a node ``{name, settings: {}}``
registered in Hydra's ConfigStore (:func:`register_plugin_configs`), without importing the
plugin: its defaults stay in its code, and what a run sets is what ``config.yaml`` records.

Neither a plugin nor ``custom`` declares its settings in YAML, so Hydra would refuse
``method.settings.k=v`` for them ("use +..."); :func:`open_method_settings` turns those
overrides into ``++method.settings.k=v`` (add or override) when the run's method is one of them.
The registry then checks every setting against the factory's signature, with a one-line error.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from benchmarks.argv import SWEEP_FUNCTIONS, group_choices
from hpo_methods.registry import CUSTOM, plugin_names

SETTINGS_PREFIX = "method.settings."


def register_plugin_configs() -> list[str]:
    """A config node ``method=<name>`` for every plugin method without a YAML file; returns
    their names."""
    names = [n for n in plugin_names() if n not in group_choices("method")]
    store = ConfigStore.instance()
    for name in names:
        store.store(group="method", name=name, node={"name": name, "settings": {}})
    return names


def chosen_methods(args: list[str]) -> list[str]:
    """The method names a command line picks (``method=a`` or ``method=a,b``)."""
    names: list[str] = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "method" and value and not value.startswith(SWEEP_FUNCTIONS):
            names.extend(v.strip() for v in value.split(","))
    return names


def open_method_settings(args: list[str]) -> list[str]:
    """``method.settings.k=v`` -> ``++method.settings.k=v`` when a chosen method is ``custom`` or
    a plugin (their settings are not declared in YAML); other arguments unchanged."""
    if not {CUSTOM, *plugin_names()}.intersection(chosen_methods(args)):
        return list(args)
    return [f"++{a}" if a.startswith(SETTINGS_PREFIX) else a for a in args]
