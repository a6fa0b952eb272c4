"""The same network and optimizer in PyTorch, for accuracy parity and speed comparisons.

    python benchmarks/torch_reference.py --seeds 0 1 2

784-300-10, sigmoid hidden units, softmax cross-entropy (or squared error with
sigmoid outputs), RMSprop lr 0.001 with alpha = ρ = 0.9, batch 100, 30 epochs on all
60,000 images, L2 penalty (λ/2)·Σ‖W‖² on weights only.  PyTorch is a benchmark
dependency only (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

import deltanet as dn


def build(torch, loss: str, init: str, seed: int, layers=(784, 300, 10)):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(itertools.pairwise(layers)):
        lin = torch.nn.Linear(a, b)
        if init == "glorot":
            torch.nn.init.xavier_uniform_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
        mods.append(lin)
        if i < len(layers) - 2:
            mods.append(torch.nn.Sigmoid())
    if loss == "squared_error":
        mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def training_epochs(
    data,
    *,
    seed: int = 0,
    loss: str = "cross_entropy",
    l2: float = 0.0,
    alpha: float = 0.9,
    init: str = "torch",
    batch_size: int = 100,
    layers=(784, 300, 10),
    loader: bool = False,
):
    """Train in PyTorch, endlessly: each ``next`` runs one epoch and yields
    ``(seconds, model)``.

    ``loader=False`` indexes shuffled tensors directly (the lean loop); ``loader=True``
    uses ``DataLoader(TensorDataset(...), shuffle=True)``, as most tutorials do.
    """
    import torch

    model = build(torch, loss, init, seed, layers)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=alpha, eps=1e-8)
    X = torch.from_numpy(data.X_train)
    y = torch.from_numpy(data.y_train)
    Y = torch.nn.functional.one_hot(y, 10).float()
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    if loader:
        batches = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(X, y, Y),
            batch_size=batch_size,
            shuffle=True,
            generator=gen,
        )
    while True:
        t0 = time.perf_counter()
        if loader:
            epoch_batches = iter(batches)
        else:
            perm = torch.randperm(n, generator=gen)
            epoch_batches = (
                (X[i], y[i], Y[i])
                for i in (perm[s : s + batch_size] for s in range(0, n, batch_size))
            )
        for xb, yb, Yb in epoch_batches:
            out = model(xb)
            if loss == "cross_entropy":
                cost = torch.nn.functional.cross_entropy(out, yb)
            else:
                cost = 0.5 * ((out - Yb) ** 2).sum(dim=1).mean()
            if l2:
                cost = cost + 0.5 * l2 * sum((w**2).sum() for w in weights)
            opt.zero_grad(set_to_none=True)
            cost.backward()
            opt.step()
        yield time.perf_counter() - t0, model


def train(data, *, epochs: int = 30, **kwargs) -> float:
    """Train in PyTorch for ``epochs`` (other arguments as :func:`training_epochs`); the test error."""
    import torch

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    model = None
    for _, model in itertools.islice(training_epochs(data, **kwargs), epochs):  # noqa: B007
        pass  # the loop trains; the last model is evaluated
    with torch.no_grad():
        pred = model(torch.from_numpy(data.X_test)).argmax(dim=1).numpy()
    return float(np.mean(pred != data.y_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--loss", default="cross_entropy")
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--alpha", type=float, default=0.9)
    parser.add_argument("--init", choices=["torch", "glorot"], default="torch")
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    errors = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        errors.append(
            train(
                data,
                seed=seed,
                epochs=args.epochs,
                loss=args.loss,
                l2=args.l2,
                alpha=args.alpha,
                init=args.init,
            )
        )
        print(
            f"PyTorch {args.loss} l2={args.l2:g} alpha={args.alpha} init={args.init} "
            f"seed {seed}: test error {100 * errors[-1]:.2f}%  "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    print(f"mean {100 * np.mean(errors):.2f}%")


if __name__ == "__main__":
    main()
