"""The search behind ``--preset best`` (docs/best.md): short runs compared on validation.

    python benchmarks/search_best.py --epochs 15 [--only NAME ...]

Each candidate trains on the first 50,000 training images and is compared on the last
10,000 (validation). The test error is recorded for the write-up but chooses nothing.
"""

from __future__ import annotations

import argparse
import time

import deltanet as dn
from deltanet.augment import from_name
from deltanet.optimizers import Adam, Schedule

BASE = dict(
    layers=[784, 800, 800, 10],
    hidden="relu",
    dropout=0.3,
    augment="elastic",
    lr=0.001,
    batch_size=100,
    average=0.999,
    input_dropout=0.0,
    max_norm=None,
)
CANDIDATES = {
    "A: dropout 0.3, affine+elastic": {},
    "B: dropout 0.3, affine only": {"augment": "affine"},
    "C: dropout 0.5, affine+elastic": {"dropout": 0.5},
    "D: dropout 0.3, no augmentation": {"augment": "none"},
    "E: 784-1200-1200-10, dropout 0.5, affine+elastic": {
        "layers": [784, 1200, 1200, 10],
        "dropout": 0.5,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--only", nargs="*", default=None, help="candidate letters, e.g. A C")
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    for name, change in CANDIDATES.items():
        if args.only and name[0] not in args.only:
            continue
        c = {**BASE, **change}
        net = dn.MLP(
            c["layers"],
            hidden=c["hidden"],
            dropout=c["dropout"],
            input_dropout=c["input_dropout"],
            seed=0,
        )
        t0 = time.perf_counter()
        h = net.fit(
            data.X_train,
            data.y_train,
            epochs=args.epochs,
            batch_size=c["batch_size"],
            optimizer=Adam(lr=c["lr"]),
            schedule=Schedule("cosine", warmup=1),
            val_size=10_000,
            seed=0,
            average=c["average"],
            augment=from_name(c["augment"]),
            max_norm=c["max_norm"],
        )
        secs = time.perf_counter() - t0
        test = net.error_rate(data.X_test, data.y_test)
        print(
            f"{name:<52} epochs {args.epochs}: val {100 * h['val_error'][-1]:.2f}%  "
            f"test {100 * test:.2f}%  {secs:.0f} s ({secs / args.epochs:.1f} s/epoch)",
            flush=True,
        )


if __name__ == "__main__":
    main()
