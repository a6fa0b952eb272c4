"""A trained network with what it needs to answer in its user's terms.

An :class:`~deltanet.network.MLP` maps standardized float rows to output units.  A
user has raw rows (a CSV's columns in their own units), pictures, and class names
("cat", "dog", or the labels 3 and 7).  :class:`Model` keeps the three together:

* ``classes``: the label of each output unit, any JSON scalars (strings, ints,
  floats); None means the units are the labels 0..K−1;
* ``standardizer``: the mean and scale the training data was standardized with,
  applied to every raw input before the network sees it;
* ``input_shape``: how a picture becomes a row, e.g. ``(28, 28)`` (grey) or
  ``(8, 8, 3)`` (RGB); None for tabular data;
* ``feature_names``: the name of each input (a table's columns), so rows can be
  picked out of a table by name; None when the inputs have no names.

:func:`deltanet.modelfile.save_model` writes all of it into one safetensors file,
covered by the file's digest, so ``predict`` on raw rows gives the answer training
meant.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from deltanet.network import MLP

if TYPE_CHECKING:
    import onnx

Label = str | int | float | bool
DIGIT_SHAPE = (28, 28)  # MNIST's pictures, what deltanet.images makes of a user's


@dataclass(frozen=True, eq=False)
class Standardizer:
    """``(X − mean) / scale`` per feature; ``mean, scale: (D,)`` float64, ``scale > 0``."""

    mean: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise ValueError(
                f"mean and scale must be 1-D and alike, got {mean.shape}, {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("the standardization must be finite, with every scale above 0")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scale", scale)

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """From training rows ``X: (N, D)``; a constant feature keeps scale 1 (it is only
        centred: there is no spread to divide by)."""
        X = np.asarray(X, dtype=np.float64)
        scale = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def transform(self, X: np.ndarray, dtype: np.dtype | str = np.float64) -> np.ndarray:
        """``X: (N, D)`` raw rows -> standardized rows of ``dtype``."""
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.scale).astype(dtype)

    @property
    def n_features(self) -> int:
        return int(self.mean.size)


class Model:
    """An :class:`MLP` with its output labels, input standardization and picture shape.

    Args:
        net: the network.
        classes: one label per output unit (JSON scalars), or None for 0..K−1.
        standardizer: applied to raw inputs before the network, or None.
        input_shape: ``(rows, cols)`` or ``(rows, cols, channels)`` of the pictures the
            inputs are, or None.
        feature_names: one distinct name per input, or None.
    """

    def __init__(
        self,
        net: MLP,
        classes: Sequence[Any] | None = None,
        standardizer: Standardizer | None = None,
        input_shape: Sequence[int] | None = None,
        feature_names: Sequence[str] | None = None,
    ):
        self.net = net
        self.classes = None if classes is None else tuple(_label(c) for c in classes)
        self.standardizer = standardizer
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.feature_names = None if feature_names is None else tuple(feature_names)
        width, outputs = net.layers[0], net.layers[-1]
        if self.classes is not None and len(self.classes) != outputs:
            raise ValueError(
                f"{len(self.classes)} class labels for a network with {outputs} outputs"
            )
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError(f"class labels must be distinct, got {list(self.classes)}")
        if standardizer is not None and standardizer.n_features != width:
            raise ValueError(
                f"a standardization of {standardizer.n_features} features for a network "
                f"taking {width} inputs"
            )
        if self.input_shape is not None and (
            len(self.input_shape) not in (2, 3) or prod(self.input_shape) != width
        ):
            raise ValueError(f"input shape {self.input_shape} does not make {width} inputs")
        self._check_feature_names(width)

    def _check_feature_names(self, width: int) -> None:
        names = self.feature_names
        if names is None:
            return
        if len(names) != width or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{len(names)} feature names for a network taking {width} inputs")
        if len(set(names)) != len(names):
            raise ValueError("feature names must be distinct")

    @property
    def n_features(self) -> int:
        return self.net.layers[0]

    @property
    def takes_digits(self) -> bool:
        """Whether an input is a 28×28 grey digit made MNIST-style
        (:func:`deltanet.images.mnist_style`): the picture shape (28, 28), or a network
        of 784 unstandardized inputs without one (as ``deltanet train`` saves MNIST's)."""
        if self.input_shape is not None:
            return self.input_shape == DIGIT_SHAPE
        return self.standardizer is None and self.n_features == prod(DIGIT_SHAPE)

    @property
    def labels(self) -> tuple[Any, ...]:
        """The label of every output unit (0..K−1 without class names)."""
        return self.classes if self.classes is not None else tuple(range(self.net.layers[-1]))

    def prepare(self, X: Any) -> np.ndarray:
        """Raw inputs ``X: (N, D)`` as the network takes them (standardized, its dtype)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (N, {self.n_features}), got {X.shape}")
        if self.standardizer is not None:
            X = self.standardizer.transform(X, self.net.dtype)
        return self.net.check_X(X)

    def predict_proba(self, X: Any, *, threadsafe: bool = False) -> np.ndarray:
        """Outputs ``(N, K)`` for raw inputs (probabilities for cross-entropy);
        ``threadsafe``: see :meth:`MLP.predict_proba <deltanet.network.MLP.predict_proba>`."""
        return self.net.predict_proba(self.prepare(X), threadsafe=threadsafe)

    def predict(self, X: Any) -> np.ndarray:
        """Labels ``(N,)`` for raw inputs: the class of the largest output."""
        best = self.predict_proba(X).argmax(axis=1)
        return np.asarray(self.labels)[best] if self.classes is not None else best

    def to_onnx(self, path: str | os.PathLike[str] | None = None) -> onnx.ModelProto:
        """This model as an ONNX model (standardization in the graph, class names in its
        metadata), written to ``path`` (atomically) unless None; needs ``deltanet[onnx]``.
        See :mod:`deltanet.onnx_export`."""
        from deltanet import onnx_export

        return onnx_export.build(self) if path is None else onnx_export.save(self, path)

    def metadata(self) -> dict[str, Any]:
        """What a model file stores about this model beside the weights (JSON)."""
        about = {
            "classes": None if self.classes is None else list(self.classes),
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "standardized": self.standardizer is not None,
        }
        if self.feature_names is not None:  # absent rather than null: older files alike
            about["feature_names"] = list(self.feature_names)
        return about

    def __repr__(self) -> str:
        extras = []
        if self.classes is not None:
            shown = ", ".join(map(repr, self.classes[:5])) + (
                ", ..." if len(self.classes) > 5 else ""
            )
            extras.append(f"classes=[{shown}]")
        if self.standardizer is not None:
            extras.append("standardized")
        if self.input_shape is not None:
            extras.append(f"input_shape={self.input_shape}")
        return f"Model({self.net!r}{''.join(', ' + e for e in extras)})"


def _label(value: Any) -> Label:
    """A class label as a JSON scalar (NumPy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str) and not (
        isinstance(value, float) and not np.isfinite(value)
    ):
        return value
    raise ValueError(f"a class label must be a string or a finite number, not {value!r}")
