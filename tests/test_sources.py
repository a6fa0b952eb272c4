import numpy as np
import pytest

from deltanet import sources
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError, DataError


def test_the_kind_of_data_is_read_off_the_path(digits, tiny_data, tmp_path):
    assert sources.kind_of(None) == "idx" and sources.kind_of(tiny_data) == "idx"
    assert sources.kind_of(digits / "digits.csv") == "table"
    assert sources.kind_of(digits / "digits.parquet") == "table"
    assert sources.kind_of(digits / "digits.npz") == "npz"
    assert sources.kind_of(digits / "pictures") == "pictures"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: not a kind of data deltanet reads"):
        sources.kind_of(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="nowhere: no such file or folder"):
        sources.kind_of(tmp_path / "nowhere")


def test_every_format_gives_the_same_digits(digits):
    seen = {}
    for name in ("digits.csv", "digits.parquet", "digits.npz", "pictures"):
        data = sources.load_data(digits / name, seed=3)
        assert data.n_features == 64 and data.n_classes == 10
        assert len(data.X_train) + len(data.X_test) == 1797 and len(data.X_test) == 359
        seen[name] = data
    # one seed, one split, whatever the format
    a, b = seen["digits.csv"], seen["digits.npz"]
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)

    # the pictures are the same digits (in another order): 0..16 stored as 0..255 and
    # read back as [0, 1]
    def rows(data, scale):
        every = np.round(np.concatenate([data.X_train, data.X_test]) * scale)
        return every[np.lexsort(every.T[::-1])]

    np.testing.assert_array_equal(rows(seen["pictures"], 16), rows(a, 1))


def test_options_of_another_format_are_refused(digits):
    with pytest.raises(ConfigError, match="channels applies to a folder of pictures; the data"):
        sources.load_data(digits / "digits.csv", channels=3)
    with pytest.raises(ConfigError, match="target applies to a table; the data is the embedded"):
        sources.load_data(None, target="x")


def test_a_config_names_its_data(digits):
    cfg = TrainConfig(data=str(digits / "digits.csv"), target="digit", test_size=0.5, seed=1)
    data = sources.from_config(cfg)
    assert len(data.X_test) == 898 and data.source == str(digits / "digits.csv")
