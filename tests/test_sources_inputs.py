import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deltanet as dn
from deltanet.errors import DataError
from deltanet.model import Model, Standardizer
from deltanet.sources.inputs import is_digit_model, read_inputs


def test_table_rows_are_picked_by_the_models_feature_names(tmp_path):
    model = Model(dn.MLP([2, 3, 2]), ("a", "b"), feature_names=("w", "h"))
    pd.DataFrame({"h": [1.0, 2.0], "label": ["a", "b"], "w": [5.0, 6.0]}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    np.testing.assert_array_equal(read_inputs(tmp_path / "rows.csv", model), [[5, 1], [6, 2]])
    pd.DataFrame({"h": [1.0]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match="no column 'w'"):
        read_inputs(tmp_path / "short.csv", model)


def test_npy_rows_and_pictures_for_a_picture_model(tmp_path):
    model = Model(dn.MLP([12, 3, 2]), ("a", "b"), input_shape=(3, 4))
    np.save(tmp_path / "rows.npy", np.ones((5, 3, 4)))
    assert read_inputs(tmp_path / "rows.npy", model).shape == (5, 12)
    Image.new("L", (40, 30), 255).save(tmp_path / "big.png")
    picture = read_inputs(tmp_path / "big.png", model)
    assert picture.shape == (1, 12) and np.allclose(picture, 1.0)
    np.save(tmp_path / "wrong.npy", np.ones((5, 7)))
    with pytest.raises(DataError, match="shape \\(5, 7\\); the model takes rows of 12 features"):
        read_inputs(tmp_path / "wrong.npy", model)


def test_a_table_model_does_not_read_pictures(tmp_path):
    model = Model(dn.MLP([2, 3, 2]), standardizer=Standardizer(np.zeros(2), np.ones(2)))
    assert not is_digit_model(model) and is_digit_model(Model(dn.MLP([784, 3, 10])))
    Image.new("L", (4, 4)).save(tmp_path / "p.png")
    with pytest.raises(DataError, match="it was not trained on pictures"):
        read_inputs(tmp_path / "p.png", model)
