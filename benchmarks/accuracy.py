"""Accuracy targets of the training issue, measured over several seeds.

    python benchmarks/accuracy.py --seeds 0 1 2 [--markdown docs/accuracy-table.md]

Trains, on all 60,000 MNIST training images (the original protocol, ``--val-size 0``),
30 epochs, batch 100, RMSprop lr 0.001:

* the default configuration: 784-300-10 sigmoid, softmax cross-entropy (target ≤ 1.8%);
* squared error with sigmoid outputs, λ = 2e-6 (target ≤ 2.0%);

and the same with Polyak averaging of the weights (``--average 0.999``).  Prints each
run's test error and seconds, and the mean over seeds.  The test set is evaluated once
per run, at the end: it chooses nothing.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import deltanet as dn
from deltanet.optimizers import RMSprop

CONFIGS = [
    ("default: cross-entropy", dict(loss="cross_entropy", l2=0.0), None, 0.018),
    ("default + average 0.999", dict(loss="cross_entropy", l2=0.0), 0.999, 0.018),
    ("squared error, λ = 2e-6", dict(loss="squared_error", l2=2e-6), None, 0.020),
    ("squared error, λ = 2e-6 + average", dict(loss="squared_error", l2=2e-6), 0.999, 0.020),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    rows = []
    for name, arch, average, target in CONFIGS:
        errors, seconds = [], []
        for seed in args.seeds:
            net = dn.MLP([784, 300, 10], hidden="sigmoid", seed=seed, **arch)
            t0 = time.perf_counter()
            net.fit(
                data.X_train,
                data.y_train,
                epochs=args.epochs,
                batch_size=100,
                optimizer=RMSprop(lr=0.001),
                seed=seed,
                average=average,
            )
            seconds.append(time.perf_counter() - t0)
            errors.append(net.error_rate(data.X_test, data.y_test))
            print(
                f"{name:<36} seed {seed}: test error {100 * errors[-1]:.2f}%  {seconds[-1]:.0f} s",
                flush=True,
            )
        rows.append((name, errors, float(np.mean(seconds)), target))
    lines = [
        f"seeds {args.seeds}, {args.epochs} epochs, all 60,000 training images; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "",
        "| configuration | test error per seed | mean | target | seconds per run |",
        "|---|---|---|---|---|",
    ]
    for name, errors, secs, target in rows:
        per = ", ".join(f"{100 * e:.2f}%" for e in errors)
        mean = float(np.mean(errors))
        mark = "met" if mean <= target else "missed"
        lines.append(
            f"| {name} | {per} | {100 * mean:.2f}% | ≤ {100 * target:.1f}% ({mark}) | {secs:.0f} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    main()
