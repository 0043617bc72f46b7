"""Which errors are the user's: bad input gets one line (``error: ...``, exit 2), the rest a
traceback.

:class:`UserError` is the base of tunebench's own user-error types in ``benchmarks``; the other
packages keep theirs (:data:`USER_ERRORS` lists them all). A run has two phases
(:func:`is_user_error`): while it is being *set up* (settings validated, the objective and the
method built from them) a ``ValueError`` or a missing file is about the user's settings, since
constructors check their arguments that way; once it *runs*, only the types in
:data:`USER_ERRORS` are, and anything else (numpy's ``LinAlgError`` is a ``ValueError``) is an
internal failure whose traceback is kept.
"""

from __future__ import annotations

import numpy as np

from hpo_methods.problem import ProblemError
from hpo_methods.registry import MethodError, UnknownMethodError
from hpo_methods.space import SearchSpaceError
from surrogates.table import TableError


class UserError(ValueError):
    """Input a user can correct; the message names the key or file and says what to do."""


USER_ERRORS: tuple[type[Exception], ...] = (
    UserError,
    ProblemError,
    SearchSpaceError,
    TableError,
    UnknownMethodError,
    MethodError,
)
SETUP_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError, FileNotFoundError)


def is_user_error(err: BaseException, setting_up: bool) -> bool:
    """Whether ``err`` gets a one-line message (see the module docstring)."""
    if isinstance(err, np.linalg.LinAlgError | FloatingPointError):
        return False
    return isinstance(err, SETUP_ERRORS if setting_up else USER_ERRORS)
