"""The errors that are the user's to fix, as distinct from molprior's own bugs.

A command that fails on a :class:`UserError` (a file that is not there or cannot be read as
asked, a missing column, an unknown assay, allele or setting, a model directory that is not
a molprior model) prints its message and exits with status 2.  Any other exception is a bug:
the command says so and exits with status 1, and ``-v`` shows its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user gave or asked for; the message says what and how to fix it."""


class InputError(UserError, ValueError):
    """Input data, an argument or a setting that cannot be used as given."""


class MissingError(UserError, FileNotFoundError):
    """A file, model or run that the user named (or that a default points to) is not there."""
