import warnings

import numpy as np
import pytest

from deltanet.errors import ConfigError
from deltanet.losses import LOSSES, OUTPUTS, get_loss, softmax

CONFIGS = [
    ("cross_entropy", None),
    ("binary_cross_entropy", None),
    ("squared_error", "sigmoid"),
    ("squared_error", "linear"),
    ("squared_error", "tanh"),
]


def targets(rng, n, k, kind):
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.random((n, k))


@pytest.mark.parametrize("kind", ["onehot", "soft"])
@pytest.mark.parametrize(("name", "output"), CONFIGS)
def test_delta_is_the_derivative_of_the_loss(name, output, kind, rng):
    loss = get_loss(name, output)
    z = rng.normal(size=(5, 4))
    y = targets(rng, 5, 4, kind)

    def total(z):
        return loss.total(z, loss.output(z, np.empty_like(z)), y)

    h = loss.output(z, np.empty_like(z))
    delta = loss.delta(z, h, y, np.empty_like(z))
    numeric = np.empty_like(z)
    eps = 1e-6
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        numeric[idx] = (total(zp) - total(zm)) / (2 * eps)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-9)


def test_cross_entropy_value(rng):
    z = rng.normal(size=(3, 5))
    y = np.eye(5)[[0, 2, 4]]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -np.log(p[[0, 1, 2], [0, 2, 4]]).sum()
    loss = get_loss("cross_entropy")
    assert loss.total(z, softmax(z), y) == pytest.approx(expected, rel=1e-12)


def test_binary_cross_entropy_value(rng):
    z = rng.normal(size=(3, 4))
    y = rng.random((3, 4))
    h = 1 / (1 + np.exp(-z))
    expected = -(y * np.log(h) + (1 - y) * np.log(1 - h)).sum()
    loss = get_loss("binary_cross_entropy")
    assert loss.total(z, h, y) == pytest.approx(expected, rel=1e-12)


def test_squared_error_value(rng):
    loss = get_loss("squared_error", "linear")
    z = rng.normal(size=(3, 4))
    y = rng.random((3, 4))
    assert loss.total(z, z, y) == pytest.approx(0.5 * ((z - y) ** 2).sum(), rel=1e-12)


@pytest.mark.parametrize(("name", "output"), CONFIGS)
def test_huge_logits_are_stable(name, output):
    loss = get_loss(name, output)
    z = np.array([[1000.0, -1000.0, 0.0], [-5e3, 5e3, 1.0]])
    y = np.eye(3)[[1, 0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = loss.output(z, np.empty_like(z))
        value = loss.total(z, h, y)
        delta = loss.delta(z, h, y, np.empty_like(z))
    assert np.isfinite(value) and np.isfinite(delta).all() and np.isfinite(h).all()
    if name != "squared_error":
        assert value > 1000  # the log-loss of a confident mistake is not clipped to a constant


@pytest.mark.parametrize(("name", "output"), CONFIGS)
def test_a_training_step_top_is_output_total_and_scaled_delta(name, output, ops, rng):
    loss = get_loss(name, output)
    z = rng.normal(size=(6, 4))
    y = targets(rng, 6, 4, "soft")
    h, delta = np.empty_like(z), np.empty_like(z)
    total = loss.output_total_delta(z, y, h, delta, 0.5, ops)
    expected_h = loss.output(z, np.empty_like(z))
    assert total == pytest.approx(loss.total(z, expected_h, y), rel=1e-12)
    np.testing.assert_allclose(h, expected_h, rtol=1e-12)
    np.testing.assert_allclose(delta, 0.5 * loss.delta(z, h, y, np.empty_like(z)), rtol=1e-12)


def test_default_outputs_and_bad_combinations():
    assert get_loss("cross_entropy").output_name == "softmax"
    assert get_loss("binary_cross_entropy").output_name == "sigmoid"
    assert get_loss("squared_error").output_name == "sigmoid"
    assert set(LOSSES) == {"cross_entropy", "binary_cross_entropy", "squared_error"}
    with pytest.raises(ConfigError, match="needs output 'softmax'"):
        get_loss("cross_entropy", "sigmoid")
    with pytest.raises(ConfigError, match="unknown loss"):
        get_loss("hinge")
    with pytest.raises(ConfigError, match="unknown activation"):
        get_loss("squared_error", "nope")


def test_outputs_follow_the_activation_registry(monkeypatch):
    from deltanet import activations

    assert "softmax" in OUTPUTS and "tanh" in OUTPUTS and "nope" not in OUTPUTS
    monkeypatch.setitem(activations.ACTIVATIONS, "mish", activations.ACTIVATIONS["tanh"])
    assert "mish" in OUTPUTS and "mish" in list(OUTPUTS) and len(OUTPUTS) == len(list(OUTPUTS))
