"""A one-hidden-layer network written the way people write it by hand, with switchable bugs.

Flat weight vector ``W`` split by ``_extract_weights``, sigmoid hidden units, sigmoid
outputs, squared error and an L2 penalty: the shape of the code that got 7% test error
on MNIST.  The correct version (no bugs) uses the cost

    J = (1/N) Σ_n ½‖h_n − y_n‖² + (λ/2)(‖W1‖² + ‖W2‖²)

and its exact gradient, written as people write it::

    dEdy   = h − Y                      # ∂(½‖h − y‖²)/∂h
    delta2 = dEdy ⊙ h(1 − h)            # the top delta: the output's derivative included
    back   = delta2 @ W2ᵀ
    delta1 = back ⊙ a1(1 − a1)          # the hidden delta
    dW2 = a1ᵀ delta2 / N + λ W2,   db2 = Σ_n delta2 / N
    dW1 = Xᵀ delta1 / N + λ W1,    db1 = Σ_n delta1 / N

``SEED_BUGS`` are the four mistakes of the original 7%-error code; each is a switch and
they combine as they would in that code.  ``OTHER_BUGS`` are further mistakes the
checker must name.  ``bugs=`` takes any set of both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

SEED_BUGS = (
    "output_bias_from_dEdy",  # db2 = Σ dEdy / N: the bias built from dE/dy, not delta2
    "hidden_delta_from_dEdy",  # back = dEdy @ W2ᵀ: the hidden delta from dE/dy, not delta2
    "hidden_bias_missing_fprime",  # db1 = Σ back / N: f′ left out of the hidden bias only
    "penalty_doubled_biases_in_cost",  # 2λW in the gradient; the cost's ½λΣ also covers b
)

OTHER_BUGS = (
    "sigmoid_prime_of_activation",  # σ'(a) = σ(a)(1 − σ(a)) where a = σ(z) was already applied
    "missing_output_derivative",  # delta2 = h − y, without the sigmoid output's h(1 − h)
    "l2_gradient_doubled",  # 2·λ·W in the gradient, (λ/2)·ΣW² in the cost
    "biases_penalised_in_cost_only",  # cost adds (λ/2)·Σb², the gradient does not
    "transposed_product",  # back = delta2 @ W2 instead of delta2 @ W2ᵀ (H == K)
    "bias_not_averaged",  # db = Σ_n δ_n, where dW is divided by N
    "sign_flip",  # dW2 = −a1ᵀ delta2 / N
    "gradient_negated",  # the whole gradient returned with the wrong sign
    "hidden_bias_zero",  # db1 left at zero (a term never filled in)
    "index_slip",  # db1[-1] written from unit 0: one coordinate wrong
    "cost_in_float16",  # the cost rounded to float16: too coarse to check anything
)

BUGS = SEED_BUGS + OTHER_BUGS


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class HandWritten:
    """``cost(W, X, Y)`` and ``grad(W, X, Y)`` over a flat ``W``, with ``bugs`` switched on.

    ``dtype`` is what the cost and gradient compute in: "float32" casts ``W`` and the data
    down first, as a user's float32 code does, and returns Python floats / float64 arrays.
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        lam: float,
        bugs: Iterable[str] = (),
        dtype: str = "float64",
    ):
        self.bugs = frozenset(bugs)
        unknown = self.bugs - set(BUGS)
        assert not unknown, unknown
        self.sizes = (n_in, n_hidden, n_out)
        self.lam = lam
        self.dtype = np.dtype(dtype)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        d, h, k = self.sizes
        return {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}

    @property
    def n_params(self) -> int:
        d, h, k = self.sizes
        return d * h + h + h * k + k

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Glorot-uniform weights and small non-zero biases, as after some training."""
        d, h, k = self.sizes
        parts = []
        for fan_in, fan_out in ((d, h), (h, k)):
            r = np.sqrt(6.0 / (fan_in + fan_out))
            parts += [rng.uniform(-r, r, fan_in * fan_out), rng.normal(0.0, 0.5, fan_out)]
        return np.concatenate(parts)

    def _extract_weights(self, W):
        d, h, k = self.sizes
        W = np.asarray(W, dtype=self.dtype)
        i = 0
        W1 = W[i : i + d * h].reshape(d, h)
        i += d * h
        b1 = W[i : i + h]
        i += h
        W2 = W[i : i + h * k].reshape(h, k)
        i += h * k
        b2 = W[i : i + k]
        return W1, b1, W2, b2

    def _has(self, bug: str) -> bool:
        return bug in self.bugs

    def cost(self, W, X, Y):
        W1, b1, W2, b2 = self._extract_weights(W)
        X, Y = X.astype(self.dtype), Y.astype(self.dtype)
        a1 = sigmoid(X @ W1 + b1)
        h = sigmoid(a1 @ W2 + b2)
        half = self.dtype.type(0.5)
        J = half * np.sum((h - Y) ** 2) / X.shape[0]
        J += half * self.dtype.type(self.lam) * (np.sum(W1**2) + np.sum(W2**2))
        if self._has("biases_penalised_in_cost_only") or self._has(
            "penalty_doubled_biases_in_cost"
        ):
            J += half * self.dtype.type(self.lam) * (np.sum(b1**2) + np.sum(b2**2))
        if self._has("cost_in_float16"):
            return float(np.float16(J))
        return float(J)

    def grad(self, W, X, Y):
        W1, b1, W2, b2 = self._extract_weights(W)
        X, Y = X.astype(self.dtype), Y.astype(self.dtype)
        N = X.shape[0]
        a1 = sigmoid(X @ W1 + b1)
        h = sigmoid(a1 @ W2 + b2)
        dEdy = h - Y
        delta2 = dEdy if self._has("missing_output_derivative") else dEdy * h * (1 - h)
        source = dEdy if self._has("hidden_delta_from_dEdy") else delta2
        back = source @ W2 if self._has("transposed_product") else source @ W2.T
        if self._has("sigmoid_prime_of_activation"):
            delta1 = back * sigmoid(a1) * (1 - sigmoid(a1))
        else:
            delta1 = back * a1 * (1 - a1)
        doubled = self._has("l2_gradient_doubled") or self._has("penalty_doubled_biases_in_cost")
        reg = (2 if doubled else 1) * self.lam
        dW2 = a1.T @ delta2 / N + reg * W2
        if self._has("sign_flip"):
            dW2 = -dW2
        dW1 = X.T @ delta1 / N + reg * W1
        scale = 1.0 if self._has("bias_not_averaged") else 1.0 / N
        db2 = (dEdy if self._has("output_bias_from_dEdy") else delta2).sum(axis=0) * scale
        db1 = (back if self._has("hidden_bias_missing_fprime") else delta1).sum(axis=0) * scale
        if self._has("hidden_bias_zero"):
            db1 = np.zeros_like(db1)
        if self._has("index_slip"):
            db1 = db1.copy()
            db1[-1] = db1[0]
        g = np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2]).astype(np.float64)
        return -g if self._has("gradient_negated") else g


def check(hw: HandWritten, X, Y, w, **kwargs):
    """``dn.gradcheck`` of ``hw`` at ``w`` on ``(X, Y)``."""
    import deltanet as dn

    return dn.gradcheck(
        lambda v: hw.cost(v, X, Y), w, lambda v: hw.grad(v, X, Y), shapes=hw.shapes, **kwargs
    )


ACTIVATIONS = {
    # f(z), and f'(z) written from z and a = f(z)
    "sigmoid": (sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
}


class Deep:
    """An L-layer hand-written network: sigmoid outputs, squared error, (λ/2)ΣW².

    ``sizes`` are the widths; ``hidden`` one of ACTIVATIONS; ``transposed`` stores each
    weight block ``(fan_out, fan_in)``.  Bugs name a layer: ``"fprime_of_a@l"`` (f′
    taken of layer l's activation instead of its input: δ_l wrong), ``"bias_from_back@l"``
    (layer l's bias gradient built without f′), ``"weights_from_z@l"`` (layer l's weight
    gradient from the layer below's z instead of its activation), and
    ``"missing_output_derivative"``.
    """

    def __init__(
        self, sizes, hidden="sigmoid", lam=0.01, bugs=(), dtype="float64", transposed=False
    ):
        self.sizes, self.hidden, self.lam = tuple(sizes), hidden, lam
        self.bugs, self.dtype, self.transposed = frozenset(bugs), np.dtype(dtype), transposed

    @property
    def shapes(self):
        shapes = {}
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(self.sizes), 1):
            shapes[f"W{layer}"] = (fan_out, fan_in) if self.transposed else (fan_in, fan_out)
            shapes[f"b{layer}"] = (fan_out,)
        return shapes

    def init(self, rng):
        parts = []
        for fan_in, fan_out in itertools.pairwise(self.sizes):
            r = np.sqrt(6.0 / (fan_in + fan_out))
            parts += [rng.uniform(-r, r, fan_in * fan_out), rng.normal(0.0, 0.5, fan_out)]
        return np.concatenate(parts)

    def _split(self, w):
        w = np.asarray(w, dtype=self.dtype)
        Ws, bs, at = [], [], 0
        for name, shape in self.shapes.items():
            part = w[at : at + int(np.prod(shape))].reshape(shape)
            at += part.size
            if name[0] == "W":
                Ws.append(part.T if self.transposed else part)
            else:
                bs.append(part)
        return Ws, bs

    def _forward(self, w, X):
        Ws, bs = self._split(w)
        f = ACTIVATIONS[self.hidden][0]
        acts, zs = [X.astype(self.dtype)], []
        for layer, (W, b) in enumerate(zip(Ws, bs, strict=True), 1):
            zs.append(acts[-1] @ W + b)
            acts.append(sigmoid(zs[-1]) if layer == len(Ws) else f(zs[-1]))
        return Ws, acts, zs

    def cost(self, w, X, Y):
        Ws, acts, _ = self._forward(w, X)
        half = self.dtype.type(0.5)
        J = half * np.sum((acts[-1] - Y.astype(self.dtype)) ** 2) / X.shape[0]
        return float(J + half * self.dtype.type(self.lam) * sum(np.sum(W * W) for W in Ws))

    def grad(self, w, X, Y):
        Ws, acts, zs = self._forward(w, X)
        N, L = X.shape[0], len(Ws)
        f, fprime = ACTIVATIONS[self.hidden]
        h = acts[-1]
        delta = h - Y if "missing_output_derivative" in self.bugs else (h - Y) * h * (1 - h)
        grads, back = [], None
        for layer in range(L, 0, -1):
            below = zs[layer - 2] if f"weights_from_z@{layer}" in self.bugs else acts[layer - 1]
            dW = below.T @ delta / N + self.lam * Ws[layer - 1]
            source = back if f"bias_from_back@{layer}" in self.bugs else delta
            grads.append(((dW.T if self.transposed else dW).ravel(), source.sum(axis=0) / N))
            if layer == 1:
                break
            back = delta @ Ws[layer - 1].T
            z, a = zs[layer - 2], acts[layer - 1]
            wrong = f"fprime_of_a@{layer - 1}" in self.bugs
            delta = back * (fprime(a, f(a)) if wrong else fprime(z, a))
        return np.concatenate([part for pair in reversed(grads) for part in pair]).astype(
            np.float64
        )
