import json

import numpy as np
import pytest

import deltanet as dn
from deltanet.io import ModelFileError, atomic_write_bytes, load, save


@pytest.fixture
def net(rng):
    net = dn.MLP(
        [6, 5, 3],
        hidden="tanh",
        loss="squared_error",
        output="linear",
        l2=0.01,
        dtype="float32",
        seed=3,
    )
    net.params = rng.normal(size=net.n_params)
    return net


def test_round_trip(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path, training={"epochs": 3})
    back = load(path)
    assert back.config() == net.config()
    assert back.params.dtype == np.float32
    np.testing.assert_array_equal(back.params, net.params)
    assert dn.io.training_metadata(path) == {"epochs": 3}


def test_file_is_safetensors_without_pickle(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    assert set(header) == {"__metadata__", "W1", "b1", "W2", "b2"}
    assert header["__metadata__"]["format"] == "deltanet"
    # every tensor is plain data: a dtype, a shape and a byte range, nothing to execute
    for name, entry in header.items():
        if name != "__metadata__":
            assert set(entry) == {"dtype", "shape", "data_offsets"}
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


def test_tampered_weights_are_refused(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01  # flip the lowest mantissa bit of the last weight
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        load(path)


def tamper_header(path, change):
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    change(header)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (n - len(raw)) if len(raw) <= n else b""
    assert len(raw) == n, "keep the header length so only the content is wrong"
    path.write_bytes(data[:8] + raw + data[8 + n :])


def test_architecture_that_does_not_match_the_tensors(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)

    def wider(h):
        arch = json.loads(h["__metadata__"]["architecture"])
        arch["layers"] = [6, 4, 3]
        h["__metadata__"]["architecture"] = json.dumps(arch)

    tamper_header(path, wider)
    with pytest.raises(ModelFileError, match=r"tensor W1 has shape \(6, 5\).*needs \(6, 4\)"):
        load(path)


def test_dtype_that_does_not_match(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)

    def f64(h):
        arch = json.loads(h["__metadata__"]["architecture"])
        arch["dtype"] = "float64"
        h["__metadata__"]["architecture"] = json.dumps(arch)

    tamper_header(path, f64)
    with pytest.raises(ModelFileError, match="tensor W1 is float32, the metadata says float64"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        (b"\xff" * 100, "bad header length"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", "not a valid safetensors"),
    ],
)
def test_garbage_files(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_truncated_file(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="not a valid safetensors"):
        load(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="is a folder"):
        load(tmp_path)


def test_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, path)
    with pytest.raises(ModelFileError, match="not a deltanet file"):
        load(path)


def test_nan_is_never_saved(tmp_path, net):
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save(net, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f"
    atomic_write_bytes(path, b"old")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left behind


def test_architecture_too_large_for_its_tensors_is_refused_before_allocating(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)

    def huge(h):
        arch = json.loads(h["__metadata__"]["architecture"])
        arch["layers"] = [10**6, 10**6, 3]
        h["__metadata__"]["architecture"] = json.dumps(arch, separators=(",", ":"))

    tamper_header(path, huge)
    with pytest.raises(ModelFileError, match=r"tensor W1 has shape \(6, 5\)"):
        load(path)
