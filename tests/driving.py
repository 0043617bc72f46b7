"""Driving a method by hand in tests: start new trials, collect the ones it resumes."""

from __future__ import annotations

from hpo_methods.protocol import Method


def start_trials(method: Method, n: int) -> list[int]:
    """Ask for ``n`` new trials (none may be a resume); their ids in order."""
    ids = []
    for _ in range(n):
        suggestion = method.suggest()
        assert suggestion is not None and not suggestion.resume
        ids.append(suggestion.trial_id)
    return ids


def resumed_trials(method: Method) -> list[int]:
    """Every trial the method resumes now, in order, until it has nothing more to give."""
    resumed = []
    while (suggestion := method.suggest(allow_new=False)) is not None:
        assert suggestion.resume
        resumed.append(suggestion.trial_id)
    return resumed
