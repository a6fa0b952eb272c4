"""The optional features' dependencies: imported when a feature is used, and a missing
one is a :class:`~deltanet.errors.MissingExtraError` saying which extra to install.

The core library imports none of them, so ``import deltanet`` works without any extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from deltanet.errors import MissingExtraError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` (e.g. ``"onnx"``), or say that ``feature`` needs ``deltanet[extra]``.

    Only the module itself being absent is the user's to fix; an error raised while
    importing an installed module is a bug and propagates.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or module.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise MissingExtraError(
            f"{feature} needs the {exc.name} package: pip install 'deltanet[{extra}]'"
        ) from None
