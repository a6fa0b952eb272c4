import io
import zipfile

import numpy as np
import pytest

from deltanet.errors import DataError
from deltanet.sources.npz import load_npz

RNG = np.random.default_rng(0)


def test_a_training_set_is_split_and_its_own_test_set_kept(tmp_path):
    X, y = np.arange(40.0).reshape(20, 2), np.array(["a", "b"] * 10)
    np.savez(tmp_path / "split.npz", X_train=X, y_train=y)
    data = load_npz(str(tmp_path / "split.npz"), test_size=0.2, rng=RNG)
    assert data.classes == ("a", "b") and len(data.X_test) == 4 and data.input_shape is None
    np.savez_compressed(tmp_path / "own.npz", X_train=X, y_train=y, X_test=X[:3], y_test=y[:3])
    data = load_npz(str(tmp_path / "own.npz"), test_size=0.2, rng=RNG)
    np.testing.assert_array_equal(data.X_test, X[:3])
    np.testing.assert_array_equal(data.y_test, [0, 1, 0])


def test_pictures_keep_their_shape(tmp_path):
    X = RNG.integers(0, 255, (30, 4, 5, 3)).astype(np.uint8)
    np.savez(tmp_path / "p.npz", X_train=X, y_train=np.arange(30) % 3)
    data = load_npz(str(tmp_path / "p.npz"), test_size=0.2, rng=RNG)
    assert data.input_shape == (4, 5, 3) and data.n_features == 60


def zip_of(**members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "not a .npz file NumPy can read"),
        (zip_of(X_train=npy(np.zeros((2, 2)))), "no y_train"),
        (zip_of(X_train=npy_header((10**12, 784)), y_train=npy(np.zeros(2))), "the header says"),
        (zip_of(X_train=npy(np.zeros((2, 2))), y_train=npy(np.zeros(3))), "expected (2,)"),
        (zip_of(X_train=npy(np.array(["a", "b"])), y_train=npy(np.zeros(2))), "must be numbers"),
        (zip_of(X_train=npy(np.full((2, 2), np.nan)), y_train=npy(np.arange(2))), "NaN"),
        (
            zip_of(
                X_train=npy(np.zeros((4, 2))), y_train=npy(np.arange(4)), X_test=npy(np.zeros(2))
            ),
            "X_test and y_test come together",
        ),
    ],
)
def test_bad_npz_files(tmp_path, content, message):
    (tmp_path / "d.npz").write_bytes(content)
    with pytest.raises(DataError) as refusal:
        load_npz(str(tmp_path / "d.npz"), test_size=0.5, rng=RNG)
    assert message in str(refusal.value)


def test_pickled_objects_are_refused_before_loading(tmp_path):
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "o.npz", X_train=np.zeros((2, 2)), y_train=objects)
    with pytest.raises(DataError, match="holds Python objects"):
        load_npz(str(tmp_path / "o.npz"), test_size=0.5, rng=RNG)
