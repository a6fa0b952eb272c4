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
