"""Classification metrics and their text tables."""

from __future__ import annotations

import numpy as np


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


def format_per_class(cm: np.ndarray) -> str:
    acc = per_class_accuracy(cm)
    lines = ["class  images  correct  accuracy", "-----  ------  -------  --------"]
    for k, a in enumerate(acc):
        shown = "-" if np.isnan(a) else f"{100 * a:7.2f}%"
        lines.append(f"{k:>5}  {cm[k].sum():>6,}  {cm[k, k]:>7,}  {shown:>8}")
    return "\n".join(lines)


def format_confusion(cm: np.ndarray) -> str:
    """The confusion matrix as text: rows are true classes, columns predicted ones."""
    k = cm.shape[0]
    width = max(4, len(f"{cm.max():,}") + 1)
    head = "true \\ predicted".ljust(17) + "".join(f"{j:>{width}}" for j in range(k))
    lines = [head, "-" * len(head)]
    for i in range(k):
        cells = "".join(
            f"{cm[i, j]:>{width},}" if cm[i, j] or i == j else f"{'.':>{width}}" for j in range(k)
        )
        lines.append(f"{i:>16} {cells}")
    return "\n".join(lines)
