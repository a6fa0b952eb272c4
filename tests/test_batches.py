"""Mini-batches: gathered from byte codes when the images are bytes, and always exact."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltanet as dn
from deltanet import batches
from deltanet.batches import Batches, byte_codes

rng = np.random.default_rng(0)
RAW = rng.integers(0, 256, size=(300, 17), dtype=np.uint8)

BYTE_IMAGES = {
    "multiply in float32 (load_mnist)": np.multiply(RAW, np.float32(1 / 255), dtype=np.float32),
    "divide in float32": RAW.astype(np.float32) / np.float32(255),
    "float64 division": RAW / 255.0,
    "float32 widened to float64": (RAW * np.float32(1 / 255)).astype(np.float64),
}


@pytest.mark.parametrize("name", BYTE_IMAGES)
def test_byte_images_are_found_and_decoded_exactly(name):
    X = BYTE_IMAGES[name]
    found = byte_codes(X)
    assert found is not None
    codes, decode = found
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, RAW)
    np.testing.assert_array_equal(decode(codes, np.empty_like(X)), X)


@pytest.mark.parametrize(
    "X",
    [
        BYTE_IMAGES["multiply in float32 (load_mnist)"] + np.float32(1e-3),  # shifted
        BYTE_IMAGES["float64 division"] * 2,  # up to 2, not [0, 1]
        -BYTE_IMAGES["float64 division"],  # negative
        rng.random((300, 17)),  # not bytes at all
        RAW / 256.0,  # bytes, but a scale the decoders do not know
        np.where(RAW == 0, -0.0, RAW / 255.0),  # -0.0 would come back as +0.0
    ],
    ids=["shifted", "doubled", "negative", "random", "scaled by 1/256", "negative zero"],
)
def test_anything_else_is_not_taken_for_bytes(X):
    assert byte_codes(X) is None


def test_one_stray_value_in_a_late_chunk_is_caught(monkeypatch):
    monkeypatch.setattr(batches, "_CHUNK", 64)
    X = BYTE_IMAGES["multiply in float32 (load_mnist)"].copy()
    X[-1, -1] = np.nextafter(X[-1, -1], np.float32(2))
    assert byte_codes(X) is None


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 200),
    d=st.integers(1, 20),
    batch=st.integers(1, 64),
    as_bytes=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_gather_returns_exactly_the_rows_asked_for(n, d, batch, as_bytes, dtype, seed):
    r = np.random.default_rng(seed)
    raw = r.integers(0, 256, size=(n, d), dtype=np.uint8)
    X = (raw / 255.0 if as_bytes else r.normal(size=(n, d))).astype(dtype)
    Y = np.eye(3, dtype=dtype)[r.integers(0, 3, n)]
    labels = Y.argmax(axis=1)
    source = Batches(X, Y, labels, batch)
    assert source.from_bytes == as_bytes
    perm = r.permutation(n)
    for start in range(0, n, batch):
        idx = perm[start : start + batch]
        xb, yb, lb = source.gather(idx)
        np.testing.assert_array_equal(xb, X[idx])
        np.testing.assert_array_equal(yb, Y[idx])
        np.testing.assert_array_equal(lb, labels[idx])
        assert xb.dtype == X.dtype and len(xb) == len(idx)


def test_training_from_bytes_is_identical_to_training_from_floats(monkeypatch):
    data = dn.datasets.load_mnist()
    X, y = data.X_train[:2000], data.y_train[:2000]

    def train():
        net = dn.MLP([784, 30, 10], seed=0)
        net.fit(X, y, epochs=2, seed=0)
        return net.params

    Y = np.eye(10, dtype=np.float32)[y]
    assert Batches(X, Y, y, 100).from_bytes  # MNIST pixels are k/255
    from_bytes = train()
    monkeypatch.setattr(batches, "byte_codes", lambda X: None)
    np.testing.assert_array_equal(train(), from_bytes)
