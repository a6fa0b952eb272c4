"""A user's data, from any of the formats ``deltanet train --data PATH`` reads.

:func:`load_data` looks at ``PATH`` and hands it to the loader of its format:

=======================================  ==============================================
a folder of IDX files (or None)          :mod:`~deltanet.sources.idx` (MNIST's format)
``*.npz``                                :mod:`~deltanet.sources.npz`
``*.csv``, ``*.tsv``, ``*.parquet``      :mod:`~deltanet.sources.table` (pandas)
any other folder                         :mod:`~deltanet.sources.pictures`
=======================================  ==============================================

Each gives a :class:`~deltanet.sources.dataset.Dataset`: training and test rows, the
output unit of each row and what it takes to answer in the data's own terms.
:mod:`~deltanet.sources.settings` makes a run's settings fit it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deltanet.errors import ConfigError, DataError
from deltanet.sources.dataset import Dataset
from deltanet.sources.idx import is_idx_folder, load_idx
from deltanet.sources.npz import load_npz
from deltanet.sources.pictures import load_pictures
from deltanet.sources.table import is_table, load_table

__all__ = ["Dataset", "from_config", "kind_of", "load_data"]

# which settings each kind of data takes, beyond test_size and seed
OPTIONS = {
    "idx": (),
    "npz": (),
    "table": ("target", "test"),
    "pictures": ("channels", "image_size"),
}


def kind_of(path: str | os.PathLike[str] | None) -> str:
    """``"idx"``, ``"npz"``, ``"table"`` or ``"pictures"``: the format of ``path``."""
    if path is None:
        return "idx"
    p = Path(path)
    if p.is_dir():
        return "idx" if is_idx_folder(str(p)) else "pictures"
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.suffix.lower() == ".npz":
        return "npz"
    if is_table(p):
        return "table"
    raise DataError(
        f"{p}: not a kind of data deltanet reads (a .csv, .tsv, .parquet or .npz file, a "
        "folder of pictures in class folders, or a folder of IDX files)"
    )


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    target: str | None = None,
    test: str | os.PathLike[str] | None = None,
    test_size: float = 0.2,
    channels: int | None = None,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
) -> Dataset:
    """The data at ``path`` (None: the embedded MNIST), split into training and test rows.

    Args:
        target: a table's label column (default: the last).
        test: a table's test rows, in a file of their own.
        test_size: the fraction of each class held out for testing when the data has
            no test set of its own (a stratified split drawn from ``seed``).
        channels: pictures: 1 (grey) or 3 (RGB); default: grey if every picture is.
        image_size: pictures: ``(height, width)``; default: the commonest size.
        seed: the split and the order of the training rows.

    Raises:
        DataError: naming the file and what is wrong with it.
        ConfigError: for an option that does not apply to this kind of data.
    """
    given = {"target": target, "test": test, "channels": channels, "image_size": image_size}
    path = None if path is None else os.fspath(path)
    kind = kind_of(path)
    wrong = [name for name, value in given.items() if value is not None]
    wrong = [name for name in wrong if name not in OPTIONS[kind]]
    if wrong:
        takes = {"table": "a table", "pictures": "a folder of pictures"}
        owner = next(k for k, names in OPTIONS.items() if wrong[0] in names)
        raise ConfigError(
            f"{wrong[0]} applies to {takes[owner]}; the data is {_kind_name(kind, path)}"
        )
    rng = np.random.default_rng(seed)
    if kind == "idx":
        return load_idx(path)
    if kind == "npz":
        return load_npz(path, test_size=test_size, rng=rng)
    if kind == "table":
        test = None if test is None else os.fspath(test)
        return load_table(path, target=target, test=test, test_size=test_size, rng=rng)
    return load_pictures(
        path, channels=channels, image_size=image_size, test_size=test_size, rng=rng
    )


def _kind_name(kind: str, path: str | None) -> str:
    names = {"idx": "a folder of IDX files", "npz": "a .npz file", "table": "a table"}
    names["pictures"] = "a folder of pictures"
    return "the embedded MNIST" if path is None else f"{names[kind]} ({path})"


def from_config(config: Any) -> Dataset:
    """The data a :class:`~deltanet.config.TrainConfig` names, split as it says."""
    return load_data(
        config.data,
        target=config.target,
        test=config.test,
        test_size=config.test_size,
        channels=config.channels,
        image_size=config.image_size,
        seed=config.seed,
    )
