import json

import numpy as np
import pytest
from helpers import training_metadata
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import deltanet as dn
from deltanet import modelfile
from deltanet.errors import ModelFileError, UserError
from deltanet.modelfile import load, load_checkpoint, save, save_checkpoint


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


@pytest.fixture
def path(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)
    return path


def rewrite(path, change, resign=False):
    """Apply ``change(metadata, tensors)`` to a file; ``resign``: put a digest that
    matches the changed contents, as someone who knows the format could."""
    tensors = load_file(path)
    with safe_open(path, "numpy") as f:
        metadata = dict(f.metadata())
    change(metadata, tensors)
    if resign:
        covered = {"architecture": json.loads(metadata["architecture"])}
        metadata["sha256"] = modelfile.digest(covered, tensors)
    save_file(tensors, path, metadata=metadata)


def edit_architecture(**changes):
    def change(metadata, tensors):
        arch = json.loads(metadata["architecture"])
        arch.update(changes)
        metadata["architecture"] = json.dumps(arch)

    return change


def test_round_trip(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path, training={"epochs": 3})
    back = load(path)
    assert back.to_config() == net.to_config()
    assert back.params.dtype == np.float32
    np.testing.assert_array_equal(back.params, net.params)
    assert training_metadata(path) == {"epochs": 3}


def test_file_is_safetensors_without_pickle(path):
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    assert set(header) == {"__metadata__", "W1", "b1", "W2", "b2"}
    metadata = header["__metadata__"]
    assert metadata["format"] == "deltanet" and metadata["format_version"] == "2"
    assert set(metadata) == {"format", "format_version", "architecture", "sha256", "training"}
    # every tensor is plain data: a dtype, a shape and a byte range, nothing to execute
    for name, entry in header.items():
        if name != "__metadata__":
            assert set(entry) == {"dtype", "shape", "data_offsets"}
    assert all(isinstance(v, str) for v in metadata.values())


def test_the_digest_is_what_the_format_says(path, net):
    # SHA-256 of the canonical architecture JSON, then each tensor (name order): its
    # name, a zero byte, its bytes
    import hashlib

    arch = json.dumps({"architecture": net.to_config()}, sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(arch.encode())
    for name in ("W1", "W2", "b1", "b2"):
        h.update(name.encode() + b"\0" + net.layout[name].view(net.params).tobytes())
    with safe_open(path, "numpy") as f:
        assert f.metadata()["sha256"] == h.hexdigest()


def test_tampered_weights_are_refused(path):
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01  # flip the lowest mantissa bit of the last weight
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        load(path)


def test_tampered_architecture_is_refused(path):
    # the weights are untouched, but the penalty that decides training changed
    rewrite(path, edit_architecture(l2=0.5))
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        load(path)


def test_a_file_without_its_digest_is_refused(path):
    rewrite(path, lambda metadata, tensors: metadata.pop("sha256"))
    with pytest.raises(ModelFileError, match="no SHA-256 digest"):
        load(path)


def test_another_format_version_is_refused(path):
    rewrite(path, lambda metadata, tensors: metadata.update(format_version="1"))
    with pytest.raises(ModelFileError, match="format version '1'; this deltanet reads version 2"):
        load(path)


# Below, the digest is made to match the changes: the checks behind it still hold.


def test_architecture_that_does_not_match_the_tensors(path):
    rewrite(path, edit_architecture(layers=[6, 4, 3]), resign=True)
    with pytest.raises(ModelFileError, match=r"tensor W1 has shape \(6, 5\).*needs \(6, 4\)"):
        load(path)


def test_dtype_that_does_not_match(path):
    rewrite(path, edit_architecture(dtype="float64"), resign=True)
    with pytest.raises(ModelFileError, match="tensor W1 is float32, the metadata says float64"):
        load(path)


def test_architecture_too_large_for_its_tensors_is_refused_before_allocating(path):
    rewrite(path, edit_architecture(layers=[10**6, 10**6, 3]), resign=True)
    with pytest.raises(ModelFileError, match=r"tensor W1 has shape \(6, 5\)"):
        load(path)


def test_non_finite_weights_are_refused(path):
    def poison(metadata, tensors):
        tensors["b2"] = np.full_like(tensors["b2"], np.nan)

    rewrite(path, poison, resign=True)
    with pytest.raises(ModelFileError, match="NaN"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        (b"\xff" * 100, "bad header length"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", "not a valid safetensors"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00[]", "not a JSON object"),
    ],
)
def test_garbage_files(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_truncated_file(path):
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="not a valid safetensors"):
        load(path)


def test_a_header_claiming_more_than_the_file_holds(tmp_path):
    header = json.dumps(
        {"W1": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}
    )
    path = tmp_path / "huge.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode())
    with pytest.raises(ModelFileError, match="its tensors take 4,000,000,000,000 bytes"):
        load(path)


def test_missing_file_folder_and_device(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="is a folder"):
        load(tmp_path)
    with pytest.raises(ModelFileError, match="not a regular file"):
        load("/dev/zero")  # refused from its type: reading it would never end


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, path)
    with pytest.raises(ModelFileError, match="not a deltanet file"):
        load(path)


def test_model_file_errors_are_user_errors():
    assert issubclass(ModelFileError, UserError) and issubclass(ModelFileError, ValueError)


def test_nan_is_never_saved(tmp_path, net):
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save(net, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="NaN"):
        save_checkpoint(tmp_path / "c.safetensors", net, {}, {})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path, net):
    path = tmp_path / "c.safetensors"
    extra = {"opt.m": np.arange(net.n_params, dtype=np.float32)}
    save_checkpoint(path, net, extra, {"epoch": 3, "rng": {"state": 2**70}})
    back, arrays, state = load_checkpoint(path)
    np.testing.assert_array_equal(back.params, net.params)
    np.testing.assert_array_equal(arrays["opt.m"], extra["opt.m"])
    assert state == {"epoch": 3, "rng": {"state": 2**70}}


def test_a_checkpoint_is_not_loaded_as_a_model(tmp_path, net):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, net, {}, {})
    with pytest.raises(ModelFileError, match="a training checkpoint, not a model file"):
        load(path)


def test_the_digest_of_a_checkpoint_covers_its_state(tmp_path, net):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, net, {"opt.m": np.zeros(net.n_params, np.float32)}, {"epoch": 3})
    rewrite(path, lambda metadata, tensors: metadata.update(state='{"epoch": 4}'))
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        load_checkpoint(path)
    save_checkpoint(path, net, {"opt.m": np.zeros(net.n_params, np.float32)}, {"epoch": 3})

    def optimizer_state(metadata, tensors):
        tensors["state.opt.m"] = np.ones_like(tensors["state.opt.m"])

    rewrite(path, optimizer_state)
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        load_checkpoint(path)


# ---------------------------------------------------------------------- models


def test_a_model_round_trips_with_its_labels_and_standardization(tmp_path, rng):
    net = dn.MLP([4, 6, 3], dtype="float32", seed=1)
    X = rng.normal(50, 10, size=(30, 4))
    model = dn.Model(net, ["setosa", "versicolor", "virginica"], dn.Standardizer.fit(X))
    path = tmp_path / "m.safetensors"
    dn.save_model(model, path, training={"note": "for people"})
    back = dn.load_model(path)
    assert back.classes == model.classes and back.input_shape is None
    np.testing.assert_array_equal(back.standardizer.mean, model.standardizer.mean)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(dn.load(path).params, net.params)  # the bare network


def test_a_plain_model_file_loads_as_a_model(tmp_path):
    net = dn.MLP([784, 20, 10], seed=0)
    dn.save(net, tmp_path / "m.safetensors")
    model = dn.load_model(tmp_path / "m.safetensors")
    assert model.classes is None and model.standardizer is None
    assert model.labels == tuple(range(10))


@pytest.mark.parametrize(
    "edit",
    [
        lambda t, m: m.update(model=m["model"].replace("cat", "cow")),
        lambda t, m: t.update({"input.mean": t["input.mean"] + 1}),
        lambda t, m: t.pop("input.scale"),
    ],
    ids=["labels changed", "standardization changed", "scale removed"],
)
def test_the_digest_covers_labels_and_standardization(tmp_path, edit):
    net = dn.MLP([2, 3, 2], seed=0)
    model = dn.Model(net, ["cat", "dog"], dn.Standardizer(np.zeros(2), np.ones(2)))
    path = tmp_path / "m.safetensors"
    dn.save_model(model, path)
    rewrite(path, lambda metadata, tensors: edit(tensors, metadata))
    with pytest.raises(dn.ModelFileError, match="digest"):
        dn.load_model(path)


def test_feature_names_round_trip_under_the_digest(tmp_path):
    from deltanet.model import Model

    model = Model(dn.MLP([2, 3, 2]), ("no", "yes"), feature_names=("age", "income"))
    dn.save_model(model, tmp_path / "m.safetensors")
    back = dn.load_model(tmp_path / "m.safetensors")
    assert back.feature_names == ("age", "income") and back.classes == ("no", "yes")


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ('{"epochs": 3, "loss_curve_": [0.5]}', {"epochs": 3, "loss_curve_": [0.5]}),
        ("[1, 2]", {}),  # not an object
        ("{not json", {}),
        (None, {}),  # no training metadata at all
    ],
)
def test_read_model_gives_the_training_record_beside_the_model(path, net, stored, read):
    # the record is not covered by the digest: it may be anything, the model still loads
    def change(metadata, tensors):
        if stored is None:
            del metadata["training"]
        else:
            metadata["training"] = stored

    rewrite(path, change)
    model, training = modelfile.read_model(path)
    np.testing.assert_array_equal(model.net.params, net.params)
    assert training == read
