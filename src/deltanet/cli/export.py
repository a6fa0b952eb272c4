"""``deltanet export``: a saved model as an ONNX file, checked against onnxruntime."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from deltanet.cli import _args
from deltanet.errors import ConfigError, MissingExtraError
from deltanet.model import Model

DESCRIPTION = """\
Write a saved model as an ONNX file, for onnxruntime or any other ONNX
runtime (C++, C#, Java, JavaScript in a browser, mobile). The graph takes
"input", (N, D) float32 rows, and gives "probabilities" (N, K) (or "scores"
for a squared-error model). A model's input standardization is part of the
graph; its class names, and how a picture becomes an input, are in the
model's metadata. Where onnxruntime is installed, the file is run on the
MNIST test images (or on random rows for other data) and compared with
deltanet's own outputs.

Needs the onnx extra: pip install 'deltanet[onnx]'.

example:
  deltanet export runs/latest --onnx mnist.onnx"""

CHECK_ROWS = 1000  # random rows a non-digit model is checked on


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub, "export", help="write a model as an ONNX file", description=DESCRIPTION
    )
    _args.add_model(p)
    p.add_argument(
        "--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write (replaced)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet import onnx_export
    from deltanet.modelfile import load_model

    path = _args.model_path(args.model)
    out = Path(args.onnx)
    if out.exists() and os.path.samefile(out, path):
        raise ConfigError(f"--onnx {out} is the model file itself; name another file")
    model = load_model(path)
    proto = onnx_export.save(model, out)
    net = model.net
    name = onnx_export.output_name(net)
    print(
        f"wrote {out} (ONNX opset {onnx_export.OPSET}, {out.stat().st_size / 1e6:.1f} MB): "
        f'"{onnx_export.INPUT}" (N, {net.layers[0]}) float32 -> "{name}" '
        f"(N, {net.layers[-1]}) {net.dtype.name}"
    )
    try:
        X, what = _check_inputs(model)
        worst = onnx_export.agreement(model, proto, X)
    except MissingExtraError:
        print("onnxruntime is not installed: the file was not run")
        return 0
    import onnxruntime

    print(
        f"onnxruntime {onnxruntime.__version__} agrees with deltanet to {worst:.1e} "
        f"(largest difference over {what})"
    )
    return 0


def _check_inputs(model: Model) -> tuple[np.ndarray, str]:
    """Inputs to compare the runtimes on, and what they are."""
    if model.takes_digits:
        from deltanet.datasets import load_mnist

        X = load_mnist().X_test
        return X, f"the {len(X):,} MNIST test images"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((CHECK_ROWS, model.n_features))
    if model.standardizer is not None:
        X = model.standardizer.mean + X * model.standardizer.scale
    return X.astype(np.float32), f"{CHECK_ROWS:,} random rows"
