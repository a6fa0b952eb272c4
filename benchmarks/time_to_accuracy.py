"""Seconds of training until the test accuracy first reaches 98.0% and 99.0%.

    python benchmarks/time_to_accuracy.py --threads 2 --markdown docs/time-to-accuracy.md

Five runs, each timed on its own training only (the test set is scored after every
epoch, outside the clock; no validation pass is timed):

* deltanet's default: ``deltanet train``'s recipe (784-300-10 sigmoid, RMSprop, batch
  100, weight average 0.999), trained on the 50,000 images it keeps for training;
* deltanet's best preset (``--preset best``: 784-800-800-10 ReLU, dropout 0.3, Adam with
  cosine decay, affine + elastic distortions, weight average) on all 60,000;
* the same two recipes in PyTorch (``benchmarks/torch_reference.py``);
* scikit-learn's ``MLPClassifier`` with the default recipe's network (300 logistic
  units, adam, batch 100), one epoch per ``partial_fit`` call, for 98.0% only.

A run stops once it reaches 99.0% (98.0% for scikit-learn) or its recipe's epochs end.
PyTorch and scikit-learn are benchmark dependencies only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import numpy as np

import deltanet as dn
from deltanet.limits import blas_threads

Epochs = Iterator[tuple[float, Callable[[np.ndarray], np.ndarray]]]
TARGETS = (0.98, 0.99)


def deltanet_epochs(data, config: dn.TrainConfig) -> Epochs:
    """``(training seconds, predict)`` per epoch of a deltanet run of ``config``."""
    X, y = data.X_train, data.y_train
    if config.val_size:  # train on what the recipe trains on, without timing validation
        X, y = X[: len(X) - config.val_size], y[: len(y) - config.val_size]
        config = config.replace(val_size=0)
    net = config.make_network()
    trainer = dn.Trainer.from_config(net, X, y, config)

    def predict(images: np.ndarray) -> np.ndarray:
        with trainer.evaluated_weights():
            return net.predict(images)

    while True:
        record = trainer.epoch()
        if record is None:
            raise RuntimeError(trainer.history.stop_reason)
        yield record["seconds"], predict


def sklearn_epochs(data) -> Epochs:
    from epoch_time import sklearn_runs

    runs = sklearn_runs(data.X_train[:50_000], data.y_train[:50_000])
    return ((seconds, clf.predict) for seconds, clf in runs)


def race(name: str, epochs: Epochs, data, limit: int, goal: float) -> dict:
    """Train until the test accuracy reaches ``goal`` or ``limit`` epochs pass."""
    clock, reached, curve = 0.0, {}, []
    for epoch in range(1, limit + 1):
        seconds, predict = next(epochs)
        clock += seconds
        accuracy = float(np.mean(predict(data.X_test) == data.y_test))
        curve.append((epoch, clock, accuracy))
        for target in TARGETS:
            if accuracy >= target and target not in reached:
                reached[target] = (clock, epoch)
        print(f"  {name}: epoch {epoch}, {clock:7.1f} s, test accuracy {100 * accuracy:.2f}%")
        if accuracy >= goal:
            break
    return {"name": name, "reached": reached, "curve": curve}


def table(results: list[dict]) -> str:
    lines = [
        "| system | seconds to 98.0% (epochs) | seconds to 99.0% (epochs) | epochs run | best accuracy |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        cells = []
        for target in TARGETS:
            hit = r["reached"].get(target)
            cells.append("–" if hit is None else f"{hit[0]:.1f} ({hit[1]})")
        best = max(a for _, _, a in r["curve"])
        lines.append(
            f"| {r['name']} | {cells[0]} | {cells[1]} | {len(r['curve'])} | {100 * best:.2f}% |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS (and torch) threads")
    parser.add_argument("--markdown", default=None, help="also write the table here")
    parser.add_argument("--skip", nargs="*", default=[], help="systems to leave out")
    args = parser.parse_args()
    import torch_reference

    data = dn.datasets.load_mnist()
    default, best = dn.TrainConfig(), dn.presets.best()
    runs = {
        "deltanet default": (lambda: deltanet_epochs(data, default), default.epochs, 0.99),
        "deltanet --preset best": (lambda: deltanet_epochs(data, best), best.epochs, 0.99),
        "PyTorch, default recipe": (
            lambda: torch_default(torch_reference, data, args.threads),
            default.epochs,
            0.99,
        ),
        "PyTorch, best recipe": (
            lambda: torch_reference.best_recipe_epochs(
                data, epochs=best.epochs, threads=args.threads
            ),
            best.epochs,
            0.99,
        ),
        "scikit-learn MLPClassifier": (lambda: sklearn_epochs(data), 200, 0.98),
    }
    results = []
    with blas_threads(args.threads):
        for name, (make, limit, goal) in runs.items():
            if name not in args.skip:
                results.append(race(name, make(), data, limit, goal))
    text = table(results)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text + "\n")


def torch_default(torch_reference, data, threads: int) -> Epochs:
    """deltanet's default recipe in PyTorch: the lean loop on the same 50,000 images, with
    the weight average deltanet keeps (decay 0.999, every step) used for the test score."""
    import torch

    torch.set_num_threads(threads)
    train = dn.datasets.MNIST(
        data.X_train[:50_000], data.y_train[:50_000], data.X_test, data.y_test
    )
    for seconds, model in torch_reference.training_epochs(train, init="glorot", average=0.999):

        def predict(images: np.ndarray, averaged=model) -> np.ndarray:
            with torch.no_grad():
                return averaged(torch.from_numpy(images)).argmax(dim=1).numpy()

        yield seconds, predict


if __name__ == "__main__":
    main()
