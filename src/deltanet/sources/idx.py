"""A folder of MNIST-format IDX files (the embedded MNIST when no folder is given).

The labels are the output units themselves (0..9 for MNIST), so the dataset has no
class names, and the images stay in MNIST's order: the trainer validates on the last
training images, as MNIST's convention is.
"""

from __future__ import annotations

from deltanet.datasets import load_mnist
from deltanet.sources.dataset import Dataset


def is_idx_folder(path: str) -> bool:
    """Whether the folder ``path`` holds IDX files (``*-idx?-ubyte[.gz]``)."""
    from pathlib import Path

    return any("idx" in p.name and "ubyte" in p.name for p in Path(path).iterdir())


def load_idx(path: str | None) -> Dataset:
    X_train, y_train, X_test, y_test = load_mnist(path)
    source = "embedded MNIST" if path is None else path
    return Dataset(X_train, y_train, X_test, y_test, None, None, None, "idx", source)
