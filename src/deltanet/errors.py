"""What went wrong because of what a user gave, as opposed to a bug.

Every error about a user's input (a setting, a file, data) is a :class:`UserError`: the
command line reports it in one line and exits with status 2, while anything else keeps
its traceback, because it is a bug.  All of them are ``ValueError`` s, so code that
catches ``ValueError`` around a call into deltanet keeps working.
"""

from __future__ import annotations


class UserError(ValueError):
    """Input that a user gave is wrong: a setting, a file, a folder, data."""


class ConfigError(UserError):
    """A setting that is not allowed, alone or together with another one."""


class DataError(UserError):
    """Data of the wrong shape, type or values, or a data file that cannot be read."""


class IDXError(DataError):
    """A file that is not a valid IDX file, or not the one expected."""


class ModelFileError(UserError):
    """A model or checkpoint file that cannot be trusted or understood."""


class RunDirError(UserError):
    """A run directory that cannot be used as asked (taken, locked, not a run)."""


class MissingExtraError(UserError):
    """A feature whose optional dependencies are not installed (``pip install
    'deltanet[onnx]'``, ``'deltanet[serve]'``)."""
