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
    average: float | None = None,
):
    """Train in PyTorch, endlessly: each ``next`` runs one epoch and yields
    ``(seconds, model)``.

    ``loader=False`` indexes shuffled tensors directly (the lean loop); ``loader=True``
    uses ``DataLoader(TensorDataset(...), shuffle=True)``, as most tutorials do.
    ``average``: keep an exponential moving average of the weights with this decay,
    updated after every step (timed), and yield it as the model.
    """
    import torch

    model = build(torch, loss, init, seed, layers)
    averaged = None
    if average:
        averaged = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(average)
        )
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
            if averaged is not None:
                averaged.update_parameters(model)
        yield time.perf_counter() - t0, model if averaged is None else averaged


def best_recipe_epochs(data, *, seed: int = 0, epochs: int = 100, threads: int | None = None):
    """deltanet's ``--preset best`` in PyTorch, endlessly: each ``next`` trains one epoch
    and yields ``(seconds, evaluate)``, ``evaluate(X)`` giving the predicted classes
    with the averaged weights.

    784-800-800-10 ReLU, dropout 0.3 after each hidden layer, Adam lr 0.001 with one
    warm-up epoch then cosine decay over ``epochs``, batch 100, all 60,000 images, every
    batch distorted by deltanet's own affine + elastic :class:`~deltanet.augment.Augment`
    (the same NumPy work in both, so the comparison is of the networks), and an
    exponential moving average of the weights with decay 0.999 (PyTorch's own EMA
    helper; deltanet's decay ramps up to 0.999 over the first steps).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 800),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(800, 800),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(800, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    average = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.999)
    )
    schedule = dn.config.TrainConfig(schedule="cosine", warmup=1, epochs=epochs).make_schedule()
    augment = dn.augment.from_name("elastic")
    rng = np.random.default_rng(seed)
    X = data.X_train
    y = torch.from_numpy(data.y_train)
    n, batch = len(X), np.empty((100, 784), np.float32)

    def evaluate(images: np.ndarray) -> np.ndarray:
        average.eval()
        with torch.no_grad():
            return average(torch.from_numpy(images)).argmax(dim=1).numpy()

    for epoch in itertools.count():
        for group in opt.param_groups:
            group["lr"] = schedule(0.001, epoch, epochs)
        t0 = time.perf_counter()
        model.train()
        perm = rng.permutation(n)
        for start in range(0, n, 100):
            idx = perm[start : start + 100]
            xb = augment(X[idx], rng, out=batch[: len(idx)])
            cost = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)), y[idx])
            opt.zero_grad(set_to_none=True)
            cost.backward()
            opt.step()
            average.update_parameters(model)
        yield time.perf_counter() - t0, evaluate


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
