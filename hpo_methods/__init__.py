"""Search spaces and HPO methods (searchers + schedulers). No torch, no clock, no backends."""

from hpo_methods.protocol import Decision, Method, Suggestion, TrialStatus
from hpo_methods.registry import make_method, method_names
from hpo_methods.space import SearchSpace, SearchSpaceError

__all__ = [
    "Decision",
    "Method",
    "SearchSpace",
    "SearchSpaceError",
    "Suggestion",
    "TrialStatus",
    "make_method",
    "method_names",
]
