"""deltanet: fully connected networks in NumPy, with gradients you can trust.

>>> import deltanet as dn
>>> net = dn.MLP([784, 300, 10], hidden="sigmoid", loss="cross_entropy")
>>> report = net.gradcheck(X[:20], y[:20])   # doctest: +SKIP

The names below are imported when first used, so ``import deltanet.network`` (or the
``deltanet`` command's start-up) loads only what it needs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_NAMES = {
    "MLP": "deltanet.network",
    "BlockResult": "deltanet.gradcheck",
    "GradCheckReport": "deltanet.gradcheck",
    "GradientCheckError": "deltanet.gradcheck",
    "gradcheck": "deltanet.gradcheck",
    "ConfigError": "deltanet.errors",
    "DataError": "deltanet.errors",
    "ModelFileError": "deltanet.errors",
    "UserError": "deltanet.errors",
    "Layout": "deltanet.layout",
    "load": "deltanet.modelfile",
    "save": "deltanet.modelfile",
    "load_model": "deltanet.modelfile",
    "save_model": "deltanet.modelfile",
    "Model": "deltanet.model",
    "Standardizer": "deltanet.model",
    "Dataset": "deltanet.sources",
    "load_data": "deltanet.sources",
    "TrainConfig": "deltanet.config",
    "EarlyStopping": "deltanet.training",
    "History": "deltanet.history",
    "Outcome": "deltanet.history",
    "Trainer": "deltanet.training",
    "fit": "deltanet.training",
    "train": "deltanet.training",
}
_MODULES = ("augment", "config", "datasets", "modelfile", "ops", "optimizers", "presets")
_MODULES += ("sources", "training")

__all__ = ["__version__", *_NAMES, *_MODULES]

if TYPE_CHECKING:
    from deltanet import (  # noqa: F401
        augment,
        config,
        datasets,
        modelfile,
        ops,
        optimizers,
        presets,
        sources,
        training,
    )
    from deltanet.config import TrainConfig  # noqa: F401
    from deltanet.errors import ConfigError, DataError, ModelFileError, UserError  # noqa: F401
    from deltanet.gradcheck import (  # noqa: F401
        BlockResult,
        GradCheckReport,
        GradientCheckError,
        gradcheck,
    )
    from deltanet.history import History, Outcome  # noqa: F401
    from deltanet.layout import Layout  # noqa: F401
    from deltanet.model import Model, Standardizer  # noqa: F401
    from deltanet.modelfile import load, load_model, save, save_model  # noqa: F401
    from deltanet.network import MLP  # noqa: F401
    from deltanet.sources import Dataset, load_data  # noqa: F401
    from deltanet.training import EarlyStopping, Trainer, fit, train  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"deltanet.{name}")
    raise AttributeError(f"module 'deltanet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """This package, keeping ``deltanet.gradcheck`` the function: importing the
    submodule of the same name would otherwise replace it with the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "gradcheck" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
