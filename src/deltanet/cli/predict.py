"""``deltanet predict``: the top classes of a user's digit pictures or ``.npy`` arrays."""

from __future__ import annotations

import argparse

import numpy as np

from deltanet.cli import _args
from deltanet.errors import ConfigError

DESCRIPTION = """\
Print the top classes for each file. Pictures of any size work,
dark ink on light paper or light on dark: the digit is cropped,
scaled into a 20×20 box and centred by its centre of mass in 28×28,
as MNIST was made. A .npy file holds (784,), (28, 28), (N, 784) or
(N, 28, 28) values in [0, 1] or 0..255. Beside each class: its
probability, or its score for a squared-error model (larger is more likely,
but scores are not probabilities).

example:
  deltanet predict runs/latest/model.safetensors seven.png"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "predict",
        help="classify digit images (PNG/JPEG) or .npy arrays",
        description=DESCRIPTION,
    )
    p.add_argument(
        "model", help="a model.safetensors written by deltanet train, or its run directory"
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG/JPEG images or .npy arrays")
    p.add_argument(
        "--top", type=_args.POSITIVE_INT.parse, default=3, help="how many classes to show"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet.images import load_inputs

    net = _args.load_model(args.model)
    if net.layers[0] != 784:
        raise ConfigError(f"the model takes {net.layers[0]} inputs; predict reads 28×28 digits")
    for path in args.files:
        X = load_inputs(path)
        P = net.predict_proba(X)
        for i, p in enumerate(P):
            top = np.argsort(p)[::-1][: args.top]
            name = path if len(P) == 1 else f"{path}[{i}]"
            guesses = "  ".join(f"{c}: {p[c]:.3f}" for c in top)
            print(f"{name}: {top[0]}    ({net.output_kind} {guesses})")
    return 0
