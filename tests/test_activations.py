import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deltanet.activations import ACTIVATIONS, get_activation

SMOOTH_AWAY_FROM_ZERO = sorted(ACTIVATIONS)


@pytest.mark.parametrize("name", SMOOTH_AWAY_FROM_ZERO)
@settings(max_examples=30, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 50), elements=st.floats(-8, 8)))
def test_derivative_from_output_matches_finite_difference(name, z):
    act = get_activation(name)
    z = z[np.abs(z) > 1e-3]  # keep away from the kink of relu-like units
    h = 1e-6
    numeric = (act(z + h) - act(z - h)) / (2 * h)
    analytic = act.derivative(act(z), np.empty_like(z))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_large_inputs_do_not_overflow_or_warn(name, dtype):
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = get_activation(name)(z)
        d = get_activation(name).derivative(a, np.empty_like(a))
    assert a.dtype == dtype and d.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(d).all()


def test_sigmoid_saturates_exactly():
    s = get_activation("sigmoid")(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


def test_forward_in_place_keeps_dtype():
    z = np.linspace(-3, 3, 7, dtype=np.float32)
    for act in ACTIVATIONS.values():
        out = act.forward(z.copy(), np.empty_like(z))
        assert out.dtype == np.float32


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*sigmoid"):
        get_activation("swish")
