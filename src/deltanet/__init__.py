"""deltanet: fully connected networks in NumPy, with gradients you can trust.

>>> import deltanet as dn
>>> net = dn.MLP([784, 300, 10], hidden="sigmoid", loss="cross_entropy")
>>> report = net.gradcheck(X[:20], y[:20])   # doctest: +SKIP
"""

from deltanet import augment, datasets, optimizers, presets, training
from deltanet.gradcheck import BlockResult, GradCheckReport, GradientCheckError, gradcheck
from deltanet.io import ModelFileError, load, save
from deltanet.layout import Layout
from deltanet.network import MLP
from deltanet.training import EarlyStopping, History

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "BlockResult",
    "EarlyStopping",
    "GradCheckReport",
    "GradientCheckError",
    "History",
    "Layout",
    "ModelFileError",
    "__version__",
    "augment",
    "datasets",
    "gradcheck",
    "load",
    "optimizers",
    "presets",
    "save",
    "training",
]
