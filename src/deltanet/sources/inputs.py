"""A model's inputs from a user's files, for ``deltanet predict``: rows of a table picked
by the model's feature names, rows of a ``.npy``, or pictures made the way the model's
training pictures were.

A model trained on MNIST-format images (784 inputs, no picture shape, names or
standardization) reads pictures and ``.npy`` digits as MNIST was made
(:mod:`deltanet.images`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deltanet.errors import DataError
from deltanet.files import open_regular
from deltanet.images import load_inputs, read_picture
from deltanet.limits import check_memory
from deltanet.model import Model
from deltanet.npyformat import read_header, shape_bytes
from deltanet.sources.table import features, is_table, read_table


def is_digit_model(model: Model) -> bool:
    """Whether ``model`` takes MNIST-style 28×28 digits (trained on IDX files)."""
    plain = model.input_shape is None and model.feature_names is None
    return plain and model.standardizer is None and model.n_features == 784


def read_inputs(path: str | os.PathLike[str], model: Model) -> np.ndarray:
    """The raw rows ``(N, D)`` in ``path`` for ``model`` (which standardizes them)."""
    if is_table(path):
        frame = read_table(path)
        names = model.feature_names
        if names is None:
            names = tuple(str(c) for c in frame.columns)
            if len(names) != model.n_features:
                raise DataError(
                    f"{path}: {len(names)} columns; the model takes {model.n_features} "
                    "features (and has no names to pick them by)"
                )
        return features(frame, names, path)
    if is_digit_model(model):
        return load_inputs(path)
    if Path(path).suffix.lower() == ".npy":
        return _npy_rows(path, model)
    if model.input_shape is None:
        raise DataError(
            f"{path}: the model takes rows of {model.n_features} features, from a table "
            "(.csv, .tsv, .parquet) or a .npy; it was not trained on pictures"
        )
    h, w = model.input_shape[:2]
    channels = model.input_shape[2] if len(model.input_shape) == 3 else 1
    return read_picture(path, channels, (h, w)).reshape(1, -1)


def _npy_rows(path: str | os.PathLike[str], model: Model) -> np.ndarray:
    """A ``.npy`` of one row ``(D,)`` (or one picture), or of rows ``(N, D)``."""
    D = model.n_features
    shapes = {(D,), *(() if model.input_shape is None else (model.input_shape,))}

    def rows_only(shape: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype.kind not in "iufb":
            raise DataError(f"{path}: holds {dtype}; inputs are numbers")
        one = shape in shapes
        many = len(shape) >= 2 and int(np.prod(shape[1:])) == D
        if not (one or many):
            raise DataError(f"{path}: shape {shape}; the model takes rows of {D} features")

    with open_regular(path, DataError) as fh:
        shape, _ = read_header(fh, path, check=rows_only)
        check_memory(2 * shape_bytes(shape, np.dtype(np.float64)), f"{path}", DataError)
        fh.seek(0)
        X = np.lib.format.read_array(fh, allow_pickle=False)
    X = X.reshape(-1, D).astype(np.float64)
    if not np.isfinite(X).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    return X
