import gzip
import struct

import numpy as np
import pytest

from deltanet import datasets
from deltanet.datasets import IDXError, load_mnist, parse_idx, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_set(folder, n_train=6, n_test=4, gz=False, n_train_labels=None):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train_labels or n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def test_embedded_mnist():
    X, y, Xt, yt = load_mnist()
    assert X.shape == (60000, 784) and X.dtype == np.float32
    assert Xt.shape == (10000, 784) and Xt.dtype == np.float32
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert np.issubdtype(y.dtype, np.integer)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert y[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_embedded_arrays_are_fresh_copies():
    a = load_mnist()
    a.X_train[0] = 5
    assert load_mnist().X_train[0].max() <= 1


@pytest.mark.parametrize("gz", [False, True])
def test_load_from_folder(tmp_path, gz):
    arrays = write_set(tmp_path, gz=gz)
    X, y, Xt, _yt = load_mnist(path=tmp_path)
    assert X.shape == (6, 784) and Xt.shape == (4, 784)
    np.testing.assert_allclose(X[0] * 255, arrays["train-images-idx3-ubyte"][0].ravel(), atol=1e-4)
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])


def test_truncated_file(tmp_path):
    write_set(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        IDXError, match=r"train-images-idx3-ubyte: truncated: header says 6 × 28 × 28"
    ):
        load_mnist(path=tmp_path)


def test_trailing_bytes(tmp_path):
    write_set(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IDXError, match="t10k-labels-idx1-ubyte: has trailing bytes"):
        load_mnist(path=tmp_path)


def test_wrong_magic(tmp_path):
    write_set(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    with pytest.raises(IDXError, match="train-labels-idx1-ubyte: bad magic number 0x1234"):
        load_mnist(path=tmp_path)


def test_wrong_count(tmp_path):
    write_set(tmp_path, n_train=6, n_train_labels=5)
    with pytest.raises(IDXError, match="train has 6 images but 5 labels"):
        load_mnist(path=tmp_path)


def test_corrupt_gzip(tmp_path):
    write_set(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXError, match="corrupt or truncated gzip"):
        load_mnist(path=tmp_path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(IDXError, match="not a folder"):
        load_mnist(path=tmp_path / "nope")
    with pytest.raises(IDXError, match="no train-images-idx3-ubyte"):
        load_mnist(path=tmp_path)


def test_checksum_mismatch(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(3)))
    with pytest.raises(IDXError, match="SHA-256 mismatch"):
        read_idx(path, sha256=datasets.MNIST_SHA256["t10k-labels-idx1-ubyte"])


def test_embedded_files_match_published_checksums():
    for stem, digest in datasets.MNIST_SHA256.items():
        read_idx(datasets.embedded_dir() / (stem + ".gz"), sha256=digest)


def test_parse_other_types_and_short_headers():
    data = struct.pack(">BBBBI", 0, 0, 0x0D, 1, 2) + np.array([1.5, -2], ">f4").tobytes()
    np.testing.assert_array_equal(parse_idx(data), [1.5, -2])
    with pytest.raises(IDXError, match="too short"):
        parse_idx(b"\0\0")
    with pytest.raises(IDXError, match="ends before them"):
        parse_idx(b"\0\0\x08\x03\0\0")


def test_a_path_that_is_not_a_readable_file_is_an_idx_error(tmp_path):
    from deltanet.errors import DataError

    for path, message in [(tmp_path / "missing", "no such file"), (tmp_path, "is a folder")]:
        with pytest.raises(IDXError, match=message):
            read_idx(path)
    assert issubclass(IDXError, DataError)


def test_an_idx_header_announcing_more_than_ram_is_refused_before_reading(tmp_path):
    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", 100_000, 1000, 1000)
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(header + b"\0" * 1000))
    with pytest.raises(IDXError, match=r"would need 100\.0 GB, more than this machine's"):
        read_idx(tmp_path / "bomb.gz")
    with pytest.raises(IDXError, match="truncated: header says 3 × 5 values"):
        (tmp_path / "short").write_bytes(struct.pack(">BBBB2I", 0, 0, 8, 2, 3, 5) + b"\0")
        read_idx(tmp_path / "short")
