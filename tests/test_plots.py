"""The pictures, as figures: what they show and how their axes read."""

import numpy as np
import pytest
from helpers import assert_picture

import deltanet as dn
from deltanet import plots


def history_of(train, val, best_epoch=None):
    records = [
        {
            "epoch": e,
            "lr": 0.001,
            "loss": 1 / e,
            "train_error": t,
            "val_error": v,
            "test_error": float("nan"),
            "seconds": 1.0,
        }
        for e, (t, v) in enumerate(zip(train, val, strict=True), 1)
    ]
    return dn.History(records, best_epoch=best_epoch)


def test_functions_return_figures_for_notebooks(tmp_path, rng):
    history = history_of([0.1 / e for e in range(1, 5)], [0.12 / e for e in range(1, 5)], 4)
    fig = plots.learning_curves(history)
    assert len(fig.axes) == 2
    path = plots.save_figure(fig, tmp_path / "curves.svg")
    assert "<svg" in path.read_text()[:2000]
    cm = rng.integers(0, 50, (10, 10)) + np.diag(np.full(10, 900))
    assert_picture(plots.save_figure(plots.confusion(cm), tmp_path / "cm.png"))
    with pytest.raises(ValueError, match="784 inputs"):
        plots.first_layer(np.zeros((100, 5)))
    with pytest.raises(dn.ConfigError, match=r"\.png, \.svg or \.pdf"):
        plots.save_figure(plots.confusion(cm), tmp_path / "cm.gif")


def labels(axis):
    """The tick labels matplotlib draws on ``axis`` within its view."""
    lo, hi = sorted(axis.get_view_interval())
    ticks = axis.get_major_locator()()
    fmt = axis.get_major_formatter()
    return [fmt(t) for t in ticks if lo <= t <= hi]


def test_the_error_axis_reads_in_percent_at_any_range():
    # a narrow range (1.9% to 2.1%): a linear axis, several labelled percentages
    narrow = plots.learning_curves(history_of([0.021, 0.0205, 0.0201], [0.02, 0.0195, 0.019]))
    ax = narrow.axes[1]
    assert ax.get_yscale() == "linear"
    shown = labels(ax.yaxis)
    assert len(shown) >= 3 and all(s.endswith("%") for s in shown)
    # decades (10% down to 0.05%): a log axis labelled at 1-2-5 steps
    wide = plots.learning_curves(history_of([0.1, 0.01, 0.0005], [0.05, 0.03, 0.02]))
    ax = wide.axes[1]
    assert ax.get_yscale() == "log"
    assert {"0.1%", "0.2%", "0.5%", "1%", "2%", "5%"} <= set(labels(ax.yaxis))
    # an error of 0 cannot sit on a log axis: it is drawn at a floor the label names
    zero = plots.learning_curves(history_of([0.1, 0.001, 0.0], [0.05, 0.03, 0.02]))
    ax = zero.axes[1]
    train = ax.get_lines()[0].get_ydata()
    assert train[-1] == pytest.approx(0.05) and "0% drawn at 0.05%" in ax.get_ylabel()
