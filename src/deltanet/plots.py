"""Pictures of a training run, as matplotlib figures (headless: the Agg backend).

Every function returns a ``matplotlib.figure.Figure``, so a notebook shows it and
:func:`save_figure` writes it as PNG or SVG:

* :func:`learning_curves`: training loss, and train / validation / test error per epoch
  on a log scale, with the best validation epoch marked;
* :func:`confusion`: the confusion matrix, normalised per true class, with counts;
* :func:`first_layer`: the first layer's incoming weights as 28×28 tiles;
* :func:`mistakes`: the test digits the network got wrong most confidently;
* :func:`gradcheck`: relative error per block and per coordinate, with the threshold.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # never needs a display; set before pyplot is imported
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, TwoSlopeNorm
from matplotlib.figure import Figure

from deltanet.errors import ConfigError
from deltanet.files import atomic_write_bytes

if TYPE_CHECKING:
    from deltanet.gradcheck import GradCheckReport
    from deltanet.history import History

COLORS = {"train": "#1f77b4", "val": "#d62728", "test": "#2ca02c", "loss": "#444444"}


FORMATS = ("png", "svg", "pdf")


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """``fig`` as a PNG, SVG or PDF file's bytes; the figure is closed."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=dpi, format=fmt, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write ``fig`` (atomically) as PNG, SVG or PDF, by the file's suffix, and close it."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in FORMATS:
        plt.close(fig)
        raise ConfigError(f"{path}: pictures are written as .png, .svg or .pdf")
    atomic_write_bytes(path, figure_bytes(fig, fmt, dpi))
    return path


def _column(history: History, key: str) -> np.ndarray:
    return np.array([r.get(key, math.nan) for r in history.records], dtype=float)


def learning_curves(history: History, title: str = "Learning curves") -> Figure:
    """Loss and error per epoch; the best validation epoch is marked."""
    epochs = _column(history, "epoch")
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ax_loss.plot(epochs, _column(history, "loss"), color=COLORS["loss"], marker=".")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (mean over the epoch's batches)")
    ax_loss.set_yscale("log")
    ax_loss.set_title("Training loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    series = {
        label: (100 * _column(history, key), COLORS[key.split("_")[0]])
        for key, label in (
            ("train_error", "train (running, during the epoch)"),
            ("val_error", "validation"),
            ("test_error", "test (monitoring only)"),
        )
        if np.isfinite(_column(history, key)).any()
    }
    floor = _error_axis(ax_err, [values for values, _ in series.values()])
    for label, (values, color) in series.items():
        shown = values if floor is None else np.where(values > 0, values, floor)
        ax_err.plot(epochs, shown, marker=".", label=label, color=color)
    best = history.best_epoch
    if best is not None and "validation" in series:
        v = series["validation"][0][best - 1]
        ax_err.axvline(best, color=COLORS["val"], ls=":", lw=1)
        ax_err.plot(
            [best],
            [v if floor is None else max(v, floor)],
            marker="*",
            ms=14,
            color=COLORS["val"],
            ls="none",
            label=f"best validation: {v:.2f}% at epoch {best}",
        )
    ax_err.set_xlabel("epoch")
    ax_err.set_title("Classification error")
    ax_err.grid(True, which="both", alpha=0.3)
    ax_err.legend(fontsize=9)
    for ax in (ax_loss, ax_err):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(title)
    return fig


def _error_axis(ax: Axes, series: list[np.ndarray]) -> float | None:
    """Scale and label the error axis (values in percent) so it can be read.

    Errors spanning less than a factor of 10 get a linear axis; wider ranges a log axis
    with every 1-2-5 step labelled.  On a log axis an error of exactly 0% cannot be
    drawn, so it is drawn at a floor below the smallest error, as the label says;
    the floor is returned (None on a linear axis).
    """
    every = np.concatenate(series) if series else np.array([1.0])
    positive = every[np.isfinite(every) & (every > 0)]
    percent = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}%")
    if not positive.size or positive.max() < 10 * positive.min():
        ax.set_ylabel("error")
        ax.yaxis.set_major_formatter(percent)
        return None
    floor = positive.min() / 2
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(percent)
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    zeros = bool((every[np.isfinite(every)] <= 0).any())
    ax.set_ylabel("error (log scale" + (f"; 0% drawn at {floor:.2g}%)" if zeros else ")"))
    return floor


def confusion(cm: np.ndarray, title: str = "Confusion matrix (test set)") -> Figure:
    """Heat map of ``cm`` normalised per true class (row), annotated with the counts."""
    cm = np.asarray(cm)
    k = cm.shape[0]
    totals = cm.sum(axis=1, keepdims=True)
    rate = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    fig, ax = plt.subplots(figsize=(7.2, 6.2), constrained_layout=True)
    # log colour scale: the diagonal (~99%) and the rare confusions (~0.1%) both stay visible
    shown = np.where(cm > 0, rate, np.nan)
    floor = max(1e-4, float(np.nanmin(shown)) if np.isfinite(shown).any() else 1e-4)
    im = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=floor, vmax=1))
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                dark = rate[i, j] > 0.3
                ax.text(
                    j,
                    i,
                    f"{cm[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("fraction of the true class (log scale)")
    return fig


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(max_cols, max(1, math.ceil(math.sqrt(n * 1.4))))
    return math.ceil(n / cols), cols


def first_layer(
    W: np.ndarray, side: int = 28, max_units: int = 300, title: str | None = None
) -> Figure:
    """The incoming weights of each first-layer unit, ``W: (side², H)``, as image tiles.

    Each tile has its own symmetric scale, centred on zero (red positive, blue negative),
    so weak and strong units both show their pattern.
    """
    W = np.asarray(W, dtype=float)
    if W.shape[0] != side * side:
        raise ValueError(f"first_layer expects {side * side} inputs per unit, got {W.shape[0]}")
    units = min(W.shape[1], max_units)
    rows, cols = _grid(units, 20)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.62, rows * 0.62 + 0.6), squeeze=False)
    for idx, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if idx < units:
            tile = W[:, idx].reshape(side, side)
            vmax = float(np.abs(tile).max()) or 1.0
            ax.imshow(
                tile, cmap="RdBu_r", norm=TwoSlopeNorm(0, -vmax, vmax), interpolation="nearest"
            )
    shown = f"{units} of {W.shape[1]}" if units < W.shape[1] else f"all {units}"
    fig.suptitle(
        title
        or f"First-layer weights: {shown} hidden units (red +, blue −, "
        "each tile scaled to its own largest weight)",
        fontsize=10,
    )
    fig.subplots_adjust(wspace=0.06, hspace=0.06, top=1 - 0.5 / (rows * 0.62 + 0.6))
    return fig


def mistakes(
    X: np.ndarray,
    y: np.ndarray,
    proba: np.ndarray,
    count: int = 36,
    side: int = 28,
    title: str = "Most confident mistakes (test set)",
) -> Figure:
    """The ``count`` misclassified samples with the highest predicted probability."""
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]])][:count]
    n = max(len(order), 1)
    rows, cols = _grid(n, 9)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * 1.25, rows * 1.45 + 0.4), squeeze=False, constrained_layout=True
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, order, strict=False):
        ax.imshow(X[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"true {y[i]} → {pred[i]}\np = {proba[i, pred[i]]:.2f}", fontsize=8)
    if not len(order):
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle(f"{title}: {len(wrong):,} wrong of {len(y):,}")
    return fig


def gradcheck(report: GradCheckReport, title: str = "Gradient check") -> Figure:
    """Max relative error per block, and the histogram of per-coordinate errors."""
    fig, (ax_b, ax_h) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    names = [b.name for b in report.blocks]
    floor = 1e-17
    worst = [max(b.max_rel_error, floor) for b in report.blocks]
    colors = ["#2ca02c" if b.ok else "#d62728" for b in report.blocks]
    ax_b.bar(names, worst, color=colors)
    ax_b.axhline(
        report.rtol, color="k", ls="--", lw=1, label=f"pass threshold rtol = {report.rtol:g}"
    )
    ax_b.set_yscale("log")
    # whole decades around both the bars and the threshold, so the bars have a floor
    lo_b = 10 ** np.floor(np.log10(min(min(worst), report.rtol)) - 1)
    hi_b = 10 ** np.ceil(np.log10(max(max(worst), report.rtol)) + 0.5)
    ax_b.set_ylim(lo_b, hi_b)
    ax_b.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_b.set_ylabel("max relative error (log scale)")
    ax_b.set_xlabel("parameter block")
    ax_b.set_title("Worst coordinate per block (green: pass, red: fail)")
    ax_b.legend(fontsize=9)
    ax_b.grid(True, axis="y", which="both", alpha=0.3)
    errors = [np.maximum(b.rel_error[~b.kink], floor) for b in report.blocks]
    hi = max(float(np.max(e)) if e.size else floor for e in errors)
    lo = max(min(float(np.min(e)) if e.size else 1 for e in errors), floor)
    bins = np.logspace(np.log10(lo) - 0.1, np.log10(max(hi, report.rtol * 10)) + 0.1, 40)
    for b, e in zip(report.blocks, errors, strict=True):
        if e.size:
            ax_h.hist(e, bins=bins, histtype="step", lw=1.5, label=f"{b.name} ({e.size:,})")
    ax_h.axvline(report.rtol, color="k", ls="--", lw=1, label="threshold")
    ax_h.set_xscale("log")
    ax_h.set_yscale("log")
    ax_h.set_xlabel("relative error |a − n| / max(|a|, |n|, tiny) (log scale)")
    ax_h.set_ylabel("coordinates (log scale)")
    ax_h.set_title("Every checked coordinate (exact agreement drawn at 1e-17)")
    ax_h.legend(fontsize=8)
    verdict = "passed" if report.ok else f"FAILED in {', '.join(report.failed_blocks)}"
    fig.suptitle(f"{title}: {verdict}")
    return fig


__all__ = ["confusion", "first_layer", "gradcheck", "learning_curves", "mistakes", "save_figure"]
