"""Element-wise activation functions and their derivatives.

Every activation is one :class:`Activation` entry in :data:`ACTIVATIONS`.  The
derivative is written as a function of the *activation* ``a = f(z)``, not of
``z``: the backward pass then needs only the activations stored by the forward
pass, and it cannot make the classic mistake of evaluating ``f'`` on the wrong
quantity (``sigmoid'(a)`` where ``sigmoid'(z) = a (1 - a)`` was meant).

Adding an activation is one entry::

    ACTIVATIONS["mish"] = Activation("mish", forward, derivative_from_output)

provided its derivative can be written from its output (it is monotone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from deltanet.errors import ConfigError

Array = np.ndarray

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An element-wise non-linearity ``a = f(z)``.

    Attributes:
        name: registry key.
        forward: ``forward(z, out) -> out`` writes ``f(z)`` into ``out`` (may be ``z``).
        derivative: ``derivative(a, out) -> out`` writes ``f'(z)`` into ``out``,
            computed from ``a = f(z)`` alone.
    """

    name: str
    forward: Callable[[Array, Array], Array]
    derivative: Callable[[Array, Array], Array]

    def __call__(self, z: Array) -> Array:
        return self.forward(z, np.empty_like(z))


def _sigmoid(z: Array, out: Array) -> Array:
    if z.dtype == np.float64:
        # expit keeps full *relative* precision in the tails (σ(−30) ≈ 9.4e−14 to every
        # digit), so a(1 − a) is the exact derivative there too: gradient checks need it.
        return expit(z, out=out)
    # float32 training: σ(z) = ½ tanh(z/2) + ½ is ~5× faster (NumPy's SIMD tanh), never
    # overflows or warns, and saturates to exactly 0 and 1; its tails are only accurate
    # to ~1e−8 absolute, which float32 cannot use anyway.
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _sigmoid_derivative(a: Array, out: Array) -> Array:
    # σ'(z) = σ(z) (1 − σ(z)) = a (1 − a)
    np.subtract(1, a, out=out)
    return np.multiply(out, a, out=out)


def _tanh(z: Array, out: Array) -> Array:
    return np.tanh(z, out=out)


def _tanh_derivative(a: Array, out: Array) -> Array:
    # tanh'(z) = 1 − tanh(z)² = 1 − a²
    np.multiply(a, a, out=out)
    return np.subtract(1, out, out=out)


def _relu(z: Array, out: Array) -> Array:
    return np.maximum(z, 0, out=out)


def _relu_derivative(a: Array, out: Array) -> Array:
    # relu'(z) = 1 for z > 0, else 0 (the subgradient 0 is taken at the kink z = 0).
    return np.greater(a, 0, out=out, casting="unsafe")


def _leaky_relu(z: Array, out: Array) -> Array:
    # max(z, αz) for 0 < α < 1
    return np.maximum(z, LEAKY_SLOPE * z, out=out)


def _leaky_relu_derivative(a: Array, out: Array) -> Array:
    # sign(a) = sign(z), so the slope is read off the output.
    np.greater(a, 0, out=out, casting="unsafe")
    out *= 1 - LEAKY_SLOPE
    out += LEAKY_SLOPE
    return out


def _softplus(z: Array, out: Array) -> Array:
    # log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), without overflow.
    tmp = np.abs(z)
    np.negative(tmp, out=tmp)
    np.exp(tmp, out=tmp)
    np.log1p(tmp, out=tmp)
    np.maximum(z, 0, out=out)
    return np.add(out, tmp, out=out)


def _softplus_derivative(a: Array, out: Array) -> Array:
    # softplus'(z) = σ(z) = 1 − e^{−a}, since a = log(1 + e^z); −expm1(−a) keeps its
    # relative precision when a is tiny (a saturated-off unit)
    np.negative(a, out=out)
    np.expm1(out, out=out)
    return np.negative(out, out=out)


def _identity(z: Array, out: Array) -> Array:
    if out is not z:
        np.copyto(out, z)
    return out


def _identity_derivative(a: Array, out: Array) -> Array:
    out.fill(1)
    return out


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", _sigmoid, _sigmoid_derivative),
        Activation("tanh", _tanh, _tanh_derivative),
        Activation("relu", _relu, _relu_derivative),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_derivative),
        Activation("softplus", _softplus, _softplus_derivative),
        Activation("linear", _identity, _identity_derivative),
    )
}

# Activations whose derivative is discontinuous somewhere: a gradient check may meet kinks.
PIECEWISE_LINEAR = frozenset({"relu", "leaky_relu"})


def get_activation(name: str) -> Activation:
    """Return the registered activation called ``name`` (a clear ``ConfigError`` otherwise)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIVATIONS))
        raise ConfigError(f"unknown activation {name!r}; choose one of: {known}") from None
