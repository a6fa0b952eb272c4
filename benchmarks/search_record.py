"""The search behind ``--preset record`` (docs/best.md): candidates compared on validation.

    python benchmarks/search_record.py --epochs 60 [--only A C] [--threads 1]

Every candidate is a variation of ``--preset best`` trained for ``--epochs`` (its cosine
schedule stretched over them) on the first 50,000 training images and compared on the
last 10,000 (validation). The test error is printed for the record and chooses nothing.
Seconds per epoch are printed too: the candidate that wins must also fit its full
length into 30 minutes of training on two cores.
"""

from __future__ import annotations

import argparse
import time

import deltanet as dn
from deltanet.limits import blas_threads

CANDIDATES = {
    "A: best (784-800-800-10, dropout 0.3, elastic)": {},
    "B: batch 200, lr 0.002": {"batch_size": 200, "lr": 0.002},
    "C: 784-1200-1200-10, dropout 0.4": {"layers": (784, 1200, 1200, 10), "dropout": 0.4},
    "D: 784-800-800-800-10": {"layers": (784, 800, 800, 800, 10)},
    "E: stronger distortions (elastic 1.5 px, ±15° rotation, scale, shear)": {
        "augment": "elastic-strong"
    },
    "F: input dropout 0.1": {"input_dropout": 0.1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--only", nargs="*", default=None, help="candidate letters, e.g. A C")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    for name, change in CANDIDATES.items():
        if args.only and name[0] not in args.only:
            continue
        config = dn.presets.best().replace(
            epochs=args.epochs, val_size=10_000, seed=args.seed, **change
        )
        t0 = time.perf_counter()
        with blas_threads(args.threads):
            net, history = dn.train(config, data.X_train, data.y_train)
        seconds = time.perf_counter() - t0
        test = net.error_rate(data.X_test, data.y_test)
        best_val = min(history.column("val_error"))
        print(
            f"{name:<58} {args.epochs} epochs: val {100 * history.column('val_error')[-1]:.2f}% "
            f"(best {100 * best_val:.2f}%)  test {100 * test:.2f}%  "
            f"{seconds:.0f} s ({seconds / args.epochs:.2f} s/epoch)",
            flush=True,
        )


if __name__ == "__main__":
    main()
