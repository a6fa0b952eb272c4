"""The compiled (numba) updates agree with their plain NumPy twins."""

import numpy as np
import pytest

from deltanet import kernels

pytestmark = pytest.mark.skipif(kernels.jit() is None, reason="numba unavailable or disabled")


def arrays(rng, dtype, k=5, n=1001):
    return [rng.normal(size=n).astype(dtype) for _ in range(k)]


def both(fn, make_args, rel):
    """Run ``fn`` on two copies of the same inputs, compiled and plain; compare outputs."""
    a = make_args()
    b = [x.copy() if isinstance(x, np.ndarray) else x for x in a]
    before = [x.copy() for x in a if isinstance(x, np.ndarray)]
    fn(*a)
    assert any(
        not np.array_equal(x, y)
        for x, y in zip(a, before, strict=False)
        if isinstance(x, np.ndarray)
    ), "the update changed nothing"
    kernels.jit.cache_clear()
    import os

    os.environ["DELTANET_NUMBA"] = "0"
    try:
        assert kernels.jit() is None
        fn(*b)
    finally:
        del os.environ["DELTANET_NUMBA"]
        kernels.jit.cache_clear()
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            # updates are compared at the scale of the arrays they change
            np.testing.assert_allclose(x, y, rtol=rel, atol=rel * float(np.abs(y).max()))


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_rmsprop(dtype, rel):
    rng = np.random.default_rng(0)

    def make():
        w, g, ms = arrays(rng, dtype, 3)
        return [w, g, np.abs(ms), 0.01, 0.9, 1e-8]

    both(lambda *a: kernels.rmsprop(*a, np.empty_like(a[0])), make, rel)


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_rmsprop_gains(dtype, rel):
    rng = np.random.default_rng(1)

    def make():
        w, g, ms, prev = arrays(rng, dtype, 4)
        gain = rng.uniform(0.05, 12, size=w.size).astype(dtype)
        prev[::7] = 0  # "no information" entries
        return [w, g, np.abs(ms), gain, prev, 0.01, 0.9, 1e-8, 1.3, 0.5, 0.1, 10.0]

    both(lambda *a: kernels.rmsprop_gains(*a, np.empty_like(a[0])), make, rel)


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_adam(dtype, rel):
    rng = np.random.default_rng(2)

    def make():
        w, g, m, v = arrays(rng, dtype, 4)
        return [w, g, m, np.abs(v), 0.001, 0.9, 0.999, 1e-8, 3]

    both(kernels.adam, make, rel)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_ema(nesterov):
    rng = np.random.default_rng(3)

    def make():
        w, g, v = arrays(rng, np.float64, 3)
        return [w, g, v, 0.1, 0.9, nesterov]

    both(kernels.momentum, make, 1e-12)

    def make_ema():
        avg, w = arrays(rng, np.float32, 2)
        return [avg, w, 0.01]

    both(kernels.ema, make_ema, 2e-6)
