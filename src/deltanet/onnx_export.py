"""A network or a model as an ONNX graph, for onnxruntime and every other ONNX runtime.

The graph is built with the ``onnx`` package's helper API, opset :data:`OPSET`::

    input: (N, D) float32
      Cast double, Sub mean, Div scale, Cast    a Model's standardization (float64)
      Gemm(W1, b1), hidden activation           one per hidden layer
      Gemm(WL, bL), output non-linearity        Softmax, Sigmoid, ...
    probabilities: (N, K) float32               "scores" for a squared-error network

A float64 network computes in float64 inside the graph (its input is cast up) and
gives float64 outputs, as deltanet does; the standardization is done in float64 as
:meth:`Model.prepare <deltanet.model.Model.prepare>` does it, so a feature with a large
mean and a small spread keeps its digits.  What the graph cannot compute goes in the
model's ``metadata_props`` as JSON: the class names (``classes``: the label of output
``k`` is ``classes[k]``), the features' names, the picture shape, how a user's picture becomes an input, the
architecture, and whether the outputs are probabilities or scores.

``onnx`` is imported only here, and is the ``deltanet[onnx]`` extra.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from deltanet.activations import LEAKY_SLOPE
from deltanet.extras import require
from deltanet.files import atomic_write_bytes
from deltanet.model import Model
from deltanet.network import MLP

if TYPE_CHECKING:
    import onnx

OPSET = 17  # ONNX 1.12 (2022): every maintained runtime reads it
INPUT = "input"
FEATURE = "ONNX export"

# activation name -> the ONNX operator and its attributes; None: nothing to compute.
# Softplus is composed of simpler operators (see _Graph.softplus): onnxruntime has the
# Softplus operator in float32 only.
ACTIVATION_OPS: dict[str, tuple[str, dict[str, Any]] | None] = {
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": LEAKY_SLOPE}),
    "softplus": ("Softplus", {}),
    "linear": None,
    "softmax": ("Softmax", {"axis": 1}),
}

DIGIT_PREPROCESSING = (
    "a picture of a digit, MNIST-style (deltanet.images.mnist_style): grey levels with "
    "the ink 1 and the paper 0, cropped, scaled into a 20x20 box keeping its aspect, "
    "centred by its centre of mass in 28x28, flattened row by row"
)


def output_name(net: MLP) -> str:
    """The graph output's name: "probabilities", or "scores" for squared error."""
    return net.output_kind


def build(source: MLP | Model) -> onnx.ModelProto:
    """The ONNX model of a network or a :class:`~deltanet.model.Model`, checked by
    ``onnx.checker``.

    Raises:
        MissingExtraError: ``onnx`` is not installed.
    """
    onnx = require("onnx", "onnx", FEATURE)
    helper = onnx.helper
    model = source if isinstance(source, Model) else Model(source)
    net = model.net
    if not np.isfinite(net.params).all():
        raise ValueError("refusing to export a network with NaN or infinite parameters")
    graph = _Graph(onnx)
    x, dtype = INPUT, np.dtype(np.float32)
    if model.standardizer is not None:
        x, dtype = graph.standardize(x, model), np.dtype(np.float64)
    if dtype != net.dtype:
        x = graph.cast(x, net.dtype)
    top = len(net.W) - 1
    for i, (W, b) in enumerate(zip(net.W, net.b, strict=True)):
        z = graph.node("Gemm", [x, graph.constant(f"W{i + 1}", W), graph.constant(f"b{i + 1}", b)])
        x = graph.activation(z, net.hidden if i < top else net.output, net.dtype)
    out = output_name(net)
    graph.nodes[-1].output[0] = out  # the last node writes the graph's output
    float_type = onnx.TensorProto.FLOAT
    out_type = helper.np_dtype_to_tensor_dtype(net.dtype)
    proto = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "deltanet_" + "_".join(map(str, net.layers)),
            [helper.make_tensor_value_info(INPUT, float_type, ["N", net.layers[0]])],
            [helper.make_tensor_value_info(out, out_type, ["N", net.layers[-1]])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="deltanet",
        producer_version=_version(),
        doc_string=f"{net!r}: {out} of {net.layers[-1]} classes",
    )
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    helper.set_model_props(proto, metadata(model))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def save(source: MLP | Model, path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the ONNX model of ``source`` to ``path`` (atomically); return it."""
    proto = build(source)
    atomic_write_bytes(path, proto.SerializeToString())
    return proto


def agreement(source: MLP | Model, proto: onnx.ModelProto, X: np.ndarray) -> float:
    """The largest absolute difference between onnxruntime's outputs for ``proto`` and
    deltanet's for ``source`` on the float32 inputs ``X: (N, D)``.

    Raises:
        MissingExtraError: ``onnxruntime`` is not installed.
    """
    ort = require("onnxruntime", "onnx", "checking an ONNX model")
    model = source if isinstance(source, Model) else Model(source)
    X = np.ascontiguousarray(X, dtype=np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {INPUT: X})
    return float(np.max(np.abs(theirs - model.predict_proba(X)), initial=0.0))


def metadata(model: Model) -> dict[str, str]:
    """The ONNX ``metadata_props`` of a model: what a runtime needs to answer in its
    user's terms, each a JSON value (or plain text)."""
    net = model.net
    if model.takes_digits:
        preprocessing = DIGIT_PREPROCESSING
    elif model.standardizer is not None:
        preprocessing = "raw features: the graph standardizes them (Sub mean, Div scale)"
    else:
        preprocessing = "none: the features as the network was trained on them"
    names = None if model.feature_names is None else list(model.feature_names)
    return {
        "classes": json.dumps(list(model.labels)),
        "feature_names": json.dumps(names),
        "output": json.dumps(output_name(net)),
        "input_shape": json.dumps(
            list(model.input_shape) if model.input_shape is not None else None
        ),
        "preprocessing": preprocessing,
        "architecture": json.dumps(net.to_config()),
    }


class _Graph:
    """Nodes and initializers as they are added, each node's output named after it."""

    def __init__(self, onnx: Any):
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        name = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(
            self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name)
        )
        return name

    def cast(self, x: str, dtype: Any) -> str:
        return self.node("Cast", [x], to=self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    def activation(self, z: str, name: str, dtype: np.dtype) -> str:
        if name not in ACTIVATION_OPS:
            raise ValueError(f"the activation {name!r} has no ONNX operator here")
        op = ACTIVATION_OPS[name]
        if op is None:
            return z
        if op[0] == "Softplus":
            return self.softplus(z, dtype)
        return self.node(op[0], [z], **op[1])

    def softplus(self, z: str, dtype: np.dtype) -> str:
        """log(1 + e^z) as max(z, 0) + log(1 + e^{−|z|}): never overflows, in any dtype."""
        one = self.constant(f"one_{len(self.nodes)}", np.ones((), dtype))
        tail = self.node("Exp", [self.node("Neg", [self.node("Abs", [z])])])
        tail = self.node("Log", [self.node("Add", [tail, one])])
        return self.node("Add", [self.node("Relu", [z]), tail])

    def standardize(self, x: str, model: Model) -> str:
        std = model.standardizer
        x = self.cast(x, np.float64)
        x = self.node("Sub", [x, self.constant("input_mean", std.mean)])
        return self.node("Div", [x, self.constant("input_scale", std.scale)])


def _version() -> str:
    from deltanet import __version__

    return __version__
