"""ONNX export: the graph onnx.checker accepts, and onnxruntime computing what deltanet does."""

import json

import numpy as np
import pytest
from helpers import FEATURES, TREES, tabular_model

import deltanet as dn
from deltanet.activations import ACTIVATIONS
from deltanet.errors import MissingExtraError
from deltanet.losses import OUTPUTS
from deltanet.model import Model, Standardizer

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from deltanet import onnx_export  # noqa: E402

TOLERANCE = 1e-5  # the issue's: onnxruntime's outputs against deltanet's


def run_onnx(proto, X):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.asarray(X, np.float32)})[0]


def test_mnist_test_set_agrees_to_1e_5(digit_model, tmp_path):
    model = dn.load_model(digit_model)
    X, y = dn.datasets.load_mnist().X_test, dn.datasets.load_mnist().y_test
    model.to_onnx(tmp_path / "mnist.onnx")
    proto = onnx.load(tmp_path / "mnist.onnx")
    onnx.checker.check_model(proto, full_check=True)
    theirs, ours = run_onnx(proto, X), model.predict_proba(X)
    assert theirs.shape == (10_000, 10) and theirs.dtype == np.float32
    assert np.abs(theirs - ours).max() <= TOLERANCE
    assert onnx_export.agreement(model, proto, X) == np.abs(theirs - ours).max()
    # and the same answers: the exported network is the trained one, not a fresh one
    assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).all()
    assert (theirs.argmax(axis=1) == y).mean() > 0.9


def test_a_tabular_model_standardizes_in_the_graph_and_names_its_classes():
    model, X, y = tabular_model()
    proto = model.to_onnx()
    ops = [node.op_type for node in proto.graph.node]
    assert ops[:4] == ["Cast", "Sub", "Div", "Cast"]  # in float64, then the network's float32
    P = run_onnx(proto, X)
    assert np.abs(P - model.predict_proba(X)).max() <= TOLERANCE
    meta = {p.key: p.value for p in proto.metadata_props}
    names = json.loads(meta["classes"])
    assert names == list(TREES) and json.loads(meta["feature_names"]) == list(FEATURES)
    assert (np.asarray(names)[P.argmax(axis=1)] == np.asarray(TREES)[y]).mean() > 0.95


def test_standardization_keeps_its_digits_in_float64():
    # a feature of 10⁵ ± 10⁻²: (x − mean) / scale done in float32 would lose it all
    net = dn.MLP([1, 2], loss="squared_error", output="linear", seed=0)
    x = np.float32(100_000.0) + np.arange(-4, 5, dtype=np.float32) * np.float32(0.0078125)
    model = Model(net, standardizer=Standardizer(np.array([100_000.0]), np.array([0.01])))
    got = run_onnx(model.to_onnx(), x[:, None])
    assert np.abs(got - model.predict_proba(x[:, None])).max() <= TOLERANCE * np.abs(got).max()


CASES = [
    (hidden, loss, output)
    for hidden in ACTIVATIONS
    for loss, output in [
        ("cross_entropy", None),
        ("binary_cross_entropy", None),
        *(("squared_error", o) for o in OUTPUTS if o != "softmax"),
    ]
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("hidden", "loss", "output"), CASES)
def test_every_activation_output_and_dtype(hidden, loss, output, dtype, rng):
    net = dn.MLP([6, 9, 7, 4], hidden=hidden, loss=loss, output=output, dtype=dtype, seed=3)
    X = (3 * rng.standard_normal((40, 6))).astype(np.float32)  # the kinks and tails too
    proto = net.to_onnx()
    ours = net.predict_proba(X)
    theirs = run_onnx(proto, X)
    assert theirs.dtype == ours.dtype  # a float64 network answers in float64, as in deltanet
    assert np.abs(theirs - ours).max() <= TOLERANCE * max(1.0, np.abs(ours).max())
    assert proto.graph.output[0].name == net.output_kind


def test_every_activation_and_output_has_an_operator():
    # an activation added to the registry without one fails here, not in a user's export
    assert set(ACTIVATIONS) | set(OUTPUTS) <= set(onnx_export.ACTIVATION_OPS)


def test_the_graph_is_opset_17_with_a_named_batch_input():
    proto = dn.MLP([784, 30, 10], seed=0).to_onnx()
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    (inp,) = proto.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "input" and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 784]
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Sigmoid", "Gemm", "Softmax"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == list(range(10))
    assert "MNIST-style" in meta["preprocessing"]  # a digit model says how a picture is made
    assert json.loads(meta["architecture"])["layers"] == [784, 30, 10]
    onnx.checker.check_model(proto, full_check=True)


def test_the_file_is_written_atomically_and_reads_back(tmp_path, monkeypatch):
    net = dn.MLP([5, 3, 2], seed=0)
    path = tmp_path / "net.onnx"
    net.to_onnx(path)
    assert onnx.load(path) == net.to_onnx()
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_nan_is_ever_exported(tmp_path):
    net = dn.MLP([3, 2], seed=0)
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.to_onnx(tmp_path / "nan.onnx")
    assert not list(tmp_path.iterdir())


def test_without_onnx_the_export_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'deltanet\[onnx\]'"):
        dn.MLP([3, 2], seed=0).to_onnx()


def test_the_onnxruntime_example_in_the_docs_runs(digit_model, tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs" / "serve.md"
    code = re.findall(r"```python\n(.*?)```", docs.read_text(), re.S)[-1]
    assert len([line for line in code.splitlines() if line.strip()]) == 5
    model = dn.load_model(digit_model)
    model.to_onnx(tmp_path / "mnist.onnx")
    X = dn.datasets.load_mnist().X_test[:5]
    np.save(tmp_path / "digits.npy", X.reshape(5, 28, 28))
    monkeypatch.chdir(tmp_path)
    exec(code, {})
    assert capsys.readouterr().out.strip() == str(model.predict(X).tolist())
