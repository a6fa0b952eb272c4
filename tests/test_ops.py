"""Every operation of every backend against the formula it implements, and the numba
backend's routing: compiled when the arrays allow it, the reference otherwise."""

import os

import numpy as np
import pytest

from deltanet import ops as ops_module
from deltanet.activations import ACTIVATIONS, get_activation
from deltanet.losses import get_loss
from deltanet.ops import NumbaOps, NumpyOps, get_ops

# float32 results of the compiled updates (fastmath) match to rounding, not bit for bit
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-12}


def arrays(rng, dtype, k, n=1001):
    return [rng.normal(size=n).astype(dtype) for _ in range(k)]


def close(got, expected, dtype):
    rel = TOLERANCE[dtype]
    np.testing.assert_allclose(got, expected, rtol=rel, atol=rel * float(np.abs(expected).max()))


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop(ops, dtype, rng):
    w, g, ms = arrays(rng, dtype, 3)
    ms = np.abs(ms)
    lr, rho, eps = 0.01, 0.9, 1e-8
    w64, g64, ms64 = (a.astype(np.float64) for a in (w, g, ms))
    ms_new = rho * ms64 + (1 - rho) * g64**2
    w_new = w64 - lr * g64 / (np.sqrt(ms_new) + eps)
    ops.rmsprop(w, g, ms, lr, rho, eps, np.empty_like(w))
    close(ms, ms_new, dtype)
    close(w, w_new, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_gains(ops, dtype, rng):
    w, g, ms, prev = arrays(rng, dtype, 4)
    ms = np.abs(ms)
    gain = rng.uniform(0.05, 12, size=w.size).astype(dtype)
    prev[::7] = 0  # "no information" entries
    w64, g64, ms64, gain64, prev64 = (a.astype(np.float64) for a in (w, g, ms, gain, prev))
    s = g64 * prev64
    gain_new = np.clip(gain64 * np.where(s > 0, 1.3, np.where(s < 0, 0.5, 1.0)), 0.1, 10.0)
    ms_new = 0.9 * ms64 + 0.1 * g64**2
    w_new = w64 - 0.01 * gain_new * g64 / (np.sqrt(ms_new) + 1e-8)
    ops.rmsprop_gains(w, g, ms, gain, prev, 0.01, 0.9, 1e-8, 1.3, 0.5, 0.1, 10.0, np.empty_like(w))
    close(gain, gain_new, dtype)
    close(w, w_new, dtype)
    np.testing.assert_array_equal(prev, g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam(ops, dtype, rng):
    w, g, m, v = arrays(rng, dtype, 4)
    v = np.abs(v)
    t, lr, b1, b2, eps = 3, 0.001, 0.9, 0.999, 1e-8
    w64, g64, m64, v64 = (a.astype(np.float64) for a in (w, g, m, v))
    m_new, v_new = b1 * m64 + (1 - b1) * g64, b2 * v64 + (1 - b2) * g64**2
    w_new = w64 - lr * (m_new / (1 - b1**t)) / (np.sqrt(v_new / (1 - b2**t)) + eps)
    ops.adam(w, g, m, v, lr, b1, b2, eps, t)
    close(m, m_new, dtype)
    close(w, w_new, dtype)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(ops, nesterov, rng):
    w, g, v = arrays(rng, np.float64, 3)
    v_new = 0.9 * v + g
    w_new = w - 0.1 * ((g + 0.9 * v_new) if nesterov else v_new)
    ops.momentum(w, g, v, 0.1, 0.9, nesterov)
    close(v, v_new, np.float64)
    close(w, w_new, np.float64)


def _steps(ops, name, w, g, state, avg):
    """One step of optimizer ``name`` on flat arrays, state updated in place."""
    if name == "rmsprop":
        ops.rmsprop(w, g, state[0], 0.01, 0.9, 1e-8, np.empty_like(w), avg, 0.001)
    elif name == "rmsprop_gains":
        gain, prev = np.ones_like(w), np.zeros_like(w)
        ops.rmsprop_gains(w, g, state[0], gain, prev, 0.01, 0.9, 1e-8, 1.3, 0.5, 0.1, 10, w * 0)
    elif name == "adam":
        ops.adam(w, g, state[0], state[1], 0.001, 0.9, 0.999, 1e-8, 5, avg, 0.001)
    else:
        ops.momentum(w, g, state[0], 0.1, 0.9, False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["rmsprop", "rmsprop_gains", "adam", "momentum"])
@pytest.mark.parametrize("averaged", [False, True])
def test_optimizer_state_never_goes_subnormal(ops, dtype, name, averaged):
    # a weight whose gradient is zero keeps decaying its running averages: they must
    # reach zero instead of the subnormal range, where x86 arithmetic is ~100× slower
    # (docs/benchmarks.md); state above it, and NaN, stay as they were
    tiny = np.finfo(dtype).tiny
    n = 64
    w, g = np.ones(n, dtype), np.zeros(n, dtype)
    state = [np.full(n, tiny * 1.0005, dtype) for _ in range(2)]  # one step from subnormal
    for s in state:
        s[0], s[1], s[2] = 1.0, np.nan, tiny * 1e3
        if name in ("adam", "momentum"):  # signed moments
            s[3] = -tiny * 1.0005
    avg = w.copy() if averaged and name in ("rmsprop", "adam") else None
    with np.errstate(invalid="ignore"):  # the NaN entry
        _steps(ops, name, w, g, state, avg)
    for s in state[: 2 if name == "adam" else 1]:
        finite = np.isfinite(s)
        assert not np.any((s[finite] != 0) & (np.abs(s[finite]) < tiny)), s
        assert np.all(s[4:] == 0)
        assert s[0] > 0.5 and np.isnan(s[1]) and s[2] > tiny
        if name in ("adam", "momentum"):
            assert s[3] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_ema(ops, dtype, rng):
    avg, w = arrays(rng, dtype, 2)
    expected = avg.astype(np.float64) + 0.01 * (w.astype(np.float64) - avg)
    ops.ema(avg, w, 0.01)
    close(avg, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_scaled_rounds_as_numpy_does(ops, dtype, rng):
    # an L2 penalty's gradient term: bit for bit NumPy's, so runs keep their bytes
    out, x = (a.reshape(7, 143) for a in arrays(rng, dtype, 2))
    expected = out + 1e-3 * x
    ops.add_scaled(out, x, 1e-3)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="share one shape"):
        ops.add_scaled(out, x[:, :5], 1e-3)


def test_updates_refuse_arrays_of_different_shapes(ops):
    w, g = np.zeros(5), np.zeros(4)
    with pytest.raises(ValueError, match="share one shape"):
        ops.ema(w, g, 0.1)
    with pytest.raises(ValueError, match="share one shape"):
        ops.rmsprop(w, w.copy(), g, 0.1, 0.9, 1e-8, w.copy())


# ---------------------------------------------------------------------- layer operations


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("targets", ["one-hot", "soft", "unnormalised"])
def test_softmax_cross_entropy(ops, dtype, rel, targets):
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
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    lse = z64.max(axis=1) + np.log(np.exp(z64 - z64.max(axis=1, keepdims=True)).sum(axis=1))
    h = np.exp(z64 - lse[:, None])
    h_out, delta = np.empty_like(z), np.empty_like(z)
    total = ops.softmax_cross_entropy(z, y, h_out, delta, 1 / 37)
    assert total == pytest.approx(float((y64 * (lse[:, None] - z64)).sum()), rel=rel)
    np.testing.assert_allclose(h_out, h, rtol=rel, atol=rel)
    expected = (h * y64.sum(axis=1, keepdims=True) - y64) / 37
    np.testing.assert_allclose(delta, expected, rtol=rel, atol=rel * np.abs(expected).max())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", [0, 2])
def test_softmax_cross_entropy_lets_a_non_finite_logit_through(ops, bad, column):
    # the trainer detects divergence from a non-finite loss: the kernel must not hide it
    z = np.zeros((3, 4), np.float32)
    z[1, column] = bad
    y = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    with np.errstate(invalid="ignore"):  # the reference's inf − inf
        total = get_loss("cross_entropy").output_total_delta(
            z, y, np.empty_like(z), np.empty_like(z), 1 / 3, ops
        )
    assert not np.isfinite(total)


def test_the_layer_operations_refuse_mismatched_shapes(ops):
    # compiled without bounds checks, they would read past the end of a smaller array
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="share one shape"):
        ops.softmax_cross_entropy(z, np.zeros((2, 2)), z.copy(), z.copy(), 0.5)
    f = get_activation("sigmoid")
    with pytest.raises(ValueError, match="share one shape"):
        ops.backprop_hidden(z, np.zeros((2, 2)), f, None, np.zeros(3), z.copy())
    with pytest.raises(ValueError, match="db must have shape"):
        ops.backprop_hidden(z, z.copy(), f, None, np.zeros(2), z.copy())


@pytest.mark.parametrize(("dtype", "rel"), [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("masked", [False, True])
def test_backprop_hidden(ops, dtype, rel, name, masked):
    f = get_activation(name)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(23, 31)).astype(dtype)
    z[0, :5] = 0  # relu's kink: the derivative there is taken as 0
    a = f(z)
    delta = rng.normal(size=z.shape).astype(dtype)
    mask = ((rng.random(z.shape) > 0.3) / 0.7).astype(dtype) if masked else None
    expected = delta * f.derivative(a, np.empty_like(a)) * (1 if mask is None else mask)
    db = np.empty(31, dtype)
    ops.backprop_hidden(delta, a, f, mask, db, np.empty_like(delta))
    np.testing.assert_allclose(delta, expected, rtol=rel, atol=rel)
    np.testing.assert_allclose(db, expected.sum(axis=0), rtol=rel * 30, atol=rel * 30)


# ---------------------------------------------------------------------- routing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["rmsprop", "adam"])
def test_the_average_fused_into_an_update_equals_it_done_after(ops, dtype, method, rng):
    # one pass instead of two, and the same bits: the average's step follows the update's
    w, g, s1, s2, avg = arrays(rng, dtype, 5)
    s1, s2 = np.abs(s1), np.abs(s2)
    apart = [a.copy() for a in (w, s1, s2, avg)]
    together = [a.copy() for a in (w, s1, s2, avg)]

    def update(ws, fused):
        w_, a_, b_, avg_ = ws
        extra = (avg_, 0.25) if fused else ()
        if method == "rmsprop":
            ops.rmsprop(w_, g, a_, 0.01, 0.9, 1e-8, np.empty_like(w_), *extra)
        else:
            ops.adam(w_, g, a_, b_, 0.01, 0.9, 0.999, 1e-8, 3, *extra)
        if not fused:
            ops.ema(avg_, w_, 0.25)

    update(apart, fused=False)
    update(together, fused=True)
    for x, y in zip(apart, together, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_bias_activation_matches_the_reference_bit_for_bit(ops, dtype, name, rng):
    z = rng.normal(size=(7, 9)).astype(dtype)
    z[0, :3] = [-0.0, np.nan, np.inf]  # NumPy's maximum keeps −0.0 and NaN: so must a loop
    b = rng.normal(size=9).astype(dtype)
    b[:3] = 0
    f = get_activation(name)
    expected = NumpyOps().bias_activation(z.copy(), b, f)
    got = ops.bias_activation(z.copy(), b, f)
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), expected.view(f"u{got.itemsize}"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_the_reference_bit_for_bit(ops, dtype, rng):
    a = rng.normal(size=(6, 50)).astype(dtype)
    u = rng.random(size=(6, 50)).astype(dtype)
    u[0, 0] = 0.3  # exactly p: kept, as ≥ says
    ref_mask, mask = u.copy(), u.copy()
    expected = NumpyOps().dropout(a, ref_mask, 0.3, np.empty_like(a))
    got = ops.dropout(a, mask, 0.3, np.empty_like(a))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(mask, ref_mask)
    assert set(np.unique(mask)) == {0, dtype(1 / 0.7)} and mask[0, 0] > 0


def test_the_forward_operations_refuse_mismatched_shapes(ops):
    with pytest.raises(ValueError, match="b must have shape"):
        ops.bias_activation(np.zeros((2, 3)), np.zeros(4), get_activation("relu"))
    with pytest.raises(ValueError, match="share one shape"):
        ops.dropout(np.zeros((2, 3)), np.zeros((2, 3)), 0.5, np.zeros((3, 2)))


@pytest.fixture(scope="module")
def warp_case():
    from deltanet.augment import Augment
    from deltanet.datasets import load_mnist

    images = load_mnist().X_train[:30].reshape(-1, 28, 28).copy()
    aug = Augment(elastic_alpha=1.0)
    affine, pick, flip = aug.draw(len(images), np.random.default_rng(7))
    return images, affine, aug._fields(), pick, flip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("elastic", [False, True])
def test_warp_matches_the_reference_bit_for_bit(ops, dtype, elastic, warp_case):
    # the compiled warp repeats the reference's operations in its order and types, so the
    # distorted batches, and the weights trained on them, do not move
    images, affine, bank, pick, flip = warp_case
    images = images.astype(dtype)
    bank = bank if elastic else None
    expected = NumpyOps().warp(images, affine, bank, pick, flip, 1.0, np.empty_like(images))
    got = ops.warp(images, affine, bank, pick, flip, 1.0, np.empty_like(images))
    np.testing.assert_array_equal(got, expected)


def test_warp_is_the_identity_for_the_identity_map(ops, warp_case):
    images = warp_case[0]
    identity = np.tile([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], (len(images), 1))
    out = ops.warp(images, identity, None, None, None, 0.0, np.empty_like(images))
    np.testing.assert_array_equal(out, images)


def test_warp_refuses_what_it_cannot_index(ops, warp_case):
    images, affine, bank, pick, flip = warp_case
    out = np.empty_like(images)
    with pytest.raises(ValueError, match="affine"):
        ops.warp(images, affine[:-1], bank, pick, flip, 1.0, out)
    if ops.name == "numba":  # the compiled loop trusts its indices: they are checked first
        with pytest.raises(ValueError, match="field indices"):
            ops.warp(images, affine, bank, pick + len(bank), flip, 1.0, out)


@pytest.fixture(scope="module")
def numba_ops():
    pytest.importorskip("numba")
    return NumbaOps()


def count_calls(monkeypatch, ops, kernel):
    calls = []
    compiled = getattr(ops, kernel)
    monkeypatch.setattr(ops, kernel, lambda *a: calls.append(1) or compiled(*a))
    return calls


def test_eligible_arrays_take_the_compiled_loop(numba_ops, monkeypatch):
    calls = count_calls(monkeypatch, numba_ops, "_ema")
    avg, w = np.zeros(8, np.float32), np.ones(8, np.float32)
    numba_ops.ema(avg, w, 0.5)
    assert calls == [1]
    np.testing.assert_array_equal(avg, 0.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (np.zeros(8, np.float32), np.ones(8, np.float64)),  # two dtypes
        lambda: (np.zeros(16, np.float32)[::2], np.ones(8, np.float32)),  # not contiguous
    ],
)
def test_other_arrays_take_the_reference_route(numba_ops, monkeypatch, make):
    calls = count_calls(monkeypatch, numba_ops, "_ema")
    avg, w = make()
    expected = avg.copy()
    NumpyOps().ema(expected, w, 0.5)
    numba_ops.ema(avg, w, 0.5)
    np.testing.assert_array_equal(avg, expected)
    assert calls == []


def test_only_floating_point_arrays_are_eligible(numba_ops):
    assert numba_ops.eligible(np.zeros(3, np.float32), np.zeros(3, np.float32))
    assert not numba_ops.eligible(np.zeros(3, np.int64), np.zeros(3, np.int64))


@pytest.mark.parametrize(("name", "compiled"), [("sigmoid", 1), ("relu", 1), ("softplus", 0)])
def test_backprop_hidden_compiles_the_derivatives_it_knows(numba_ops, monkeypatch, name, compiled):
    # softplus' derivative needs exp: it takes the reference route
    calls = count_calls(monkeypatch, numba_ops, "_backprop_hidden")
    d = np.ones((2, 3))
    numba_ops.backprop_hidden(
        d, np.full((2, 3), 0.5), get_activation(name), None, np.zeros(3), d.copy()
    )
    assert len(calls) == compiled


def test_get_ops_chooses_once_and_honours_deltanet_numba(monkeypatch):
    get_ops.cache_clear()
    try:
        monkeypatch.setenv("DELTANET_NUMBA", "0")
        assert type(get_ops()) is NumpyOps
        monkeypatch.delenv("DELTANET_NUMBA")
        assert type(get_ops()) is NumpyOps  # chosen once per process
        get_ops.cache_clear()
        expected = NumpyOps if ops_module.numba_disabled() else NumbaOps
        pytest.importorskip("numba")
        assert type(get_ops()) is expected and get_ops() is get_ops()
    finally:
        get_ops.cache_clear()


def test_a_numba_that_cannot_be_imported_leaves_training_to_numpy(tmp_path):
    # numba often lags a new NumPy: installed, but its import fails. Training must go on,
    # on the reference backend, with one warning saying why (in a fresh process, where
    # numba is not imported yet)
    import subprocess
    import sys

    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise ImportError("Numba needs NumPy 2.3 or less")\n')
    script = (
        "import warnings, numpy as np, deltanet as dn\n"
        "X = np.random.default_rng(0).random((64, 5)); y = np.arange(64) % 3\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    dn.fit(dn.MLP([5, 4, 3]), X, y, epochs=2, batch_size=16)\n"
        "print(sum('cannot be imported' in str(w.message) for w in seen))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_a_backend_pickles_by_name_and_comes_back_as_this_process_s(monkeypatch):
    import pickle

    assert type(pickle.loads(pickle.dumps(NumpyOps()))) is NumpyOps
    get_ops.cache_clear()
    try:
        monkeypatch.setenv("DELTANET_NUMBA", "0")  # a process where numba is turned off
        assert type(pickle.loads(pickle.dumps(NumbaOps()))) is NumpyOps
        monkeypatch.delenv("DELTANET_NUMBA")
        get_ops.cache_clear()
        pytest.importorskip("numba")
        if not ops_module.numba_disabled():
            assert pickle.loads(pickle.dumps(NumbaOps())) is get_ops()
    finally:
        get_ops.cache_clear()
