"""A one-hidden-layer network written the way people write it by hand, with optional bugs.

Flat weight vector ``W`` split by ``_extract_weights``, sigmoid hidden units, sigmoid
outputs, squared error and an L2 penalty: the shape of the code that got 7% test error
on MNIST.  Each bug in ``BUGS`` is one of the mistakes deltanet's checker must find.
The correct version (``bug=None``) uses the cost

    J = (1/N) Σ_n ½‖h_n − y_n‖² + (λ/2)(‖W1‖² + ‖W2‖²)
"""

from __future__ import annotations

import numpy as np

BUGS = (
    "sigmoid_prime_of_activation",  # σ'(a) = σ(a)(1 − σ(a)) where a = σ(z) was already applied
    "missing_output_derivative",  # δ2 = h − y, without the sigmoid output's h(1 − h)
    "l2_gradient_doubled",  # 2·λ·W in the gradient, (λ/2)·ΣW² in the cost
    "biases_penalised_in_cost_only",  # cost adds (λ/2)·Σb², the gradient does not
    "transposed_product",  # δ1 = δ2 @ W2 instead of δ2 @ W2.T (shapes agree when H == K)
    "bias_not_averaged",  # db = Σ_n δ_n, where dW is divided by N
    "sign_flip",  # dW2 = −a1ᵀ δ2 / N
)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class HandWritten:
    def __init__(self, n_in: int, n_hidden: int, n_out: int, lam: float, bug: str | None = None):
        assert bug is None or bug in BUGS, bug
        self.sizes = (n_in, n_hidden, n_out)
        self.lam = lam
        self.bug = bug

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        d, h, k = self.sizes
        return {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}

    @property
    def n_params(self) -> int:
        d, h, k = self.sizes
        return d * h + h + h * k + k

    def _extract_weights(self, W):
        d, h, k = self.sizes
        i = 0
        W1 = W[i : i + d * h].reshape(d, h)
        i += d * h
        b1 = W[i : i + h]
        i += h
        W2 = W[i : i + h * k].reshape(h, k)
        i += h * k
        b2 = W[i : i + k]
        return W1, b1, W2, b2

    def cost(self, W, X, Y):
        W1, b1, W2, b2 = self._extract_weights(W)
        a1 = sigmoid(X @ W1 + b1)
        h = sigmoid(a1 @ W2 + b2)
        J = 0.5 * np.sum((h - Y) ** 2) / X.shape[0]
        J += 0.5 * self.lam * (np.sum(W1**2) + np.sum(W2**2))
        if self.bug == "biases_penalised_in_cost_only":
            J += 0.5 * self.lam * (np.sum(b1**2) + np.sum(b2**2))
        return J

    def grad(self, W, X, Y):
        W1, b1, W2, b2 = self._extract_weights(W)
        N = X.shape[0]
        z1 = X @ W1 + b1
        a1 = sigmoid(z1)
        h = sigmoid(a1 @ W2 + b2)
        if self.bug == "missing_output_derivative":
            delta2 = h - Y
        else:
            delta2 = (h - Y) * h * (1 - h)
        back = delta2 @ W2 if self.bug == "transposed_product" else delta2 @ W2.T
        if self.bug == "sigmoid_prime_of_activation":
            delta1 = back * sigmoid(a1) * (1 - sigmoid(a1))
        else:
            delta1 = back * a1 * (1 - a1)
        reg = 2 * self.lam if self.bug == "l2_gradient_doubled" else self.lam
        dW2 = a1.T @ delta2 / N + reg * W2
        if self.bug == "sign_flip":
            dW2 = -dW2
        dW1 = X.T @ delta1 / N + reg * W1
        scale = 1.0 if self.bug == "bias_not_averaged" else 1.0 / N
        db2 = delta2.sum(axis=0) * scale
        db1 = delta1.sum(axis=0) * scale
        return np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])
