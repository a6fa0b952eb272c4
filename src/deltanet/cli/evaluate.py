"""``deltanet evaluate``: a saved model's test error, per-class accuracy and confusion matrix."""

from __future__ import annotations

import argparse
from pathlib import Path

from deltanet.cli import _args

DESCRIPTION = """\
Evaluate a saved model on the test set of its data: the data it was trained on
(read from its run directory's config.json: the same file, target column, split and
seed), or the embedded MNIST for a model file on its own. --data and the other data
flags change it; class names are the model's own.

examples:
  deltanet evaluate runs/latest/model.safetensors
  deltanet evaluate runs/latest           # a run directory: its model
  deltanet evaluate runs/latest --data train.csv --test new_rows.csv"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "evaluate",
        help="test error, per-class accuracy and confusion matrix",
        description=DESCRIPTION,
    )
    p.add_argument(
        "model", help="a model.safetensors written by deltanet train, or its run directory"
    )
    _args.add_data(p, shown="the model's own")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet import sources
    from deltanet.metrics import confusion_matrix, format_confusion, format_per_class
    from deltanet.modelfile import load_model
    from deltanet.sources.settings import rows_for

    path = _args.model_path(args.model)
    model = load_model(path)
    config = _args.run_config(Path(path).parent).replace(**_args.settings_given(args))
    data = sources.from_config(config)
    X, y = rows_for(model, data)
    pred = model.predict_proba(X).argmax(axis=1)
    K = model.net.layers[-1]
    cm = confusion_matrix(y, pred, K)
    wrong = int((pred != y).sum())
    what = "test images" if data.kind == "idx" else "test rows"
    print(
        f"{model}\n\ntest error {100 * wrong / max(len(pred), 1):.2f}% ({wrong:,} of "
        f"{len(pred):,} {what} of {data.source})\n"
    )
    names = None if model.classes is None else model.classes
    print(format_per_class(cm, names))
    print()
    print(format_confusion(cm, names))
    return 0
