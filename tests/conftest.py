import os

# Tiny matrices: BLAS threads only add overhead and noise in tests.  Set before anything
# imports NumPy (matplotlib does), or OpenBLAS has already started its threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib
import pytest

matplotlib.use("Agg")


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
def mnist_small(tmp_path_factory):
    """1,000 training and 100 test images of MNIST as an IDX folder (``--data``)."""
    from helpers import mnist_subset

    return mnist_subset(tmp_path_factory.mktemp("mnist") / "data")


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (tests/pgserver.py), stopped at the
    end; the tests marked ``postgres`` skip only where no server binary exists, and fail
    instead in CI, whose .ci/run installs one."""
    from pgserver import Server, find_bin

    bindir = find_bin()
    if bindir is None:
        reason = "no PostgreSQL server: initdb is not under /usr/lib/postgresql/*/bin nor on PATH"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run should have installed Debian's postgresql")
        pytest.skip(f"{reason} (apt-get install postgresql)")
    server = Server(bindir)
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server, request):
    """The URL of a new, empty database on the session's server, for one test."""
    import re

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return postgres_server.create_database(f"{name}_{os.getpid()}")


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
