"""A run's settings made to fit its data: the widths, the validation split, the
standardization of the inputs, and what must agree.

The data decides the network's input width and its number of outputs; a run keeps its
own hidden widths (``deltanet train``'s 300, a preset's).  A setting given explicitly
is never changed: one that contradicts the data is a
:class:`~deltanet.errors.ConfigError` naming both.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from deltanet.errors import ConfigError, DataError
from deltanet.model import Model, Standardizer
from deltanet.sources.dataset import Dataset, encode

if TYPE_CHECKING:
    from deltanet.config import TrainConfig
    from deltanet.network import MLP

# the validation split is at most this fraction of the training rows: MNIST's 10,000
# of 60,000, kept for smaller data, so a small set does not lose most of its rows
VAL_FRACTION = 1 / 6
# the fewest weight updates a default run makes: on small data an epoch is a few
# mini-batches, and 30 of them leave the network half-trained.  On scikit-learn's
# digits (12 batches an epoch) validation error stopped falling by about 1,200
# updates (docs/data.md); MNIST's 500 batches an epoch are past this in 3 epochs
MIN_STEPS = 1500
MAX_EPOCHS_FACTOR = 10  # ... but never more than ten times the run's own epochs
AUGMENTED_SHAPE = (28, 28)  # what deltanet.augment distorts


def fit_config(config: TrainConfig, data: Dataset, given: Collection[str] = ()) -> TrainConfig:
    """``config`` with what was not ``given`` fitted to ``data``: the input and output
    widths around its hidden ones, a validation split of at most a sixth of the
    training rows, and enough epochs for :data:`MIN_STEPS` weight updates (at most
    :data:`MAX_EPOCHS_FACTOR` times its own)."""
    changes: dict[str, Any] = {}
    if "layers" not in given:
        changes["layers"] = (data.n_features, *config.layers[1:-1], data.n_classes)
    val_size = config.val_size
    if "val_size" not in given:
        val_size = changes["val_size"] = min(val_size, int(len(data.X_train) * VAL_FRACTION))
    if "epochs" not in given:
        steps = -(-(len(data.X_train) - val_size) // config.batch_size)  # per epoch
        needed = -(-MIN_STEPS // max(steps, 1))
        changes["epochs"] = max(config.epochs, min(needed, MAX_EPOCHS_FACTOR * config.epochs))
    return config.replace(**changes)


def check_fits(layers: tuple[int, ...], data: Dataset, what: str, exact: bool = False) -> None:
    """Refuse widths that do not fit ``data``: the input must be its width, the output
    its number of classes (for data without class names, at least the largest label
    plus one; ``exact``: exactly that)."""
    images = data.kind == "idx"
    if layers[0] != data.n_features:
        have = (
            f"the images have {data.n_features} pixels"
            if images
            else (f"the data has {data.n_features} features")
        )
        raise ConfigError(f"{what} takes {layers[0]} inputs but {have}")
    K = data.n_classes
    if layers[-1] < K or ((exact or data.classes is not None) and layers[-1] != K):
        which = f"labels 0..{K - 1}" if data.classes is None else _few(data.classes)
        raise DataError(f"{what} gives {layers[-1]} outputs but the data has {K} classes ({which})")


def _few(classes: tuple) -> str:
    shown = ", ".join(map(repr, classes[:6]))
    return shown + (", ..." if len(classes) > 6 else "")


def check_config(config: TrainConfig, data: Dataset) -> None:
    """Everything in ``config`` that must agree with ``data``."""
    check_fits(config.layers, data, f"--layers {','.join(map(str, config.layers))}", exact=True)
    if config.augment != "none" and not _digit_sized(data):
        raise ConfigError(
            f"augment {config.augment!r} distorts 28×28 grey pictures; the data has {_rows(data)}"
        )


def _digit_sized(data: Dataset) -> bool:
    if data.kind == "idx":
        return data.n_features == 784
    return data.input_shape == AUGMENTED_SHAPE


def _rows(data: Dataset) -> str:
    if data.input_shape is not None:
        return "pictures of " + "×".join(map(str, data.input_shape))
    return f"rows of {data.n_features} features"


def standardizer(config: TrainConfig, data: Dataset) -> Standardizer | None:
    """The inputs' standardization, fitted on the training rows (the test rows never
    decide anything), if the config asks for one; by default tables and ``.npz`` files
    are standardized, pictures are not (their pixels are already in [0, 1])."""
    on = data.standardized_by_default() if config.standardize is None else config.standardize
    return Standardizer.fit(data.X_train) if on else None


def describe(data: Dataset, scaler: Standardizer | None) -> dict[str, Any]:
    """What a run's config.json records of its data beside the split sizes."""
    return {
        "source": data.source,
        "kind": data.kind,
        "features": data.n_features,
        "classes": list(data.labels),
        "standardized": scaler is not None,
    }


def model_of(net: MLP, data: Dataset, scaler: Standardizer | None) -> Model:
    """``net`` as a :class:`~deltanet.model.Model` of ``data``: its class names, feature
    names and picture shape, and the standardization it was trained behind."""
    return Model(net, data.classes, scaler, data.input_shape, data.feature_names)


def rows_for(model: Model, data: Dataset, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """``data``'s test (or ``"train"``) rows ``(M, D)`` (raw: the model standardizes
    them) and labels ``(M,)`` in ``model``'s terms: columns picked by the model's
    feature names, labels turned into the model's output units."""
    X, y = (data.X_test, data.y_test) if split == "test" else (data.X_train, data.y_train)
    if model.feature_names is not None and data.feature_names is not None:
        where = {name: j for j, name in enumerate(data.feature_names)}
        missing = [n for n in model.feature_names if n not in where]
        if missing:
            raise DataError(f"{data.source}: no column {missing[0]!r}, a feature of the model")
        X = X[:, [where[n] for n in model.feature_names]]
    if X.shape[1] != model.n_features:
        check_fits(model.net.layers, data, "the model")  # says what differs
    if model.classes is None:
        check_fits(model.net.layers, data, "the model")
        if data.classes is None:
            return X, y
    labels = np.asarray(data.labels, dtype=object)[y]
    return X, encode(labels, model.labels, f"{data.source}: the {split} labels")
