"""The compiled (numba) updates agree with their plain NumPy twins."""

import os

import numpy as np
import pytest

from deltanet import kernels
from deltanet.activations import get_activation
from deltanet.losses import get_loss

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


# ---------------------------------------------------------------------- layer kernels


def compiled_and_plain(fn, make, kernel, compiled_runs=1):
    """``(arguments, returned)`` of ``fn`` on the same inputs, compiled and then plain;
    checks that the compiled run called ``kernel`` ``compiled_runs`` times."""
    runs = []
    for plain in (False, True):
        args = make()
        kernels.jit.cache_clear()
        if plain:
            os.environ["DELTANET_NUMBA"] = "0"
        try:
            k = kernels.jit()
            assert (k is None) == plain
            calls = []
            if k is not None:
                compiled = getattr(k, kernel)
                setattr(k, kernel, lambda *a, c=compiled, n=calls: n.append(1) or c(*a))
            returned = fn(*args)
            assert len(calls) == (0 if plain else compiled_runs), "wrong route taken"
        finally:
            os.environ.pop("DELTANET_NUMBA", None)
            kernels.jit.cache_clear()
        runs.append((args, returned))
    return runs


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("targets", ["one-hot", "soft", "unnormalised"])
def test_softmax_cross_entropy_matches_the_numpy_route(dtype, rel, targets):
    loss = get_loss("cross_entropy")
    rng = np.random.default_rng(4)
    z = (rng.normal(size=(37, 10)) * 8).astype(dtype)
    z[0] = 1000  # a row that would overflow a naive exp
    z[1, 3] = -1000
    if targets == "one-hot":
        y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 37)]
    else:
        y = rng.random((37, 10)).astype(dtype)
        if targets == "soft":
            y /= y.sum(axis=1, keepdims=True)

    def make():
        return [z.copy(), y.copy(), np.empty_like(z), np.empty_like(z), 1 / 37]

    (compiled, total_c), (plain, total_p) = compiled_and_plain(
        loss.output_total_delta, make, "softmax_cross_entropy"
    )
    assert total_c == pytest.approx(total_p, rel=rel)
    for c, p in zip(compiled[:4], plain[:4], strict=True):
        np.testing.assert_allclose(c, p, rtol=rel, atol=rel * float(np.abs(p).max()))
    h = compiled[2]
    assert np.isfinite(h).all() and np.allclose(h.sum(axis=1), 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", [0, 2])
def test_softmax_cross_entropy_lets_a_non_finite_logit_through(bad, column):
    # the trainer detects divergence from a non-finite loss: the kernel must not hide it
    z = np.zeros((3, 4), np.float32)
    z[1, column] = bad
    y = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    total = get_loss("cross_entropy").output_total_delta(
        z, y, np.empty_like(z), np.empty_like(z), 1 / 3
    )
    assert not np.isfinite(total)


def test_the_layer_kernels_refuse_mismatched_shapes():
    # compiled without bounds checks, they would read past the end of a smaller array
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="share one shape"):
        kernels.softmax_cross_entropy(z, np.zeros((2, 2)), z.copy(), z.copy(), 0.5)
    f = get_activation("sigmoid")
    with pytest.raises(ValueError, match="share one shape"):
        kernels.backprop_hidden(z, np.zeros((2, 2)), f, None, np.zeros(3), z.copy())
    with pytest.raises(ValueError, match="db must have shape"):
        kernels.backprop_hidden(z, z.copy(), f, None, np.zeros(2), z.copy())


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softplus"])
@pytest.mark.parametrize("masked", [False, True])
def test_backprop_hidden_matches_the_numpy_route(dtype, rel, name, masked):
    f = get_activation(name)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(23, 31)).astype(dtype)
    z[0, :5] = 0  # relu's kink: the derivative there is taken as 0
    a = f(z)
    delta = rng.normal(size=z.shape).astype(dtype)
    mask = ((rng.random(z.shape) > 0.3) / 0.7).astype(dtype) if masked else None

    def make():
        m = None if mask is None else mask.copy()
        return [delta.copy(), a.copy(), f, m, np.empty(31, dtype), np.empty_like(delta)]

    # softplus' derivative needs exp: it takes the NumPy route even when numba is on
    (compiled, _), (plain, _) = compiled_and_plain(
        kernels.backprop_hidden, make, "backprop_hidden", 0 if name == "softplus" else 1
    )
    # δ ⊙ f'(a) [⊙ mask], and its column sums in db
    expected = delta * f.derivative(a, np.empty_like(a)) * (1 if mask is None else mask)
    for got in (compiled, plain):
        np.testing.assert_allclose(got[0], expected, rtol=rel, atol=rel)
        np.testing.assert_allclose(got[4], expected.sum(axis=0), rtol=rel * 30, atol=rel * 30)
