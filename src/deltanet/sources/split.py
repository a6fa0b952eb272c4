"""Held-out rows: a stratified, seeded test split, and the order the training rows take.

The trainer validates on the *last* ``val_size`` training rows (MNIST's convention), so
a user's rows are put in a seeded random order first: a file sorted by class would
otherwise validate on its last class alone.
"""

from __future__ import annotations

import numpy as np

from deltanet.errors import DataError


def stratified_split(
    y: np.ndarray, test_size: float, rng: np.random.Generator, where: str = "the data"
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` of ``y: (N,)`` output units, ``test`` holding
    ``round(test_size · n_k)`` rows of each class ``k`` (at least one row of every class
    stays in training).  ``train`` is in random order, ``test`` in the rows' own order.
    """
    test = []
    for k in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == k))
        test.append(rows[: min(round(test_size * len(rows)), len(rows) - 1)])
    held = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    if not len(held):
        raise DataError(
            f"{where}: holding out {test_size:g} of {len(y):,} rows leaves no test rows: give a "
            "larger test_size, or a test set of its own"
        )
    mask = np.ones(len(y), bool)
    mask[held] = False
    return rng.permutation(np.flatnonzero(mask)), held


def shuffled(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random order of ``n`` training rows."""
    return rng.permutation(n)
