"""Named training configurations: ``deltanet train --preset NAME`` and ``dn.presets.NAME()``.

Each preset is a :class:`~deltanet.config.TrainConfig`; on the command line, flags given
with ``--preset`` override its settings, and from Python ``preset.replace(...)`` does.
``dn.training.train(dn.presets.best(), X, y)`` trains one.  How they were chosen, with
every run's validation and test error, is in ``docs/best.md``.
"""

from __future__ import annotations

from deltanet.config import TrainConfig
from deltanet.constraints import Options


def best() -> TrainConfig:
    """784-800-800-10 ReLU, dropout 0.3, affine + elastic distortions, Adam with cosine
    decay, weight averaging, all 60,000 training images: under 1% test error in well
    under 30 minutes on two cores."""
    return TrainConfig(
        layers=(784, 800, 800, 10),
        hidden="relu",
        loss="cross_entropy",
        dropout=0.3,
        input_dropout=0.0,
        optimizer="adam",
        lr=0.001,
        schedule="cosine",
        warmup=1,
        batch_size=100,
        epochs=100,
        augment="elastic",
        average=0.999,
        max_norm=0.0,
        val_size=0,
    )


def best_long() -> TrainConfig:
    """:func:`best` for three times as many epochs: what a longer budget buys."""
    return best().replace(epochs=300)


def record() -> TrainConfig:
    """:func:`best` with batches of 200 at twice the learning rate, for 350 epochs: the
    most a 30-minute budget on two cores buys.

    Chosen on the validation split (docs/best.md): at 40 epochs, batches of 200 at lr
    0.002 met ``best``'s validation error (0.82% both) in 0.7 of its time per epoch; the
    wider and deeper networks, input dropout and stronger distortions did no better
    within the noise of 10,000 validation images, and cost more per epoch.  Then the
    budget decides the epochs: 350 at 4.3–5 s each, with room for a slow spell."""
    return best().replace(batch_size=200, lr=0.002, epochs=350)


PRESETS = {"best": best, "best-long": best_long, "record": record}
RULE = Options(PRESETS, "preset")


def get(name: str) -> TrainConfig:
    """The preset called ``name`` (a :class:`~deltanet.errors.ConfigError` if none is)."""
    return PRESETS[RULE.check("preset", name)]()
