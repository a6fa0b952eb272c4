import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltanet as dn

HIDDEN = ["sigmoid", "tanh", "relu"]
LOSS_OUTPUTS = [
    ("cross_entropy", None),
    ("binary_cross_entropy", None),
    ("squared_error", "sigmoid"),
    ("squared_error", "linear"),
]
GRID = list(itertools.product(HIDDEN, LOSS_OUTPUTS, [1, 2, 3], [0.0, 0.05]))


def batch(rng, n, d, k):
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


@pytest.mark.parametrize(("hidden", "loss_output", "depth", "l2"), GRID)
def test_gradient_is_exact_for_every_configuration(hidden, loss_output, depth, l2, rng):
    loss, output = loss_output
    layers = [7, *[6, 5, 4][:depth], 3]
    net = dn.MLP(
        layers,
        hidden=hidden,
        loss=loss,
        output=output,
        l2=l2,
        dtype="float64",
        seed=int(rng.integers(1 << 31)),
    )
    net.params += 0.1 * rng.normal(size=net.n_params)  # non-zero biases too
    X, y = batch(rng, 9, 7, 3)
    report = net.gradcheck(X, y, rtol=1e-7)
    assert [b.name for b in report.blocks] == [f"{p}{i}" for i in range(1, depth + 2) for p in "Wb"]
    assert report.ok, str(report)
    assert report.max_rel_error < 1e-7
    if hidden != "relu":
        assert sum(b.n_kinks for b in report.blocks) == 0


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    n=st.integers(1, 6),
    hidden=st.sampled_from(["sigmoid", "tanh", "softplus", "leaky_relu"]),
    loss_output=st.sampled_from(LOSS_OUTPUTS),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_shapes_and_weights_pass_the_check(widths, n, hidden, loss_output, seed):
    rng = np.random.default_rng(seed)
    net = dn.MLP(
        widths,
        hidden=hidden,
        loss=loss_output[0],
        output=loss_output[1],
        l2=float(rng.uniform(0, 0.1)),
        dtype="float64",
        seed=seed,
    )
    net.params = rng.normal(size=net.n_params)
    X = rng.normal(size=(n, widths[0]))
    Y = rng.random((n, widths[-1]))  # soft targets exercise the general deltas
    report = net.gradcheck(X, Y)
    assert report.ok, str(report)


def independent_cost(net, X, Y):
    """The documented cost, written out directly from the named views."""
    a = X
    for i, (W, b) in enumerate(zip(net.W, net.b, strict=True)):
        z = a @ W + b
        a = 1 / (1 + np.exp(-z)) if i < len(net.W) - 1 else z
    logp = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    data = -(Y * logp).sum() / len(X)
    return data + 0.5 * net.l2 * sum((W**2).sum() for W in net.W)


def test_cost_is_mean_loss_plus_half_lambda_weights_squared_without_biases(rng):
    net = dn.MLP([5, 4, 3], l2=0.3, dtype="float64")
    net.params = rng.normal(size=net.n_params)
    X, y = batch(rng, 6, 5, 3)
    Y = np.eye(3)[y]
    J, _ = net.loss_and_grad(X, y)
    assert J == pytest.approx(independent_cost(net, X, Y), rel=1e-12)
    before = J
    for b in net.b:
        b += 10.0  # changes the data term only, never the penalty
    net.l2 = 0.0
    J0 = net.cost(X, y)
    net.l2 = 0.3
    assert net.cost(X, y) - J0 == pytest.approx(0.15 * sum((W**2).sum() for W in net.W), rel=1e-10)
    assert before != net.cost(X, y)


def test_params_are_one_contiguous_vector_with_named_views():
    net = dn.MLP(
        [784, 300, 10],
        hidden="sigmoid",
        loss="cross_entropy",
        output=None,
        l2=0.0,
        dtype="float32",
        seed=0,
    )
    p = net.params
    assert p.ndim == 1 and p.flags.c_contiguous and p.size == 784 * 300 + 300 + 300 * 10 + 10
    assert p.dtype == np.float32
    assert net.W[0].shape == (784, 300) and net.b[0].shape == (300,)
    assert net.W[1].shape == (300, 10) and net.b[1].shape == (10,)
    for view in (*net.W, *net.b):
        assert np.shares_memory(view, p)
    for view in (*net.dW, *net.db):
        assert np.shares_memory(view, net.grad)
    np.testing.assert_array_equal(p[: 784 * 300].reshape(784, 300), net.W[0])
    np.testing.assert_array_equal(p[784 * 300 : 784 * 300 + 300], net.b[0])
    net.params = np.zeros_like(p)  # assignment keeps the buffer, so views stay valid
    assert net.params is p and not net.W[0].any()


def test_layer_formula_is_a_prev_at_W_plus_b(rng):
    net = dn.MLP([3, 2], loss="squared_error", output="linear", dtype="float64")
    net.params = rng.normal(size=net.n_params)
    X = rng.normal(size=(4, 3))
    np.testing.assert_allclose(net.predict_proba(X), X @ net.W[0] + net.b[0])


def test_gradient_views_hold_the_returned_gradient(rng):
    net = dn.MLP([4, 3, 2], dtype="float64")
    X, y = batch(rng, 5, 4, 2)
    _, g = net.loss_and_grad(X, y)
    np.testing.assert_array_equal(g, net.grad)
    np.testing.assert_array_equal(g[:12].reshape(4, 3), net.dW[0])
    g2 = net.loss_and_grad(X[:2], y[:2])[1]
    assert not np.array_equal(g, g2)  # the first result was not overwritten


def test_float32_stays_float32_end_to_end(rng):
    net = dn.MLP([6, 5, 4, 3], dtype="float32")
    X, y = batch(rng, 8, 6, 3)
    J, g = net.loss_and_grad(X, y)
    assert g.dtype == np.float32 and net.params.dtype == np.float32
    assert net.predict_proba(X).dtype == np.float32
    ws = net._workspace(8)
    for buf in (*ws.acts, ws.out, *ws.deltas, *ws.deriv):
        assert buf.dtype == np.float32
    J64, g64 = net.copy("float64").loss_and_grad(X, y)
    assert J == pytest.approx(J64, rel=1e-5)
    np.testing.assert_allclose(g, g64, rtol=1e-3, atol=1e-6)


def test_float32_network_gradcheck_runs_in_float64(rng):
    net = dn.MLP([4, 3, 2], dtype="float32")
    X, y = batch(rng, 5, 4, 2)
    report = net.gradcheck(X, y)
    assert report.ok
    assert net.params.dtype == np.float32


def test_gradcheck_leaves_parameters_unchanged(rng):
    net = dn.MLP([4, 3, 2], dtype="float64")
    before = net.params.copy()
    net.gradcheck(*batch(rng, 5, 4, 2))
    np.testing.assert_array_equal(net.params, before)


def test_predict_and_proba(rng):
    net = dn.MLP([4, 3, 5])
    X = rng.normal(size=(10, 4))
    P = net.predict_proba(X)
    assert P.shape == (10, 5)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(net.predict(X), P.argmax(axis=1))
    big = rng.normal(size=(4500, 4))  # crosses the prediction chunk size
    np.testing.assert_allclose(net.predict_proba(big)[-3:], net.predict_proba(big[-3:]), rtol=1e-6)


def test_labels_and_one_hot_targets_agree(rng):
    net = dn.MLP([4, 3, 3], dtype="float64")
    X, y = batch(rng, 6, 4, 3)
    J1, g1 = net.loss_and_grad(X, y)
    J2, g2 = net.loss_and_grad(X, np.eye(3)[y])
    assert J1 == J2
    np.testing.assert_array_equal(g1, g2)


def test_initialization_follows_glorot_and_he():
    net = dn.MLP([400, 200, 10], hidden="sigmoid", seed=1)
    r = np.sqrt(6 / 600)
    assert np.abs(net.W[0]).max() <= r and np.abs(net.W[0]).max() > 0.99 * r
    assert np.std(net.W[0]) == pytest.approx(r / np.sqrt(3), rel=0.02)
    assert not any(b.any() for b in net.b)
    relu = dn.MLP([400, 200, 10], hidden="relu", seed=1)
    assert np.var(relu.W[0]) == pytest.approx(2 / 400, rel=0.03)  # He: Var = 2 / fan_in
    assert np.array_equal(dn.MLP([5, 4, 3], seed=7).params, dn.MLP([5, 4, 3], seed=7).params)
    assert not np.array_equal(dn.MLP([5, 4, 3], seed=7).params, dn.MLP([5, 4, 3], seed=8).params)


def test_no_python_loop_over_samples_scales(rng):
    # One step on 2,000 samples costs about what one step on 20 does, times 100, at most:
    # checked by counting calls, not by timing.
    net = dn.MLP([10, 8, 3], dtype="float64")
    calls = []
    original = net._f.forward
    net._f = type(net._f)(
        net._f.name, lambda z, out: calls.append(1) or original(z, out), net._f.derivative
    )
    for n in (20, 2000):
        calls.clear()
        net.loss_and_grad(*batch(rng, n, 10, 3))
        assert len(calls) == 1  # one vectorized call per hidden layer, whatever N is


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": [5]}, "at least two"),
        ({"layers": [5, 0, 2]}, "at least two positive"),
        ({"hidden": "swish"}, "unknown activation"),
        ({"loss": "hinge"}, "unknown loss"),
        ({"loss": "cross_entropy", "output": "linear"}, "needs output 'softmax'"),
        ({"l2": -1.0}, "l2 must be"),
        ({"dtype": "float16"}, "dtype must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_construction_is_a_clear_value_error(kwargs, message):
    args = {"layers": [4, 3, 2], **kwargs}
    with pytest.raises(dn.ConfigError, match=message):
        dn.MLP(**args)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 5)), [0, 1, 1], r"shape \(N, 4\)"),
        (np.zeros((3, 4)), [0, 1], "3 rows"),
        (np.zeros((3, 4)), [0, 1, 2], r"0\.\.1"),
        (np.zeros((3, 4)), [0, -1, 1], r"0\.\.1"),
        (np.zeros((3, 4)), [0.5, 1, 1], "integers"),
        (np.full((3, 4), np.nan), [0, 1, 1], "NaN"),
        (np.zeros((3, 4)), np.zeros((3, 3)), r"\(N, 2\) targets"),
    ],
)
def test_bad_data_is_a_clear_value_error(X, y, message):
    net = dn.MLP([4, 3, 2])
    with pytest.raises(dn.DataError, match=message):
        net.loss_and_grad(X, y)


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "leaky_relu"])
def test_dropout_gradient_with_a_fixed_mask(hidden, rng):
    net = dn.MLP(
        [6, 5, 4, 3],
        hidden=hidden,
        dropout=0.5,
        input_dropout=0.2,
        l2=0.01,
        dtype="float64",
        seed=1,
    )
    X, y = batch(rng, 8, 6, 3)
    report = net.gradcheck(X, y, dropout_seed=7, rtol=1e-7)
    assert report.ok, str(report)
    # the masks are really applied: the masked cost differs from the plain one
    masked = net.gradcheck(X, y, dropout_seed=7, max_coords=1).cost
    assert masked != net.cost(X, y)


def test_dropout_is_off_at_evaluation_and_inverted(rng):
    net = dn.MLP([50, 400, 3], hidden="relu", dropout=0.5, input_dropout=0.2, dtype="float64")
    X = rng.random((4, 50))
    np.testing.assert_array_equal(
        net.predict_proba(X), dn.MLP([50, 400, 3], hidden="relu", dtype="float64").predict_proba(X)
    )
    ws = net._workspace(4)
    net._forward(X, ws, np.random.default_rng(0))
    kept = ws.masks[1] > 0
    assert 0.4 < kept.mean() < 0.6  # about half the hidden units survive
    np.testing.assert_allclose(ws.masks[1][kept], 2.0)  # and are scaled by 1/(1 − p)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        dn.MLP([3, 2], dropout=1.0)


def test_gradient_stays_exact_when_units_saturate(rng):
    # a trained network drives hidden units deep into the tails of the sigmoid, where
    # σ(z) ≈ 1e−13: the check must still pass (it did not when σ lost relative precision)
    net = dn.MLP([20, 15, 4], hidden="sigmoid", dtype="float64", seed=0)
    net.params = 6 * rng.normal(size=net.n_params)
    X = 3 * rng.normal(size=(10, 20))
    z = X @ net.W[0] + net.b[0]
    assert (z < -25).any()  # some units are saturated
    report = net.gradcheck(X, rng.integers(0, 4, 10))
    assert report.ok, str(report)


# ---------------------------------------------------------------------- checks, configs, steps


@pytest.mark.parametrize("layers", ["123", [784, 30.7, 10], [784, True, 10], [784], 784])
def test_layers_that_are_not_widths_are_refused(layers):
    with pytest.raises(dn.ConfigError, match="layers must be at least two positive"):
        dn.MLP(layers)


def test_error_rate_checks_its_labels(rng):
    net = dn.MLP([4, 3, 2])
    X, y = batch(rng, 6, 4, 2)
    assert 0 <= net.error_rate(X, y) <= 1
    assert net.error_rate(X, np.eye(2)[y]) == net.error_rate(X, y)  # targets work too
    with pytest.raises(dn.DataError, match="y must have 6 rows"):
        net.error_rate(X, y[:1])
    with pytest.raises(dn.DataError, match=r"labels must lie in 0\.\.1"):
        net.error_rate(X, y + 2)
    with pytest.raises(dn.DataError, match="X has 0 rows"):
        net.error_rate(X[:0], y[:0])


def test_a_network_with_nan_parameters_refuses_to_predict(rng):
    net = dn.MLP([4, 3, 2])
    net.params[5] = np.nan
    with pytest.raises(ValueError, match="parameters contain NaN"):
        net.predict(rng.normal(size=(3, 4)))  # instead of answering class 0 for everything


def test_config_round_trip(rng):
    net = dn.MLP([5, 4, 3], hidden="tanh", loss="squared_error", output="linear", l2=0.1,
                 dtype="float64", dropout=0.2)  # fmt: skip
    again = dn.MLP.from_config(net.to_config())
    assert again.to_config() == net.to_config() == dn.network.architecture(net)
    assert net.to_config()["output"] == "linear"
    assert dn.MLP([3, 2]).to_config()["output"] == "softmax"  # the loss's own, resolved
    with pytest.raises(dn.ConfigError, match="not settings of a network: momentum"):
        dn.MLP.from_config({**net.to_config(), "momentum": 0.9})


def test_from_a_train_config_the_seed_draws_the_weights():
    cfg = dn.TrainConfig(layers=(5, 4, 3), seed=7)
    assert dn.MLP.from_config(cfg).params.tobytes() == dn.MLP([5, 4, 3], seed=7).params.tobytes()


def test_train_step_is_forward_then_backward(rng):
    net = dn.MLP([6, 5, 3], dtype="float64")
    X, y = batch(rng, 8, 6, 3)
    J, g = net.loss_and_grad(X, y)
    Y = net.targets(y)
    loss, wrong = net.train_step(X, Y, y)
    assert loss == J
    np.testing.assert_array_equal(net.grad, g)
    assert wrong == int(np.sum(net.predict(X) != y))
    z = net.forward(X)
    assert z.shape == (8, 3) and net.backward(Y) == J
    with pytest.raises(ValueError, match="targets of the batch forward"):
        net.backward(Y[:2])


def test_the_network_on_each_backend_has_an_exact_gradient(ops, rng):
    net = dn.MLP([7, 6, 3], hidden="relu", dtype="float64", ops=ops, seed=1)
    net.params += 0.1 * rng.normal(size=net.n_params)
    X, y = batch(rng, 9, 7, 3)
    report = net.gradcheck(X, y, rtol=1e-7)
    assert report.ok, str(report)


def test_output_kind():
    assert dn.MLP([3, 2]).output_kind == "probabilities"
    assert dn.MLP([3, 2], loss="binary_cross_entropy").output_kind == "probabilities"
    assert dn.MLP([3, 2], loss="squared_error").output_kind == "scores"


def test_importing_the_network_imports_no_higher_layer():
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, deltanet.network; "
        "print(json.dumps([m for m in sys.modules if m.startswith('deltanet')]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = set(json.loads(result.stdout))
    assert "deltanet.network" in loaded
    for higher in ("deltanet.training", "deltanet.modelfile", "deltanet.cli", "deltanet.rundir"):
        assert higher not in loaded, f"importing deltanet.network imported {higher}"


def test_an_unpickled_network_trains_like_the_original(rng):
    # W, b, dW, db must come back as views into params and grad: as copies, a step would
    # move params while the forward pass kept using the old weights
    import pickle

    X, y = batch(rng, 30, 5, 3)
    net = dn.MLP([5, 4, 3], dtype="float64", seed=1)
    net.predict(X)  # workspaces exist: they are not pickled
    twin = pickle.loads(pickle.dumps(net))
    assert all(np.shares_memory(w, twin.params) for w in (*twin.W, *twin.b))
    assert all(np.shares_memory(g, twin.grad) for g in (*twin.dW, *twin.db))
    for model in (net, twin):
        dn.fit(model, X, y, epochs=2, batch_size=10, optimizer="adam", seed=3)
    np.testing.assert_array_equal(twin.params, net.params)
    np.testing.assert_array_equal(twin.predict_proba(X), net.predict_proba(X))


def test_threadsafe_predictions_in_many_threads_match_one_thread(rng):
    # each thread predicts its own batches of one size at once: with the network's shared
    # buffers they would overwrite each other's activations mid-product (NumPy's matmul
    # lets go of the GIL), so some answers would be another thread's
    from concurrent.futures import ThreadPoolExecutor

    net = dn.MLP([784, 256, 10], hidden="relu", seed=0)
    batches = [rng.random((300, 784)).astype(np.float32) for _ in range(8)]
    expected = [net.predict_proba(X) for X in batches]
    kept = list(net._workspaces.values())
    # poison the shared buffers: a threadsafe call that wrote into them would be seen
    shared = [a for ws in kept for a in _arrays_of(ws) if a.dtype.kind == "f"]
    shared = [a for a in shared if not any(np.shares_memory(a, X) for X in batches)]
    for a in shared:
        a.fill(np.nan)

    def answers(i):
        return [net.predict_proba(batches[i], threadsafe=True) for _ in range(20)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(answers, range(8)))
    for want, got in zip(expected, results, strict=True):
        for P in got:
            np.testing.assert_array_equal(P, want)
    assert list(net._workspaces.values()) == kept  # no shared buffer was replaced
    assert shared and all(np.isnan(a).all() for a in shared)  # nor written into


def _arrays_of(workspace):
    """Every array a workspace holds, directly or in a list."""
    for value in vars(workspace).values():
        items = value if isinstance(value, list) else [value]
        yield from (a for a in items if isinstance(a, np.ndarray))
