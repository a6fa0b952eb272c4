""":class:`Dataset`: what every data source gives, and class labels as output units.

A source (a folder of IDX files, a ``.npz``, a table, a folder of pictures) ends as
training and test rows, each label an output unit ``0..K−1``, and what it takes to
answer in the data's own terms: the class of each unit (a folder's name, a string
label, the number 7), the features' names (a table's columns) and the picture shape
of a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltanet.errors import DataError

KINDS = ("idx", "npz", "table", "pictures")
# kinds whose features come in their own units and are standardized unless told not to;
# pictures and IDX images are already in [0, 1]
STANDARDIZED = ("npz", "table")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows and labels of one data source, ready to train on.

    ``X_train: (N, D)``, ``X_test: (M, D)`` real numbers as the source has them (not
    standardized); ``y_train: (N,)``, ``y_test: (M,)`` int64 output units ``0..K−1``;
    ``classes``: the label of each unit, or None when the labels are the units
    themselves (IDX files, MNIST); ``feature_names``: one per column of ``X`` or None;
    ``input_shape``: ``(rows, cols)`` or ``(rows, cols, channels)`` of a picture, or
    None; ``kind``: one of :data:`KINDS`; ``source``: where it came from, for people.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[Any, ...] | None
    feature_names: tuple[str, ...] | None
    input_shape: tuple[int, ...] | None
    kind: str
    source: str

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        if self.classes is not None:
            return len(self.classes)
        return 1 + max(int(y.max()) for y in (self.y_train, self.y_test) if len(y))

    @property
    def labels(self) -> tuple[Any, ...]:
        """The label of every output unit."""
        return self.classes if self.classes is not None else tuple(range(self.n_classes))

    def standardized_by_default(self) -> bool:
        return self.kind in STANDARDIZED

    def __repr__(self) -> str:
        return (
            f"Dataset({self.kind}: {self.source}, {len(self.X_train):,} training and "
            f"{len(self.X_test):,} test rows of {self.n_features:,} features, "
            f"{self.n_classes} classes)"
        )


def class_labels(y: np.ndarray, where: str) -> tuple[Any, ...]:
    """The distinct labels of ``y: (N,)`` in sorted order, as JSON scalars.

    Strings, whole numbers and booleans are labels; numbers with a fractional part are
    refused (a measurement, not a class), and so is a single class (there is nothing to
    tell apart).
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DataError(f"{where}: the labels include NaN or infinite values")
        if not np.all(np.mod(y, 1) == 0):
            raise DataError(
                f"{where}: the labels have fractional values such as {_fractional(y)}; "
                "deltanet classifies, so a label is a class: a name or a whole number"
            )
        y = y.astype(np.int64)
    elif y.dtype.kind == "O":
        kinds = {type(v) for v in y.tolist()}
        if not kinds <= {str} and not kinds <= {int, bool}:
            raise DataError(f"{where}: the labels mix types ({_names(kinds)})")
    elif y.dtype.kind not in "iubUS":
        raise DataError(f"{where}: labels of type {y.dtype} are not class names or numbers")
    classes = tuple(v.item() if isinstance(v, np.generic) else v for v in np.unique(y))
    if len(classes) < 2:
        shown = repr(classes[0]) if classes else "none"
        raise DataError(f"{where}: one class only ({shown}); a classifier needs two or more")
    return classes


def _fractional(y: np.ndarray) -> str:
    return repr(float(y[np.mod(y, 1) != 0][0]))


def _names(kinds: set[type]) -> str:
    return ", ".join(sorted(k.__name__ for k in kinds))


def encode(y: np.ndarray, classes: Sequence[Any], where: str) -> np.ndarray:
    """``y: (N,)`` labels as output units ``(N,)`` int64: the index of each in ``classes``.

    A label that is not among ``classes`` (a test label never seen in training) is a
    :class:`~deltanet.errors.DataError` naming it.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        y = y.astype(np.int64)  # whole numbers: class_labels checked them
    if not len(y):
        return np.zeros(0, np.int64)
    values, inverse = np.unique(y, return_inverse=True)
    index = {c: i for i, c in enumerate(classes)}
    units = []
    for v in values.tolist():
        if v not in index:
            raise DataError(f"{where}: label {v!r} is not one of the classes ({_shown(classes)})")
        units.append(index[v])
    return np.asarray(units, np.int64)[inverse.ravel()]


def _shown(classes: Sequence[Any]) -> str:
    head = ", ".join(map(repr, list(classes)[:10]))
    return head + (f", ... ({len(classes)} in all)" if len(classes) > 10 else "")
