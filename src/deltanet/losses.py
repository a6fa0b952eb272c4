"""Losses, each paired with its output non-linearity, and each knowing its own delta.

A loss here maps the top layer's pre-activations ``Z: (N, K)`` and targets
``Y: (N, K)`` to a per-sample loss, and gives the top-layer delta
``∂loss_n/∂Z``.  Pairing the loss with its output non-linearity is what lets
the delta be computed stably and, above all, *completely*: the output's
derivative is part of the delta and cannot be forgotten.

==========================  ===========  ======================================  ====================
loss                        output       per-sample loss                         delta ∂loss/∂z
==========================  ===========  ======================================  ====================
``cross_entropy``           softmax      −Σ_k y_k log softmax(z)_k               softmax(z)·Σ_k y_k − y
``binary_cross_entropy``    sigmoid      −Σ_k y_k log h_k + (1−y_k) log(1−h_k)   h − y
``squared_error``           f (sigmoid)  ½ Σ_k (h_k − y_k)²                      (h − y) ⊙ f'(z)
==========================  ===========  ======================================  ====================

For cross-entropy, ``softmax(z)·Σ_k y_k − y`` reduces to the familiar
``softmax(z) − y`` for targets that sum to one; the general form stays right
for any target rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np

from deltanet.activations import ACTIVATIONS, Activation, get_activation
from deltanet.errors import ConfigError
from deltanet.ops import NumpyOps, cross_entropy_delta, cross_entropy_total, softmax

Array = np.ndarray


@dataclass(frozen=True)
class Loss:
    """A loss together with its output non-linearity.

    Subclasses implement :meth:`output`, :meth:`total` and :meth:`delta`.
    """

    name: str
    output_name: str

    def output(self, z: Array, out: Array) -> Array:
        """Write the network output ``h = g(z)`` into ``out``; ``z, out: (N, K)``."""
        raise NotImplementedError

    def total(self, z: Array, h: Array, y: Array) -> float:
        """Sum over the batch of the per-sample loss: ``Σ_n loss_n``."""
        raise NotImplementedError

    def delta(self, z: Array, h: Array, y: Array, out: Array) -> Array:
        """Write ``∂loss_n/∂z_n`` for every sample into ``out: (N, K)`` (not divided by N)."""
        raise NotImplementedError

    def output_total_delta(
        self, z: Array, y: Array, h: Array, delta: Array, scale: float, ops: NumpyOps
    ) -> float:
        """A training step's top layer at once: ``h = g(z)``, ``delta = scale · ∂loss/∂z``
        (both written in place), and ``Σ_n loss_n`` returned; ``ops`` may fuse the three."""
        self.output(z, h)
        total = self.total(z, h, y)
        self.delta(z, h, y, delta)
        delta *= scale
        return total


class CrossEntropy(Loss):
    def output_total_delta(
        self, z: Array, y: Array, h: Array, delta: Array, scale: float, ops: NumpyOps
    ) -> float:
        # one pass over the (N, K) outputs (compiled, with NumbaOps) instead of a dozen
        # small NumPy calls
        return ops.softmax_cross_entropy(z, y, h, delta, scale)

    def output(self, z: Array, out: Array) -> Array:
        return softmax(z, out)

    def total(self, z: Array, h: Array, y: Array) -> float:
        return cross_entropy_total(z, h, y)

    def delta(self, z: Array, h: Array, y: Array, out: Array) -> Array:
        return cross_entropy_delta(h, y, out)


class BinaryCrossEntropy(Loss):
    def output(self, z: Array, out: Array) -> Array:
        return ACTIVATIONS["sigmoid"].forward(z, out)

    def total(self, z: Array, h: Array, y: Array) -> float:
        # −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − y z + log(1 + e^{−|z|})
        return float(np.maximum(z, 0).sum() - np.vdot(y, z) + np.log1p(np.exp(-np.abs(z))).sum())

    def delta(self, z: Array, h: Array, y: Array, out: Array) -> Array:
        return np.subtract(h, y, out=out)


@dataclass(frozen=True)
class SquaredError(Loss):
    activation: Activation = ACTIVATIONS["sigmoid"]

    def output(self, z: Array, out: Array) -> Array:
        return self.activation.forward(z, out)

    def total(self, z: Array, h: Array, y: Array) -> float:
        r = h - y
        return 0.5 * float(np.vdot(r, r))

    def delta(self, z: Array, h: Array, y: Array, out: Array) -> Array:
        # (h − y) ⊙ g'(z): the output non-linearity's derivative belongs in the delta.
        self.activation.derivative(h, out)
        out *= h - y
        return out


DEFAULT_OUTPUT = {
    "cross_entropy": "softmax",
    "binary_cross_entropy": "sigmoid",
    "squared_error": "sigmoid",
}


def get_loss(name: str, output: str | None = None) -> Loss:
    """Build the loss ``name`` with output non-linearity ``output`` (``None``: its default).

    Raises :class:`~deltanet.errors.ConfigError` for an unknown loss or a combination that has no stable,
    matched delta (softmax goes with cross-entropy, sigmoid with binary cross-entropy).
    """
    if name not in DEFAULT_OUTPUT:
        known = ", ".join(DEFAULT_OUTPUT)
        raise ConfigError(f"unknown loss {name!r}; choose one of: {known}")
    output = DEFAULT_OUTPUT[name] if output is None else output
    if name == "cross_entropy":
        if output != "softmax":
            raise ConfigError(f"loss 'cross_entropy' needs output 'softmax', not {output!r}")
        return CrossEntropy(name, output)
    if name == "binary_cross_entropy":
        if output != "sigmoid":
            raise ConfigError(f"loss 'binary_cross_entropy' needs output 'sigmoid', not {output!r}")
        return BinaryCrossEntropy(name, output)
    if output == "softmax":
        raise ConfigError(
            f"softmax outputs go with loss 'cross_entropy'; {name!r} takes sigmoid, tanh, "
            "linear or another element-wise output"
        )
    return SquaredError(name, output, get_activation(output))


LOSSES = tuple(DEFAULT_OUTPUT)


class _Outputs(Collection[str]):
    """What ``output=`` may name: softmax or any registered activation (a live view, so
    an activation added to the registry counts); :func:`get_loss` decides which loss
    takes which."""

    def __iter__(self) -> Iterator[str]:
        return iter(("softmax", *ACTIVATIONS))

    def __len__(self) -> int:
        return 1 + len(ACTIVATIONS)

    def __contains__(self, name: object) -> bool:
        return name == "softmax" or name in ACTIVATIONS


OUTPUTS = _Outputs()

__all__ = ["LOSSES", "OUTPUTS", "Loss", "get_loss", "softmax"]
