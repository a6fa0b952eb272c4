"""Where an epoch's time goes: each phase of deltanet's training step, timed on its own.

    python benchmarks/phases.py [--epochs 5] [--threads 2]

Runs the steps of the trainer one phase at a time, through the network's public step
(``forward``, ``backward``) and the optimizer, on the default configuration (784-300-10
sigmoid, softmax cross-entropy, RMSprop, batch 100, float32), and prints seconds per
epoch for each phase.  Then the fixed cost of a step: the same loop on a 4-3-2 network,
where the arithmetic is negligible and what remains is Python and the per-call overhead
of NumPy and numba.  The first epoch (compilation, page faults) is not counted.  Phases
timed separately add up to a little more than an epoch of ``fit``, which does not stop
the clock between them.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import deltanet as dn
from deltanet import bench
from deltanet.batches import Batches
from deltanet.limits import blas_threads
from deltanet.optimizers import RMSprop


def phases(X: np.ndarray, y: np.ndarray, layers, epochs: int, batch: int = 100) -> dict:
    """Seconds per epoch of each phase of the step, over ``epochs`` counted epochs."""
    net = dn.MLP(layers, dtype="float32")
    Y = net.targets(y)
    opt = RMSprop(lr=0.001)
    rng = np.random.default_rng(0)
    source = Batches(X, Y, y, batch)
    seconds: dict[str, float] = defaultdict(float)
    clock = time.perf_counter
    for epoch in range(epochs + 1):
        if epoch == 1:
            seconds.clear()
        perm = rng.permutation(len(X))
        for start in range(0, len(X) - batch + 1, batch):
            t0 = clock()
            xb, yb, _ = source.gather(perm[start : start + batch])
            t1 = clock()
            net.forward(xb)
            t2 = clock()
            net.backward(yb)
            t3 = clock()
            opt.step(net.params, net.grad)
            t4 = clock()
            seconds["gather the batch" + (" (bytes)" if source.from_bytes else "")] += t1 - t0
            seconds["forward to the top pre-activations (2 GEMMs, bias, sigmoid)"] += t2 - t1
            seconds["softmax, loss, top delta (one kernel) and backward (3 GEMMs, ...)"] += t3 - t2
            seconds["RMSprop update of every weight"] += t4 - t3
    return {name: s / epochs for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    with blas_threads(args.threads):
        table = phases(data.X_train, data.y_train, (784, 300, 10), args.epochs)
        tiny = dn.MLP([4, 3, 2], dtype="float32")
        rng = np.random.default_rng(0)
        X = rng.random((60_000, 4), dtype=np.float32)
        y = rng.integers(0, 2, 60_000)
        history = tiny.fit(X, y, epochs=args.epochs + 1, optimizer="rmsprop")
    print(f"{bench.machine()}; BLAS threads {args.threads}; {args.epochs} epochs\n")
    print("| phase | seconds per epoch |\n|---|---|")
    for name, s in table.items():
        print(f"| {name} | {s:.3f} |")
    print(f"| all phases | {sum(table.values()):.3f} |")
    per_step = np.median(history.column("seconds")[1:]) / (len(X) // 100)  # fit's batch of 100
    print(f"\nfixed cost of a training step (4-3-2 network, batch 100): {per_step * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
