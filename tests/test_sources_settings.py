import numpy as np
import pytest

import deltanet as dn
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError, DataError
from deltanet.model import Model
from deltanet.sources import Dataset
from deltanet.sources.settings import (
    check_config,
    check_fits,
    fit_config,
    rows_for,
    standardizer,
)


def dataset(kind="table", n=60, features=5, classes=("a", "b", "c"), shape=None):
    X = np.arange(n * features, dtype=np.float64).reshape(n, features)
    y = np.arange(n) % len(classes)
    names = tuple(f"f{j}" for j in range(features)) if kind == "table" else None
    cls = None if kind == "idx" else classes
    return Dataset(X, y, X[:9], y[:9], cls, names, shape, kind, "here")


def test_the_data_decides_the_widths_the_validation_split_and_the_epochs():
    cfg = fit_config(TrainConfig(), dataset(n=60))
    assert cfg.layers == (5, 300, 3) and cfg.val_size == 10  # a sixth of 60
    assert cfg.epochs == 300  # 1 batch an epoch: ten times the default, no more
    digits = fit_config(TrainConfig(), dataset(n=1438))
    assert digits.val_size == 239 and digits.epochs == 125  # 12 batches: 1,500 updates
    assert fit_config(TrainConfig(epochs=5), dataset(n=60), {"epochs"}).epochs == 5
    best = dn.presets.best()
    assert fit_config(best, dataset()).layers == (5, 800, 800, 3)
    assert fit_config(best, dataset()).val_size == 0  # the preset's own
    given = fit_config(TrainConfig(layers=(5, 7, 3), val_size=4), dataset(), {"layers", "val_size"})
    assert given.layers == (5, 7, 3) and given.val_size == 4


def test_mnist_keeps_its_defaults():
    mnist = dataset("idx", n=60_000, features=784, classes=tuple(range(10)))
    assert fit_config(TrainConfig(), mnist) == TrainConfig()


def test_check_fits():
    idx = dataset("idx", features=784)  # labels 0..2
    check_fits((784, 30, 10), idx, "the model")  # more outputs than labels: allowed
    with pytest.raises(DataError, match="--layers gives 10 outputs but the data has 3 classes"):
        check_fits((784, 30, 10), idx, "--layers", exact=True)
    with pytest.raises(
        ConfigError, match="the model takes 784 inputs but the images have 5 pixels"
    ):
        check_fits((784, 10), dataset("idx"), "the model")
    with pytest.raises(ConfigError, match="takes 6 inputs but the data has 5 features"):
        check_fits((6, 3), dataset(), "--layers 6,3")
    with pytest.raises(DataError, match=r"has 3 classes \('a', 'b', 'c'\)"):
        check_fits((5, 4), dataset(), "--layers 5,4")  # named classes: exactly as many


def test_augmentation_needs_digit_sized_pictures():
    with pytest.raises(ConfigError, match="the data has rows of 5 features"):
        check_config(TrainConfig(layers=(5, 3), augment="affine"), dataset())
    pictures = dataset("pictures", features=784, shape=(28, 28))
    check_config(TrainConfig(layers=(784, 3), augment="affine"), pictures)


def test_tables_are_standardized_unless_told_not_to():
    assert standardizer(TrainConfig(), dataset()) is not None
    assert standardizer(TrainConfig(standardize=False), dataset()) is None
    assert standardizer(TrainConfig(), dataset("pictures", shape=(1, 5))) is None


def test_test_rows_in_the_models_terms():
    data = dataset()
    net = dn.MLP([3, 2, 3])
    model = Model(net, ("c", "b", "a"), feature_names=("f4", "f0", "f2"))
    X, y = rows_for(model, data)
    np.testing.assert_array_equal(X, data.X_test[:, [4, 0, 2]])
    np.testing.assert_array_equal(y, 2 - data.y_test)  # the model's order of the classes
    with pytest.raises(DataError, match="no column 'f9', a feature of the model"):
        rows_for(Model(net, ("a", "b", "c"), feature_names=("f9", "f0", "f2")), data)
