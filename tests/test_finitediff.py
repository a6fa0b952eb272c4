import numpy as np
import pytest

from deltanet import finitediff
from deltanet.layout import Layout


def quadratic(dtype):
    A = np.random.default_rng(0).normal(size=(30, 30))
    A = A @ A.T / 30

    def cost(w):
        v = w.astype(dtype)
        return float(dtype(0.5) * v @ A.astype(dtype) @ v + dtype(1.0))

    return cost


@pytest.mark.parametrize(
    ("dtype", "name", "low"),
    [(np.float64, "float64", False), (np.float32, "float32", True), (np.float16, "float16", True)],
)
def test_the_rounding_measured_tells_the_cost_precision(dtype, name, low, rng):
    cost = quadratic(dtype)
    w = rng.normal(size=30)
    layout = Layout({"a": (20,), "b": (10,)})
    r, fmt = finitediff.measure_rounding(cost, w.copy(), layout, cost(w), rng)
    p = finitediff.choose_precision(r, cost(w), fmt)
    assert p.low is low and p.name == name
    if low:
        # the step balances rounding (~ρ/h) against curvature (~h²): h ≈ ρ^(1/3)
        assert p.eps == pytest.approx(np.cbrt(p.relative), rel=1e-6)
        assert "compute the cost in float64" in p.describe()
    else:
        assert (p.eps, p.rtol) == (1e-6, 1e-6) and p.describe() == ""


def test_a_float32_cost_is_seen_even_where_one_coordinate_does_not_move_it():
    # along this coordinate the cost changes by far less than a float32 ulp per step:
    # all nine values along it are equal, and only the directions reveal the rounding
    def cost(w):
        v = w.astype(np.float32)
        return float(np.float32(1.0) + np.float32(1e-4) * v[0] + np.sum(v[1:] ** 2))

    w = np.full(5, 0.3)
    r, fmt = finitediff.measure_rounding(
        cost, w.copy(), Layout({"w": (5,)}), cost(w), np.random.default_rng(0), per_block=1
    )
    assert finitediff.choose_precision(r, cost(w), fmt).low


def test_a_small_float64_cost_is_no_float32_cost(rng):
    # a cost of 1e-9 made of terms of size 1 rounds at ~1e-7 of its value: checked
    # loosely, as it must be, but not called float32
    def cost(w):
        return float(np.sum(np.exp(w)) - np.sum(1 + w + w**2 / 2) + 1e-9)

    w = rng.normal(size=10) * 1e-3
    r, fmt = finitediff.measure_rounding(cost, w.copy(), Layout({"w": (10,)}), cost(w), rng)
    p = finitediff.choose_precision(r, cost(w), fmt)
    assert fmt is None and p.name != "float32"
    assert "float32" not in p.describe()


def test_explicit_step_and_tolerance_are_kept():
    p = finitediff.choose_precision(1e-8, 1.0, eps=1e-3, rtol=1e-2)
    assert p.low and (p.eps, p.rtol) == (1e-3, 1e-2)


def test_measuring_restores_the_vector(rng):
    w = rng.normal(size=10)
    work = w.copy()
    finitediff.measure_rounding(
        lambda v: float(v @ v), work, Layout({"w": (10,)}), float(w @ w), rng
    )
    finitediff.central(lambda v: float(v @ v), work, np.arange(10), 1e-6, float(w @ w), 0.0)
    np.testing.assert_array_equal(work, w)


def test_central_differences_are_exact_for_a_quadratic(rng):
    w = rng.normal(size=6)
    d = finitediff.central(lambda v: float(v @ v), w.copy(), np.arange(6), 1e-4, float(w @ w), 0.0)
    np.testing.assert_allclose(d.numeric, 2 * w, rtol=1e-9)
    assert np.all(d.noise > 0)


def _kinks(cost, w, analytic, eps=1e-6, rtol=1e-6):
    idx = np.arange(w.size)
    d = finitediff.central(cost, w.copy(), idx, eps, cost(w), 1e-16)
    return finitediff.kinks(
        cost, w.copy(), idx, analytic, cost(w), d, np.ones(w.size, bool), 1e-16, rtol
    )


def test_a_kink_at_w_is_recognised_and_a_bad_subgradient_is_not():
    # |x| at 0: slopes −1 and +1; 0.3 lies between them, 3 does not
    assert _kinks(lambda v: float(np.abs(v).sum()), np.zeros(2), np.array([0.3, 3.0])).tolist() == [
        True,
        False,
    ]


def test_a_kink_within_the_step_leaves_the_right_derivative_standing():
    # |x| at 1e-3 with a step of 4e-3: the central difference is spoiled (0.25), the left
    # side is smooth and gives −1, the true derivative; +1 or 0.25 are not
    cost = lambda v: float(np.abs(v - 1e-3).sum())  # noqa: E731
    w = np.zeros(3)
    assert _kinks(cost, w, np.array([-1.0, 1.0, 0.25]), eps=4e-3, rtol=1e-3).tolist() == [
        True,
        False,
        False,
    ]


def test_a_smooth_curve_is_no_kink():
    cost = lambda v: float(np.exp(3 * v).sum())  # noqa: E731
    assert not _kinks(cost, np.zeros(1), np.array([3.3]), eps=1e-2).any()


def test_a_second_look_at_a_larger_step_tames_rounding():
    # a cost with huge rounding at 1e-6: the second look's larger steps recover 2·w
    def cost(v):
        return float(np.float64(1e8) + v @ v - np.float64(1e8))

    w = np.array([0.5])
    d = finitediff.central(cost, w.copy(), np.arange(1), 1e-6, cost(w), 1e-8)
    finitediff.remeasure(cost, w.copy(), np.arange(1), d, 1e-6, np.ones(1, bool), low=False)
    assert d.numeric[0] == pytest.approx(1.0, abs=1e-4)
