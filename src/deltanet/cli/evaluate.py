"""``deltanet evaluate``: a saved model's test error, per-class accuracy and confusion matrix."""

from __future__ import annotations

import argparse

from deltanet.cli import _args
from deltanet.datasets import load_mnist


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "evaluate",
        help="test error, per-class accuracy and confusion matrix",
        description="Evaluate a saved model on the MNIST test set.\n\n"
        "examples:\n  deltanet evaluate runs/latest/model.safetensors\n"
        "  deltanet evaluate runs/latest           # a run directory: its model",
    )
    p.add_argument(
        "model", help="a model.safetensors written by deltanet train, or its run directory"
    )
    _args.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet.metrics import confusion_matrix, format_confusion, format_per_class

    net = _args.load_model(args.model)
    data = load_mnist(args.data)
    _args.check_fits(net.layers, data, "the model")
    pred = net.predict(data.X_test)
    cm = confusion_matrix(data.y_test, pred, net.layers[-1])
    wrong = int((pred != data.y_test).sum())
    print(
        f"{net}\n\ntest error {100 * wrong / len(pred):.2f}% ({wrong:,} of "
        f"{len(pred):,} test images)\n"
    )
    print(format_per_class(cm))
    print()
    print(format_confusion(cm))
    return 0
