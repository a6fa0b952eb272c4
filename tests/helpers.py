"""Helpers for the tests that run the ``deltanet`` command."""

import struct
import subprocess
import sys

import numpy as np
from PIL import Image


def run_cli(*args, cwd=None, env=None, timeout=600):
    """The real ``deltanet`` command in a subprocess (``subprocess.CompletedProcess``)."""
    return subprocess.run(
        [sys.executable, "-m", "deltanet.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def one_line_error(result, message):
    """A user's mistake: exit 2, one line on stderr containing ``message``, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def tiny_dataset(folder, side=28, n=60, max_label=9):
    """Four IDX files of random pictures: MNIST's layout at a fraction of its size; every
    label 0..max_label occurs in the training set."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % (max_label + 1)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n, side, side)))
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, side, side)))
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[:20])
    return folder


def pixels(path):
    """A picture as grey levels, and its size."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=float), img.size


def assert_picture(path, min_size=(300, 200)):
    """``path`` is a picture at least ``min_size`` and not blank."""
    arr, (w, h) = pixels(path)
    assert w >= min_size[0] and h >= min_size[1], (path, w, h)
    assert arr.std() > 5, f"{path} looks blank"


def refused(capsys, argv, message):
    """``deltanet ARGV`` run in this process is a user's mistake: exit 2, one line on
    stderr containing ``message`` (a bug would raise here instead)."""
    from deltanet.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err


def training_metadata(path):
    """The ``training`` metadata of a model file (the settings and metrics it records)."""
    import json

    from safetensors import safe_open

    with safe_open(path, "numpy") as f:
        return json.loads(f.metadata().get("training", "{}"))


def write_digits(folder):
    """scikit-learn's digits written as a CSV, a .npz, a Parquet file and a folder of
    8×8 PNG pictures in class folders, into ``folder``; returns ``folder``."""
    import pandas as pd
    from sklearn.datasets import load_digits

    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"pixel{i}" for i in range(64)])
    frame["digit"] = d.target
    frame.to_csv(folder / "digits.csv", index=False)
    frame.to_parquet(folder / "digits.parquet")
    np.savez(folder / "digits.npz", X_train=d.data, y_train=d.target)
    for i, (image, label) in enumerate(zip(d.images, d.target, strict=True)):
        where = folder / "pictures" / str(label)
        where.mkdir(parents=True, exist_ok=True)
        # digits' grey levels are 0..16
        Image.fromarray(np.round(image * 255 / 16).astype(np.uint8)).save(where / f"{i}.png")
    return folder


def mnist_subset(folder, n_train=1000, n_test=100):
    """The first ``n_train`` training and ``n_test`` test images of the embedded MNIST as
    an IDX folder: real digits a network learns in seconds."""
    from deltanet.datasets import load_mnist

    data = load_mnist()
    folder.mkdir(parents=True, exist_ok=True)
    for split, X, y, n in (
        ("train", data.X_train, data.y_train, n_train),
        ("t10k", data.X_test, data.y_test, n_test),
    ):
        write_idx(folder / f"{split}-images-idx3-ubyte", np.rint(X[:n] * 255).reshape(n, 28, 28))
        write_idx(folder / f"{split}-labels-idx1-ubyte", y[:n])
    return folder


TREES = ("ash", "birch", "cedar")  # the class names of tabular_model
FEATURES = ("girth", "height", "bark", "altitude")  # and its features' names


def tabular_data(n=300, seed=0):
    """Three classes of four features in wildly different units and offsets (a feature
    of 10⁵ ± 10⁴ beside one of 0 ± 0.01): what standardization is for."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[-1.5, 0.0, 1.0, -0.5], [0.0, 1.5, -1.0, 0.5], [1.5, -1.5, 0.0, 0.0]])
    Z = centres[y] + 0.6 * rng.standard_normal((n, 4))
    X = Z * np.array([0.01, 1.0, 100.0, 1e4]) + np.array([0.0, 5.0, -300.0, 1e5])
    return X, y


def tabular_model(dtype="float32"):
    """A trained :class:`~deltanet.model.Model` of :func:`tabular_data` with class and
    feature names and a standardization; and the data."""
    import deltanet as dn

    X, y = tabular_data()
    std = dn.Standardizer.fit(X)
    net = dn.MLP([4, 16, 3], hidden="tanh", dtype=dtype, seed=0)
    net.fit(std.transform(X, net.dtype), y, epochs=30, batch_size=30, val_size=0)
    return dn.Model(net, TREES, std, feature_names=FEATURES), X, y
