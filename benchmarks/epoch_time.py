"""Seconds per MNIST epoch: deltanet (float32, float64) beside PyTorch, scikit-learn and
the GEMM bound, all measured in the same run.

    python benchmarks/epoch_time.py [--epochs 10] [--threads 2] [--markdown FILE]
    python benchmarks/epoch_time.py --scaling --plot docs/scaling.png   # hidden and batch sizes

Default table: the epochs ``deltanet train`` runs with its defaults (784-300-10,
sigmoid hidden units, softmax cross-entropy, RMSprop lr 0.001 (ρ = 0.9), batch 100,
weight average 0.999, 50,000 images trained and 10,000 validated after every epoch,
the progress bar and the checkpoint), through the public Trainer
(``deltanet.bench.train_path_epochs``, what ``deltanet bench`` times), beside the
stripped loop earlier versions timed.  PyTorch and
scikit-learn are optional (``pip install -e '.[bench]'``); missing ones are skipped.
The bound is the time the epoch's own matrix products take back to back at NumPy's
BLAS rate (``deltanet.bench.gemm_epochs``).  These machines are noisy, so every system
(and the bound) is timed round robin, one epoch of each per round, and only ratios
within one run are compared, never seconds across runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

import deltanet as dn
from deltanet import bench
from deltanet.limits import blas_threads

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))


def torch_epochs(data, threads, layers=(784, 300, 10), batch_size=100, loader=False):
    """``(name, endless epoch timer)`` for PyTorch, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    from torch_reference import training_epochs

    torch.set_num_threads(threads)
    runs = training_epochs(data, seed=0, layers=layers, batch_size=batch_size, loader=loader)
    how = "DataLoader loop" if loader else "tensor-indexing loop"
    name = f"PyTorch {torch.__version__.split('+')[0]} ({how})"
    return name, (seconds for seconds, _ in runs)


def sklearn_runs(X, y):
    """Endless: scikit-learn's MLPClassifier with the default recipe's network (300
    logistic units, adam, batch 100), one epoch per ``partial_fit``; yields
    ``(seconds, classifier)`` after each."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(300,),
        activation="logistic",
        solver="adam",
        batch_size=100,
        learning_rate_init=0.001,
        random_state=0,
    )
    classes = np.arange(10)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            seconds = time.perf_counter() - t0
        yield seconds, clf


def sklearn_epochs(data):
    """``(name, endless epoch timer)`` for scikit-learn's MLPClassifier, or None."""
    try:
        import sklearn
    except ImportError:
        return None
    runs = (seconds for seconds, _ in sklearn_runs(data.X_train, data.y_train))
    return f"scikit-learn {sklearn.__version__} MLPClassifier (adam)", runs


def default_table(data, args, tmp: str) -> str:
    config = dn.TrainConfig()  # deltanet train's defaults
    layers, n, evaluated = config.layers, len(data.X_train) - config.val_size, config.val_size
    X, y = data.X_train, data.y_train
    # PyTorch and scikit-learn train on the same 50,000 images (no validation pass, no
    # weight average: their loops have none, so they do a little less work per epoch)
    trained = types.SimpleNamespace(X_train=X[:n], y_train=y[:n])
    runners = {}
    for dtype in ("float32", "float64"):
        folder = Path(tmp) / dtype
        folder.mkdir()
        one = config.replace(dtype=dtype)
        runners[f"deltanet train {dtype}"] = bench.train_path_epochs(one, X, y, folder)
    runners["deltanet stripped loop float32"] = bench.deltanet_epochs(X[:n], y[:n], layers)
    for dtype in ("float32", "float64"):
        runners[f"GEMM bound {dtype}"] = bench.gemm_epochs(
            layers, n, config.batch_size, dtype, evaluated=evaluated
        )
    others = []
    if not args.no_torch:
        others += [
            torch_epochs(trained, args.threads),
            torch_epochs(trained, args.threads, loader=True),
        ]
    if not args.no_sklearn:
        others.append(sklearn_epochs(trained))
    runners.update(r for r in others if r is not None)
    print(f"timing {', '.join(runners)}: {args.epochs} rounds after a warm-up ...", flush=True)
    with blas_threads(args.threads):
        m = {x.name: x for x in bench.interleave(runners, args.epochs, progress=_dot)}
    print(flush=True)
    torch_lean = next((k for k in m if "tensor-indexing" in k), None)
    torch_loader = next((k for k in m if "DataLoader" in k), None)
    sk = next((k for k in m if k.startswith("scikit-learn")), None)
    flops = bench.epoch_flops(layers, n, config.batch_size, evaluated)
    d32, d64 = m["deltanet train float32"], m["deltanet train float64"]
    b32, b64 = m["GEMM bound float32"], m["GEMM bound float64"]
    lines = [
        f"{bench.machine()}; BLAS threads {args.threads}; `deltanet train`'s path (its "
        "defaults: 50,000 images trained, 10,000 validated after each epoch, weight average, "
        "progress bar, checkpoint) beside a stripped loop, PyTorch and scikit-learn on the "
        "same 50,000; every system timed for "
        f"{args.epochs} epochs, round robin (one epoch of each per round) after a warm-up round",
        "",
        "| | seconds per epoch (median) | fastest |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {x.median:.3f} | {x.fastest:.3f} |" for name, x in m.items()]
    lines += ["", "| ratio | of medians | of the fastest |", "|---|---|---|"]

    def ratio(label: str, a, b) -> None:
        lines.append(f"| {label} | {a.median / b.median:.2f} | {a.fastest / b.fastest:.2f} |")

    ratio("deltanet train float32 / GEMM bound float32", d32, b32)
    ratio("deltanet train float64 / GEMM bound float64", d64, b64)
    ratio(
        "deltanet stripped loop float32 / GEMM bound float32",
        m["deltanet stripped loop float32"],
        b32,
    )
    if torch_lean:
        ratio("deltanet float32 / PyTorch (tensor indexing)", d32, m[torch_lean])
        ratio("deltanet float32 / PyTorch (DataLoader)", d32, m[torch_loader])
    if sk:
        ratio("deltanet float32 / scikit-learn", d32, m[sk])
    lines.append("")
    lines.append(
        f"An epoch is {flops / 1e9:.1f} GFLOP of matrix products: "
        f"{flops / b32.median / 1e9:.0f} GFLOP/s (float32) and {flops / b64.median / 1e9:.0f} "
        f"GFLOP/s (float64) at the bound; deltanet float32 reaches "
        f"{flops / d32.median / 1e9:.0f} GFLOP/s."
    )
    lines.append(
        f"Peak RSS of this benchmark process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB."
    )
    return "\n".join(lines)


def _dot(_round: int) -> None:
    print(".", end="", flush=True)


def scaling(data, args) -> str:
    n = len(data.X_train)
    results = []
    settings = [("hidden", h, 100) for h in (100, 300, 1000, 2000)] + [
        ("batch", 300, b) for b in (32, 100, 256, 1024)
    ]
    for kind, hidden, batch in settings:
        layers = (784, hidden, 10)
        runners = {
            "deltanet": bench.deltanet_epochs(
                data.X_train, data.y_train, layers, "float32", batch_size=batch
            ),
            "bound": bench.gemm_epochs(layers, n, batch, "float32"),
        }
        th = None if args.no_torch else torch_epochs(data, args.threads, layers, batch)
        if th is not None:
            runners["torch"] = th[1]
        # the fastest epoch of each: with a few epochs per point, one slow spell of the
        # shared machine would move a median, and the plot is about the machine
        with blas_threads(args.threads):
            m = {x.name: x.fastest for x in bench.interleave(runners, args.scaling_epochs)}
        ours, bound, torch_s = m["deltanet"], m["bound"], m.get("torch", float("nan"))
        results.append((kind, hidden, batch, ours, torch_s, bound))
        print(
            f"  {kind:<6} hidden {hidden:>4} batch {batch:>4}: deltanet {ours:.3f} s, "
            f"PyTorch {torch_s:.3f} s, bound {bound:.3f} s",
            flush=True,
        )
    if args.plot:
        plot_scaling(results, args.plot)
    lines = [
        f"Fastest of {args.scaling_epochs} epochs of each, round robin, float32, "
        "tensor-indexing PyTorch loop.",
        "",
        "| varied | hidden | batch | deltanet s/epoch | PyTorch s/epoch | GEMM bound | "
        "deltanet / PyTorch | deltanet / bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, hidden, batch, ours, th, bound in results:
        lines.append(
            f"| {kind} | {hidden} | {batch} | {ours:.3f} | {th:.3f} | {bound:.3f} | "
            f"{ours / th:.2f} | {ours / bound:.2f} |"
        )
    return "\n".join(lines)


def plot_scaling(results, path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, kind, key, label in (
        (axes[0], "hidden", 1, "hidden units (batch 100)"),
        (axes[1], "batch", 2, "batch size (300 hidden units)"),
    ):
        rows = [r for r in results if r[0] == kind]
        x = [r[key] for r in rows]
        ax.plot(x, [r[3] for r in rows], "o-", label="deltanet float32")
        ax.plot(x, [r[4] for r in rows], "s-", label="PyTorch")
        ax.plot(x, [r[5] for r in rows], "k--", label="GEMM bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(x, [str(v) for v in x])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(
            matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "235" else "")
        )
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per epoch (60,000 images)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_title("Epoch time against hidden size")
    axes[1].set_title("Epoch time against batch size")
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--markdown", default=None, help="write the table here too")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="also time hidden sizes 100..2000 and batch sizes 32..1024",
    )
    parser.add_argument("--scaling-only", action="store_true", help="skip the default table")
    parser.add_argument("--scaling-epochs", type=int, default=5)
    parser.add_argument("--plot", default=None, help="with --scaling: draw it to this PNG")
    args = parser.parse_args()
    data = dn.datasets.load_mnist()
    with tempfile.TemporaryDirectory(prefix="epoch-time-") as tmp:
        parts = [] if args.scaling_only else [default_table(data, args, tmp)]
    if args.scaling or args.scaling_only:
        parts.append(scaling(data, args))
    table = "\n\n".join(parts)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    main()
