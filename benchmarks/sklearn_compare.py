"""deltanet's MLPClassifier against scikit-learn's: 5-fold cross-validated accuracy and fit
time on scikit-learn's own data sets and on MNIST, every system in one run.

    python benchmarks/sklearn_compare.py [--epochs 200] [--mnist-epochs 20] [--threads 1]
                                         [--only digits,iris] [--markdown FILE]

Both classifiers get the same settings: one hidden layer of 300 logistic units, adam
(learning rate 0.001, β 0.9/0.999, ε 1e-8), batch 100, alpha 1e-4 (scikit-learn's
meaning, which deltanet's estimator keeps), and the same number of epochs exactly (the
stopping on the training loss is off: ``n_iter_no_change`` = epochs).  They also get
the same float32 rows, so both compute in float32 (scikit-learn keeps float32 input in
float32): scikit-learn's data sets standardized with the training fold's mean and
deviation, MNIST's 60,000 training images scaled to [0, 1] (the test images are not
used).  The folds are stratified and seeded; fold k seeds both networks with k.

The machine is shared and noisy, so the systems take turns fold by fold (the order
rotated each fold, ``deltanet.bench.interleave``), and only ratios within this run are
compared: the speed-up is the median over the folds of scikit-learn's fit time over
deltanet's on the same fold, in wall-clock seconds and in the process's CPU seconds
(which a busy machine inflates less).  Both use one BLAS thread by default: on a
shared machine, two OpenBLAS threads wait on each other whenever one of them is
descheduled, and those waits, not the implementations, decide the times.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler

import deltanet as dn
from deltanet import bench
from deltanet.limits import blas_threads
from deltanet.sklearn import MLPClassifier as DeltanetMLP

SETTINGS = {
    "hidden_layer_sizes": (300,),
    "activation": "logistic",
    "solver": "adam",
    "batch_size": 100,
    "learning_rate_init": 0.001,
    "alpha": 1e-4,
}
SYSTEMS = {
    f"scikit-learn {sklearn.__version__}": SklearnMLP,
    f"deltanet {dn.__version__}": DeltanetMLP,
}


def load(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(X, y, standardize)``: a data set's rows and labels, and whether its folds are
    standardized (MNIST's pixels are already in [0, 1])."""
    if name == "mnist":
        mnist = dn.datasets.load_mnist()
        return mnist.X_train, mnist.y_train, False
    loader = {
        "digits": datasets.load_digits,
        "breast cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "iris": datasets.load_iris,
    }[name]
    X, y = loader(return_X_y=True)
    return X, y, True


@dataclass
class Folds:
    """The five train/test folds of one data set, as float32 rows."""

    name: str
    epochs: int
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(repr=False)
    shape: tuple[int, int] = (0, 0)
    classes: int = 0

    @classmethod
    def of(cls, name: str, epochs: int) -> Folds:
        X, y, standardize = load(name)
        splits = []
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            X_train, X_test = X[train], X[test]
            if standardize:
                scaler = StandardScaler().fit(X_train)
                X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            splits.append(
                (X_train.astype(np.float32), y[train], X_test.astype(np.float32), y[test])
            )
        return cls(name, epochs, splits, X.shape, len(np.unique(y)))


@dataclass
class Record:
    """One system's test accuracy and CPU seconds per fold."""

    accuracy: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def fits(
    make: Callable[..., object], folds: Folds, record: Record, say: Callable[[str], None]
) -> Iterator[float]:
    """Wall-clock fit seconds of one system on each fold in turn (its accuracy and CPU
    seconds into ``record``)."""
    for k, (X_train, y_train, X_test, y_test) in enumerate(folds.splits):
        clf = make(**SETTINGS, max_iter=folds.epochs, n_iter_no_change=folds.epochs, random_state=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # all epochs, on purpose
            t0, c0 = time.perf_counter(), time.process_time()
            clf.fit(X_train, y_train)
            seconds = time.perf_counter() - t0
            record.cpu.append(time.process_time() - c0)
        assert clf.n_iter_ == folds.epochs, (make, clf.n_iter_)
        accuracy = record.accuracy
        accuracy.append(float(clf.score(X_test, y_test)))
        say(
            f"  {folds.name} fold {k + 1}: {make.__module__.split('.')[0]:<12} "
            f"{seconds:7.2f} s (CPU {record.cpu[-1]:6.2f} s), accuracy {accuracy[-1]:.4f}"
        )
        yield seconds


@dataclass
class Result:
    folds: Folds
    records: dict[str, Record]
    seconds: dict[str, list[float]]


def compare(folds: Folds, say: Callable[[str], None]) -> Result:
    records = {name: Record() for name in SYSTEMS}
    runners = {name: fits(make, folds, records[name], say) for name, make in SYSTEMS.items()}
    measured = bench.interleave(runners, rounds=len(folds.splits), warmup=0)
    return Result(folds, records, {m.name: m.epoch_seconds for m in measured})


def warm_up() -> None:
    """Compile deltanet's loops and load both libraries before any clock starts."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 8)).astype(np.float32), np.arange(200) % 2
    for make in SYSTEMS.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            make(**SETTINGS, max_iter=2).fit(X, y)


def table(results: list[Result], threads: int) -> str:
    sk, ours = SYSTEMS
    lines = [
        f"{bench.machine()}; scikit-learn {sklearn.__version__}; BLAS threads {threads}.",
        "",
        "| data set | samples × features, classes | epochs | scikit-learn accuracy | "
        "deltanet accuracy | within 1 sd | scikit-learn fit | deltanet fit | speed-up | "
        "speed-up, CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a_sk, a_dn = np.array(r.records[sk].accuracy), np.array(r.records[ours].accuracy)
        s_sk, s_dn = np.array(r.seconds[sk]), np.array(r.seconds[ours])
        c_sk, c_dn = np.array(r.records[sk].cpu), np.array(r.records[ours].cpu)
        sd = a_sk.std(ddof=1)
        met = "yes" if a_dn.mean() >= a_sk.mean() - sd else "**no**"
        n, d = r.folds.shape
        lines.append(
            f"| {r.folds.name} | {n:,} × {d}, {r.folds.classes} | {r.folds.epochs} | "
            f"{a_sk.mean():.4f} ± {sd:.4f} | {a_dn.mean():.4f} ± {a_dn.std(ddof=1):.4f} | "
            f"{met} | {s_sk.mean():.2f} s | {s_dn.mean():.2f} s | "
            f"{np.median(s_sk / s_dn):.2f}× | {np.median(c_sk / c_dn):.2f}× |"
        )
    lines += [
        "",
        "Accuracy: mean ± standard deviation over the 5 test folds; *within 1 sd*: "
        "deltanet's mean is not below scikit-learn's by more than scikit-learn's standard "
        "deviation.  Fit: mean wall-clock seconds per fold; speed-up: the median over the "
        "folds of scikit-learn's fit time over deltanet's on the same fold, wall-clock and "
        "in CPU seconds.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=200, help="on scikit-learn's data sets")
    parser.add_argument("--mnist-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both")
    parser.add_argument(
        "--only", default="digits,breast cancer,wine,iris,mnist", help="comma-separated"
    )
    parser.add_argument("--markdown", default=None, help="write the table here too")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = []
    with blas_threads(args.threads):
        warm_up()
        for name in args.only.split(","):
            epochs = args.mnist_epochs if name == "mnist" else args.epochs
            say(f"{name}: 5 folds, {epochs} epochs each")
            results.append(compare(Folds.of(name, epochs), say))
    text = table(results, args.threads)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
