import os

import matplotlib
import pytest

matplotlib.use("Agg")
# Tiny matrices: BLAS threads only add overhead and noise in tests.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


@pytest.fixture(scope="session", params=["numpy", "numba"])
def ops(request):
    """Each backend of deltanet.ops in turn (numba's is skipped where numba is missing)."""
    from deltanet.ops import NumbaOps, NumpyOps

    if request.param == "numpy":
        return NumpyOps()
    pytest.importorskip("numba")
    return NumbaOps()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from helpers import tiny_dataset

    return tiny_dataset(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A small run trained through the command line: 2 epochs on 10,000 MNIST images."""
    from deltanet.cli import main

    out = tmp_path_factory.mktemp("run") / "run"
    argv = ["train", "--layers", "784,32,10", "--epochs", "2", "--val-size", "50000"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A run trained through the command line with --plots: its pictures and report."""
    from deltanet.cli import main

    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--layers",
            "784,25,10",
            "--epochs",
            "3",
            "--val-size",
            "50000",
            "--out",
            str(out),
            "--quiet",
            "--plots",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """scikit-learn's digits (1,797 8×8 pictures, 10 classes) written the ways a user
    brings data: ``digits.csv`` (64 pixel columns and ``digit``), ``digits.npz``
    (``X_train``, ``y_train``), ``digits.parquet``, and ``pictures/<digit>/<i>.png``."""
    from helpers import write_digits

    return write_digits(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def digit_model(tmp_path_factory):
    """A model file that reads digits well enough for the served page's drawings:
    784-64-10 ReLU, 3 epochs on 20,000 MNIST images (about 94% test accuracy; seconds
    of training)."""
    from deltanet.cli import main

    out = tmp_path_factory.mktemp("digits") / "run"
    argv = ["train", "--layers", "784,64,10", "--hidden", "relu", "--epochs", "3"]
    assert main([*argv, "--val-size", "40000", "--out", str(out), "--quiet"]) == 0
    return out / "model.safetensors"


@pytest.fixture(scope="session")
def artifacts():
    """Where tests leave what people look at (screenshots, load figures):
    $DELTANET_TEST_ARTIFACTS, or build/test-artifacts in the repository."""
    from pathlib import Path

    default = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
    folder = Path(os.environ.get("DELTANET_TEST_ARTIFACTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def tabular(tmp_path_factory):
    """A tabular model's file (class names, standardized inputs), the model and its data."""
    from helpers import tabular_model

    from deltanet.modelfile import save_model

    model, X, y = tabular_model()
    path = tmp_path_factory.mktemp("tabular") / "trees.safetensors"
    save_model(model, path, training={"metrics": {"test_error": 0.05}})
    return path, model, X, y


def _serve_load():
    """benchmarks/serve_load.py: the real server in its own process, and the load on it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import serve_load

    return serve_load


@pytest.fixture(scope="session")
def serve_load():
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx2")
    return _serve_load()


@pytest.fixture(scope="session")
def served(serve_load, digit_model):
    """``deltanet serve`` of the digit model, running in its own process for the session."""
    with serve_load.serving(digit_model, "--quiet") as server:
        yield server
