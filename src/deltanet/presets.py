"""Named training configurations: ``deltanet train --preset NAME`` and ``dn.presets.NAME()``.

Each preset is a dict of ``deltanet train`` settings (flag names with ``_``); flags given
on the command line override them.  How they were chosen, with every run's validation
and test error, is in ``docs/best.md``.
"""

from __future__ import annotations

from typing import Any

_BEST: dict[str, Any] = {
    "layers": [784, 800, 800, 10],
    "hidden": "relu",
    "loss": "cross_entropy",
    "dropout": 0.3,
    "input_dropout": 0.0,
    "optimizer": "adam",
    "lr": 0.001,
    "schedule": "cosine",
    "warmup": 1,
    "batch_size": 100,
    "epochs": 100,
    "augment": "elastic",
    "average": 0.999,
    "max_norm": 0.0,
    "val_size": 0,
}


def best() -> dict[str, Any]:
    """784-800-800-10 ReLU, dropout 0.3, affine + elastic distortions, Adam with cosine
    decay, weight averaging, all 60,000 training images: under 1% test error in well
    under 30 minutes on two cores."""
    return dict(_BEST)


def best_long() -> dict[str, Any]:
    """:func:`best` for three times as many epochs: what a longer budget buys."""
    return {**_BEST, "epochs": 300}


PRESETS = {"best": best, "best-long": best_long}


def get(name: str) -> dict[str, Any]:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
