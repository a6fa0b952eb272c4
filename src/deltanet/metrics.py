"""Classification metrics and their text tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def percent(x: Any, missing: str = "–") -> str:
    """``0.0123`` as ``"1.23%"``; None or NaN as ``missing``."""
    if x is None or not np.isfinite(float(x)):
        return missing
    return f"{100 * float(x):.2f}%"


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``C[i, j]`` = how many samples of true class ``i`` were predicted as ``j``: ``(K, K)``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(
        n_classes, n_classes
    )


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each true class: ``C[i, i] / Σ_j C[i, j]`` (NaN for an absent class)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / totals, np.nan)


PER_CLASS_HEAD = ("class", "images", "correct", "accuracy")


def per_class_rows(
    cm: np.ndarray, names: Sequence[Any] | None = None
) -> list[tuple[str, str, str, str]]:
    """One row of text per true class: the class (its name, if ``names`` are given), its
    images, how many were right and the accuracy ("-" for an absent class); the columns
    of :data:`PER_CLASS_HEAD`."""
    acc = per_class_accuracy(cm)
    names = range(len(acc)) if names is None else names
    return [
        (str(name), f"{cm[k].sum():,}", f"{cm[k, k]:,}", percent(a, missing="-"))
        for k, (name, a) in enumerate(zip(names, acc, strict=True))
    ]


def format_per_class(cm: np.ndarray, names: Sequence[Any] | None = None) -> str:
    rows = per_class_rows(cm, names)
    widths = (max(5, *(len(r[0]) for r in rows)), 6, 7, 8)
    lines = ["  ".join(h.rjust(w) for h, w in zip(PER_CLASS_HEAD, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def format_confusion(cm: np.ndarray, names: Sequence[Any] | None = None) -> str:
    """The confusion matrix as text: rows are true classes, columns predicted ones;
    ``names`` label the rows (the columns are numbered when names are long, and the
    numbers say which name)."""
    k = cm.shape[0]
    width = max(4, len(f"{cm.max():,}") + 1)
    labels = [str(n) for n in (range(k) if names is None else names)]
    short = all(len(n) < width for n in labels)
    columns = labels if short else [str(j) for j in range(k)]
    rows = labels if short else [f"{n} ({j})" for j, n in enumerate(labels)]
    side = max(16, *(len(r) for r in rows))
    head = "true \\ predicted".ljust(side + 1) + "".join(f"{c:>{width}}" for c in columns)
    lines = [head, "-" * len(head)]
    for i in range(k):
        cells = "".join(
            f"{cm[i, j]:>{width},}" if cm[i, j] or i == j else f"{'.':>{width}}" for j in range(k)
        )
        lines.append(f"{rows[i]:>{side}} {cells}")
    return "\n".join(lines)
