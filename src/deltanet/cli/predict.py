"""``deltanet predict``: the top classes of a user's digit pictures or ``.npy`` arrays."""

from __future__ import annotations

import argparse

import numpy as np

from deltanet.cli import _args

DESCRIPTION = """\
Print the top classes, by the model's class names, for each input in the files.

A model trained on your own data reads what it was trained on: rows of a table
(.csv, .tsv, .parquet; the model's feature columns are picked by name, others
such as the label are ignored) or of a .npy, in their raw units (the model
standardizes them as in training), or pictures, resized and made grey or RGB as
its training pictures were.

A model trained on MNIST reads pictures of digits of any size, dark ink on light
paper or light on dark: the digit is cropped, scaled into a 20×20 box and centred
by its centre of mass in 28×28, as MNIST was made; a .npy holds (784,), (28, 28),
(N, 784) or (N, 28, 28) values in [0, 1] or 0..255.

Beside each class: its probability, or its score for a squared-error model
(larger is more likely, but scores are not probabilities).

examples:
  deltanet predict runs/latest/model.safetensors seven.png
  deltanet predict runs/latest new_rows.csv"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "predict",
        help="classify rows of a table, pictures or .npy arrays",
        description=DESCRIPTION,
    )
    p.add_argument(
        "model", help="a model.safetensors written by deltanet train, or its run directory"
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="tables, PNG/JPEG pictures or .npy arrays"
    )
    p.add_argument(
        "--top", type=_args.POSITIVE_INT.parse, default=3, help="how many classes to show"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet.sources.inputs import read_inputs

    model = _args.load_model(args.model)
    labels = model.labels
    for path in args.files:
        P = model.predict_proba(read_inputs(path, model))
        for i, p in enumerate(P):
            top = np.argsort(p)[::-1][: args.top]
            name = path if len(P) == 1 else f"{path}[{i}]"
            guesses = "  ".join(f"{labels[c]}: {p[c]:.3f}" for c in top)
            print(f"{name}: {labels[top[0]]}    ({model.net.output_kind} {guesses})")
    return 0
