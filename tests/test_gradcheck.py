import warnings

import numpy as np
import pytest
from handwritten import BUGS, HandWritten

import deltanet as dn

# bug -> (blocks that must fail, words the diagnosis must contain)
EXPECTED = {
    "sigmoid_prime_of_activation": ({"W1", "b1"}, ["wrong quantity", "lower layer"]),
    "missing_output_derivative": ({"W1", "b1", "W2", "b2"}, ["starts at the output", "h·(1 − h)"]),
    "l2_gradient_doubled": ({"W1", "W2"}, ["regularization", "only weight blocks"]),
    "biases_penalised_in_cost_only": ({"b1", "b2"}, ["regularization", "only bias blocks"]),
    "transposed_product": ({"W1", "b1"}, ["transposed or misindexed"]),
    "bias_not_averaged": ({"b1", "b2"}, ["missing division by 20", "only bias blocks"]),
    "sign_flip": ({"W2"}, ["sign is flipped"]),
}


def check_handwritten(bug, rng, n=20, d=12, h=10, k=10, lam=0.01):
    hw = HandWritten(d, h, k, lam=lam, bug=bug)
    X = rng.random((n, d))
    Y = np.eye(k)[rng.integers(0, k, n)]
    w = rng.normal(scale=0.5, size=hw.n_params)  # non-zero biases, as after training
    return dn.gradcheck(lambda w: hw.cost(w, X, Y), w, lambda w: hw.grad(w, X, Y), shapes=hw.shapes)


def test_the_correct_handwritten_network_passes(rng):
    report = check_handwritten(None, rng)
    assert report.ok, str(report)
    assert report.max_rel_error < 1e-6


def test_expectations_cover_every_bug():
    assert set(EXPECTED) == set(BUGS)


@pytest.mark.parametrize("bug", BUGS)
def test_each_broken_backward_pass_is_caught_named_and_explained(bug, rng):
    report = check_handwritten(bug, rng)
    must_fail, words = EXPECTED[bug]
    assert not report.ok
    assert set(report.failed_blocks) == must_fail, str(report)
    text = str(report)
    for word in words:
        assert word in text, f"{word!r} missing from:\n{text}"
    with pytest.raises(dn.GradientCheckError, match="FAILED"):
        report.raise_if_failed()


def test_fixing_the_bug_fixes_the_report(rng):
    # the same data and weights: only the bug differs
    seed = int(rng.integers(1 << 31))
    broken = check_handwritten("missing_output_derivative", np.random.default_rng(seed))
    fixed = check_handwritten(None, np.random.default_rng(seed))
    assert not broken.ok and fixed.ok


def test_report_contents(rng):
    report = check_handwritten("sign_flip", rng)
    w2 = report["W2"]
    assert not w2.ok and w2.max_rel_error == pytest.approx(2.0, rel=1e-6)
    assert w2.worst_index is not None and len(w2.worst_index) == 2
    assert w2.worst_label.startswith("W2[")
    assert w2.analytic.shape == w2.numeric.shape == (100,)
    np.testing.assert_allclose(w2.analytic, -w2.numeric, rtol=1e-5, atol=1e-9)
    assert report.max_rel_error == w2.max_rel_error
    lines = str(report).splitlines()
    assert sum(line.lstrip().startswith(("W1 ", "b1 ", "W2 ", "b2 ")) for line in lines) == 4


def test_function_returning_cost_and_gradient_together(rng):
    A = rng.normal(size=(5, 5))
    A = A @ A.T

    def f(w):
        return 0.5 * w @ A @ w, A @ w

    report = dn.gradcheck(f, rng.normal(size=5))
    assert report.ok and [b.name for b in report.blocks] == ["w"]
    bad = dn.gradcheck(lambda w: (0.5 * w @ A @ w, 2 * A @ w), rng.normal(size=5))
    assert not bad.ok and "extra factor of 2" in str(bad)


def test_float32_input_is_upcast_with_a_warning(rng):
    w = rng.normal(size=4).astype(np.float32)
    seen = []

    def f(v):
        seen.append(v.dtype)
        return float(np.sum(v**3)), 3 * v**2

    with pytest.warns(UserWarning, match="float64"):
        report = dn.gradcheck(f, w)
    assert report.ok and set(seen) == {np.dtype(np.float64)}


def test_no_warning_for_float64(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dn.gradcheck(lambda v: (float(v @ v), 2 * v), rng.normal(size=3))


def test_kinks_are_reported_not_failed():
    # relu at exactly zero: sample 0 is all zeros and biases are zero, so z1 = 0 there
    net = dn.MLP([3, 4, 2], hidden="relu", dtype="float64", seed=0)
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    report = net.gradcheck(X, [0, 1, 1])
    assert report.ok, str(report)
    assert report["b1"].n_kinks > 0
    assert "kink" in str(report)


def test_a_wrong_gradient_at_a_kink_still_fails():
    # |x| has a kink at 0; an "analytic" value outside [−1, 1] is not a subgradient
    report = dn.gradcheck(lambda w: (float(np.abs(w).sum()), np.full_like(w, 3.0)), np.zeros(2))
    assert not report.ok


def test_sampling_gives_every_block_coordinates(rng):
    shapes = {"W1": (200, 100), "b1": (100,), "W2": (100, 3), "b2": (3,)}
    n = sum(int(np.prod(s)) for s in shapes.values())
    w = rng.normal(size=n)
    report = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w, shapes=shapes, max_coords=7)
    assert [b.n_checked for b in report.blocks] == [7, 7, 7, 3]
    assert report.ok
    again = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w, shapes=shapes, max_coords=7)
    np.testing.assert_array_equal(report["W1"].indices, again["W1"].indices)  # seeded


def test_large_vectors_are_sampled_by_default(rng):
    w = rng.normal(size=40_000)
    report = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w)
    assert 0 < report.blocks[0].n_checked < 40_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shapes": {"a": (2, 2)}}, "cover 4 parameters but w has 5"),
        ({"eps": 0.0}, "eps must be"),
        ({"rtol": -1.0}, "rtol must be"),
    ],
)
def test_bad_arguments(kwargs, message, rng):
    with pytest.raises(ValueError, match=message):
        dn.gradcheck(lambda v: (float(v @ v), 2 * v), rng.normal(size=5), **kwargs)


def test_wrong_gradient_size_and_non_scalar_cost(rng):
    with pytest.raises(ValueError, match="gradient has 4 values"):
        dn.gradcheck(lambda v: (float(v @ v), np.zeros(4)), rng.normal(size=5))
    with pytest.raises(ValueError, match="cost must be a scalar"):
        dn.gradcheck(lambda v: (v, 2 * v), rng.normal(size=5))
    with pytest.raises(ValueError, match="flat 1-D"):
        dn.gradcheck(lambda v: (0.0, v), np.zeros((2, 2)))


def test_deltanet_network_with_a_bug_injected_is_caught(rng, monkeypatch):
    # break the real network's top delta the way the 7%-error code did
    net = dn.MLP([6, 5, 4], hidden="sigmoid", loss="squared_error", dtype="float64", seed=1)
    X = rng.normal(size=(8, 6))
    y = rng.integers(0, 4, 8)
    assert net.gradcheck(X, y).ok
    monkeypatch.setattr(
        type(net._loss), "delta", lambda self, z, h, y, out: np.subtract(h, y, out=out)
    )
    report = net.gradcheck(X, y)
    assert set(report.failed_blocks) == {"W1", "b1", "W2", "b2"}
    assert "starts at the output" in str(report)


def test_a_trained_network_with_tiny_gradients_passes():
    # A trained network's cross-entropy is a small difference of large logits, whose
    # rounding (~1e-14) swamps its tiny gradients at eps = 1e-6: the checker must measure
    # that rounding instead of failing correct code (it did, before _rounding).
    mnist = dn.datasets.load_mnist()
    net = dn.MLP([784, 50, 10], seed=0)
    net.fit(
        mnist.X_train[:2000],
        mnist.y_train[:2000],
        epochs=30,
        seed=0,
        optimizer=dn.optimizers.RMSprop(lr=0.003),
    )
    X, y = mnist.X_train[:20], mnist.y_train[:20]
    report = net.gradcheck(X, y, max_coords=100)
    assert report.cost < 0.05
    assert report.ok, str(report)

    # and a real bug at that scale is still caught
    net64 = net.copy("float64")

    def cost(w):
        net64.params = w
        return net64.cost(X, y)

    def doubled(w):
        net64.params = w
        return 2 * net64.loss_and_grad(X, y)[1]

    shapes = {b.name: b.shape for b in net64.layout}
    bad = dn.gradcheck(cost, net64.params.copy(), doubled, shapes=shapes, max_coords=20)
    assert not bad.ok and "extra factor of 2" in str(bad)


def test_a_float32_cost_cannot_hide_a_wrong_gradient(rng):
    # rounding in a float32 cost is ~1e-7·|f|: at eps = 1e-6 every gradient entry is
    # "within the noise", which must not count as passing
    A = rng.normal(size=(6, 6)).astype(np.float32)

    def cost(w):
        w32 = w.astype(np.float32)
        return float(np.float32(0.5) * w32 @ A @ w32)

    def wrong(w):
        return 2.2 * (0.5 * (A + A.T) @ w)

    report = dn.gradcheck(cost, rng.normal(size=6), wrong)
    assert not report.ok
    assert report["w"].n_failed == 6, str(report)  # every coordinate, not just the largest
    assert "2.2 × numeric" in str(report)
