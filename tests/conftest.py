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
