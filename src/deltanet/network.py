"""A fully connected network over one flat parameter vector.

Forward pass, for layers ``l = 1..L``::

    a_0 = X                       X: (N, D_0)
    z_l = a_{l-1} @ W_l + b_l     W_l: (D_{l-1}, D_l), b_l: (D_l,)
    a_l = f(z_l)                  f = hidden activation for l < L
    h   = g(z_L)                  g = the loss's output non-linearity

Cost, with λ = ``l2``::

    J = (1/N) Σ_n loss(h_n, y_n)  +  (λ/2) Σ_l ‖W_l‖²

The biases are *not* penalised, and the gradient matches the cost exactly:
``∂J/∂W_l = a_{l-1}ᵀ δ_l + λ W_l`` and ``∂J/∂b_l = Σ_n δ_{l,n}``, where
``δ_L = (1/N) ∂loss/∂z_L`` (the loss knows its delta, output derivative
included) and ``δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1})`` with ``f'`` evaluated from
the stored activation ``a_{l-1}``.  Getting any of these three details wrong
(λ instead of λ/2 in the cost, the bias in the penalty, ``f'`` of the wrong
quantity) is what :func:`deltanet.gradcheck` exists to catch.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from deltanet.activations import ACTIVATIONS, PIECEWISE_LINEAR, get_activation
from deltanet.constraints import (
    NONNEGATIVE,
    PROBABILITY,
    DType,
    Integer,
    Layers,
    Maybe,
    Options,
    check_all,
)
from deltanet.errors import ConfigError, DataError
from deltanet.layout import Layout
from deltanet.limits import check_memory
from deltanet.losses import LOSSES, OUTPUTS, get_loss
from deltanet.ops import NumpyOps, get_ops

if TYPE_CHECKING:
    import onnx

    from deltanet.gradcheck import GradCheckReport
    from deltanet.history import History

DTYPES = ("float32", "float64")
EVAL_BATCH = 2000  # rows evaluated at a time: large products, bounded buffers
_WORKSPACES_KEPT = 4  # batch sizes whose buffers are kept (train, last batch, eval, ...)

# The architecture: what the constructor takes besides the seed, and the rules for it.
# MLP.to_config() returns these keys and MLP.from_config() reads them.
CONSTRAINTS = {
    "layers": Layers(),
    "hidden": Options(ACTIVATIONS, "activation"),
    "loss": Options(LOSSES, "loss"),
    "output": Options(OUTPUTS, "output", none=True),
    "l2": NONNEGATIVE,
    "dtype": DType(DTYPES),
    "dropout": PROBABILITY,
    "input_dropout": PROBABILITY,
}
SEED = Maybe(Integer(0))


def as_dtype(dtype: Any) -> np.dtype:
    """``np.dtype`` for "float32" / "float64"; anything else is a ``ConfigError``."""
    return np.dtype(CONSTRAINTS["dtype"].check("dtype", dtype))


def architecture(source: Any) -> dict[str, Any]:
    """What :meth:`MLP.to_config` returns for the network ``source`` describes (an MLP or
    a :class:`~deltanet.config.TrainConfig`), without building it: JSON-able values, the
    output non-linearity resolved."""
    return {
        "layers": list(source.layers),
        "hidden": source.hidden,
        "loss": source.loss,
        "output": get_loss(source.loss, source.output).output_name,
        "l2": float(source.l2),
        "dtype": np.dtype(source.dtype).name,
        "dropout": float(source.dropout),
        "input_dropout": float(source.input_dropout),
    }


def n_params(layers: Sequence[int]) -> int:
    """How many parameters a network of these widths has: ``Σ_l (D_{l-1} + 1) D_l``."""
    return sum((d_in + 1) * d_out for d_in, d_out in itertools.pairwise(layers))


class _Workspace:
    """Buffers for one batch size, reused across steps so a step allocates (almost) nothing."""

    def __init__(self, n: int, layers: Sequence[int], dtype: np.dtype):
        widths = layers[1:]
        # acts[l] holds z_{l+1} then, in place, a_{l+1} (hidden layers) or z_L (top layer)
        self.acts = [np.empty((n, d), dtype) for d in widths]
        self.out = np.empty((n, widths[-1]), dtype)  # h = g(z_L)
        self.deltas = [np.empty((n, d), dtype) for d in widths]
        self.deriv = [np.empty((n, d), dtype) for d in widths[:-1]]
        # inputs[l]: what layer l+1 multiplies: X or a_l, or their dropped-out copies
        self.inputs: list[np.ndarray] = []
        self.masks: list[np.ndarray | None] = [None] * len(widths)  # scaled keep-masks
        self.dropped: list[np.ndarray | None] = [None] * len(widths)
        self.n, self.dtype = n, dtype

    def dropout(
        self, layer: int, a: np.ndarray, p: float, rng: np.random.Generator, ops: NumpyOps
    ) -> np.ndarray:
        """Inverted dropout of ``a`` (the input of layer ``layer + 1``): each unit is kept
        with probability 1 − p and scaled by 1/(1 − p), so evaluation needs no rescaling."""
        if self.masks[layer] is None:
            self.masks[layer] = np.empty_like(a)
            self.dropped[layer] = np.empty_like(a)
        mask, out = self.masks[layer], self.dropped[layer]
        rng.random(out=mask, dtype=mask.dtype)
        return ops.dropout(a, mask, p, out)


class MLP:
    """A multilayer perceptron with a flat parameter vector and an exact backward pass.

    Args:
        layers: widths ``[D_0, D_1, ..., D_L]``, input first, classes last.
        hidden: hidden activation, a key of :data:`deltanet.activations.ACTIVATIONS`.
        loss: "cross_entropy", "binary_cross_entropy" or "squared_error".
        output: the output non-linearity; ``None`` picks the loss's own (softmax,
            sigmoid, sigmoid).  Squared error also takes "linear" or "tanh".
        l2: λ of the penalty ``(λ/2) Σ_l ‖W_l‖²`` (weights only, never biases).
        dtype: "float32" or "float64"; everything stays in this dtype.
        seed: seeds the one ``numpy.random.Generator`` used for initialization.
        dropout, input_dropout: probability of dropping each hidden unit / input during
            training (inverted dropout: off at evaluation, nothing to rescale).

    Attributes:
        params: the one contiguous 1-D array of every parameter, ``W1, b1, W2, b2, ...``.
        grad: same layout; filled by :meth:`loss_and_grad`.
        W, b: lists of views into ``params`` (``W[0]`` is ``W1``); ``dW``, ``db`` into ``grad``.
        layout: the :class:`~deltanet.layout.Layout` naming each block.
    """

    def __init__(
        self,
        layers: Sequence[int],
        hidden: str = "sigmoid",
        loss: str = "cross_entropy",
        output: str | None = None,
        l2: float = 0.0,
        dtype: str = "float32",
        seed: int | None = 0,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        *,
        ops: NumpyOps | None = None,
    ):
        arch = check_all(
            CONSTRAINTS,
            {
                "layers": layers,
                "hidden": hidden,
                "loss": loss,
                "output": output,
                "l2": l2,
                "dtype": dtype,
                "dropout": dropout,
                "input_dropout": input_dropout,
            },
        )
        seed = SEED.check("seed", seed)
        self._loss = get_loss(arch["loss"], arch["output"])
        self.layers: tuple[int, ...] = arch["layers"]
        self.dtype = np.dtype(arch["dtype"])
        # the parameters and their gradient, before either is allocated, and the float64
        # draw that initializes the largest weight matrix
        largest = max(d_in * d_out for d_in, d_out in itertools.pairwise(self.layers))
        check_memory(
            2 * n_params(self.layers) * self.dtype.itemsize + 8 * largest,
            f"a {'-'.join(map(str, self.layers))} network",
            ConfigError,
        )
        self.hidden = arch["hidden"]
        self._f = get_activation(self.hidden)
        self.loss = arch["loss"]
        self.output = self._loss.output_name
        self.l2 = arch["l2"]
        self.dropout = arch["dropout"]
        self.input_dropout = arch["input_dropout"]
        self.seed = seed
        self.ops = get_ops() if ops is None else ops
        self.layout = Layout.for_mlp(self.layers)
        self._params = np.zeros(self.layout.size, self.dtype)
        self.grad = np.zeros(self.layout.size, self.dtype)
        self.W, self.b = self._split(self._params)
        self.dW, self.db = self._split(self.grad)
        self._workspaces: OrderedDict[int, _Workspace] = OrderedDict()
        self._tape: _Workspace | None = None  # the batch forward() saw, for backward()
        self.init_params(np.random.default_rng(seed))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Any, *, ops: NumpyOps | None = None) -> MLP:
        """The network ``config`` describes: a dict such as :meth:`to_config` returns (a
        model file's architecture; ``seed`` may be a key too) or a
        :class:`~deltanet.config.TrainConfig`, whose ``seed`` initializes the weights."""
        if isinstance(config, Mapping):
            unknown = set(config) - set(CONSTRAINTS) - {"seed"}
            if unknown:
                raise ConfigError(f"not settings of a network: {', '.join(sorted(unknown))}")
            return cls(**config, ops=ops)
        return cls(**{k: getattr(config, k) for k in CONSTRAINTS}, seed=config.seed, ops=ops)

    def to_config(self) -> dict[str, Any]:
        """The architecture as JSON-able values: :meth:`from_config` rebuilds it."""
        return architecture(self)

    # ------------------------------------------------------------------ parameters
    def _split(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        views = self.layout.views(flat)
        n = len(self.layers) - 1
        return [views[f"W{i}"] for i in range(1, n + 1)], [views[f"b{i}"] for i in range(1, n + 1)]

    @property
    def params(self) -> np.ndarray:
        """The flat parameter vector (assigning to it copies into the same buffer)."""
        return self._params

    @params.setter
    def params(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.shape != self._params.shape:
            raise ValueError(f"params must have shape {self._params.shape}, got {value.shape}")
        self._params[...] = value

    @property
    def n_params(self) -> int:
        return self.layout.size

    def init_params(self, rng: np.random.Generator) -> None:
        """Glorot/Xavier uniform (sigmoid, tanh, output layer) or He uniform (relu-like) weights.

        ``W ~ U(−r, r)`` with ``r = √(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010) or
        ``r = √(6 / fan_in)`` (He et al. 2015, variance 2/fan_in); biases are zero.
        """
        he = self.hidden in PIECEWISE_LINEAR
        top = len(self.W) - 1
        for i, W in enumerate(self.W):
            fan_in, fan_out = W.shape
            r = np.sqrt(6.0 / fan_in) if he and i < top else np.sqrt(6.0 / (fan_in + fan_out))
            W[...] = rng.uniform(-r, r, size=W.shape)
        for b in self.b:
            b.fill(0)

    def __getstate__(self) -> dict[str, Any]:
        # W, b, dW and db are views into params and grad: pickled on their own they would
        # come back as copies that training no longer moves.  They are rebuilt instead,
        # with empty workspaces.
        state = self.__dict__.copy()
        for name in ("W", "b", "dW", "db", "_workspaces", "_tape"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.W, self.b = self._split(self._params)
        self.dW, self.db = self._split(self.grad)
        self._workspaces = OrderedDict()
        self._tape = None

    def copy(self, dtype: str | None = None) -> MLP:
        """A deep copy, optionally converted to another dtype."""
        net = MLP.__new__(MLP)
        net.__dict__.update(self.__dict__)
        net.dtype = self.dtype if dtype is None else as_dtype(dtype)
        net._params = self._params.astype(net.dtype, copy=True)
        net.grad = np.zeros_like(net._params)
        net.W, net.b = net._split(net._params)
        net.dW, net.db = net._split(net.grad)
        net._workspaces = OrderedDict()
        net._tape = None
        return net

    def __repr__(self) -> str:
        arch = "-".join(map(str, self.layers))
        return (
            f"MLP({arch}, hidden={self.hidden!r}, loss={self.loss!r}, output={self.output!r}, "
            f"l2={self.l2:g}, dtype={self.dtype.name!r}, params={self.n_params:,})"
        )

    # ------------------------------------------------------------------ inputs
    def check_X(self, X: Any) -> np.ndarray:
        """``X`` as a finite ``(N, D_0)`` array of this network's dtype, or a ``DataError``."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.layers[0]:
            raise DataError(
                f"X must have shape (N, {self.layers[0]}), got {X.shape}"
                + (" (flatten images first)" if X.ndim == 3 else "")
            )
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataError(f"X must hold real numbers, got dtype {X.dtype}")
        X = np.asarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():
            raise DataError("X contains NaN or infinite values")
        return X

    def _rows(self, y: Any, n: int | None) -> np.ndarray:
        y = np.asarray(y)
        if n is not None and (y.ndim == 0 or y.shape[0] != n):
            raise DataError(f"y must have {n} rows (one per sample in X), got shape {y.shape}")
        if y.ndim == 2 and y.shape[1] == self.layers[-1]:
            return y
        if y.ndim != 1:
            raise DataError(
                f"y must be (N,) integer labels or (N, {self.layers[-1]}) targets, "
                f"got shape {y.shape}"
            )
        if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        if y.dtype.kind not in "iu":
            raise DataError(f"1-D labels y must be integers, got dtype {y.dtype}")
        K = self.layers[-1]
        if y.size and (y.min() < 0 or y.max() >= K):
            raise DataError(f"labels must lie in 0..{K - 1}, got values in {y.min()}..{y.max()}")
        return y

    def labels(self, y: Any, n: int | None = None) -> np.ndarray:
        """``y`` as ``(N,)`` class labels: integer labels checked to lie in ``0..K-1``,
        ``(N, K)`` targets by their largest entry; ``n``: the rows ``y`` must have."""
        y = self._rows(y, n)
        return y.argmax(axis=1) if y.ndim == 2 else y

    def targets(self, y: Any, n: int | None = None) -> np.ndarray:
        """``y`` as ``(N, K)`` targets of this dtype: int labels become one-hot rows."""
        y = self._rows(y, n)
        if y.ndim == 1:
            Y = np.zeros((y.shape[0], self.layers[-1]), self.dtype)
            Y[np.arange(y.shape[0]), y] = 1
            return Y
        Y = np.asarray(y, dtype=self.dtype)
        if not np.isfinite(Y).all():
            raise DataError("y contains NaN or infinite values")
        return Y

    # ------------------------------------------------------------------ forward / backward
    def _workspace(self, n: int) -> _Workspace:
        ws = self._workspaces.get(n)
        if ws is None:
            ws = _Workspace(n, self.layers, self.dtype)
            self._workspaces[n] = ws
            if len(self._workspaces) > _WORKSPACES_KEPT:
                self._workspaces.popitem(last=False)
        else:
            self._workspaces.move_to_end(n)
        return ws

    def _forward(
        self, X: np.ndarray, ws: _Workspace, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Fill ``ws`` for the batch ``X: (N, D_0)``; return ``h: (N, D_L)`` (a workspace buffer).

        With ``rng`` (training), dropout masks are drawn from it; without, no dropout.
        """
        z = self._forward_to_top(X, ws, rng)
        return self._loss.output(z, ws.out)

    def _forward_to_top(
        self, X: np.ndarray, ws: _Workspace, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Every layer but the output non-linearity; return ``z_L: (N, D_L)``."""
        top = len(self.W) - 1
        a = X
        if rng is not None and self.input_dropout:
            a = ws.dropout(0, X, self.input_dropout, rng, self.ops)
        ws.inputs = [a]
        for i, (W, b, z) in enumerate(zip(self.W, self.b, ws.acts, strict=True)):
            np.matmul(a, W, out=z)
            if i == top:
                z += b
                break
            self.ops.bias_activation(z, b, self._f)  # a_l overwrites z_l: f' comes from a_l
            a = z
            if rng is not None and self.dropout:
                a = ws.dropout(i + 1, z, self.dropout, rng, self.ops)
            ws.inputs.append(a)
        return ws.acts[top]

    def _backward(self, ws: _Workspace) -> None:
        """Fill ``self.grad`` with ∂J/∂params from the top delta ``ws.deltas[-1]`` (already
        divided by N), after a forward pass over the same batch."""
        top = len(self.W) - 1
        delta = ws.deltas[top]
        np.add.reduce(delta, axis=0, out=self.db[top])
        for i in range(top, -1, -1):
            np.matmul(ws.inputs[i].T, delta, out=self.dW[i])
            if self.l2:
                self.ops.add_scaled(self.dW[i], self.W[i], self.l2)
            if i > 0:
                prev = ws.deltas[i - 1]
                np.matmul(delta, self.W[i].T, out=prev)
                # dropped out: the mask is in the path from a_{i} to the layer above
                mask = ws.masks[i] if ws.inputs[i] is not ws.acts[i - 1] else None
                # δ_{i} ⊙= f'(a_{i}) [⊙ mask], and ∂J/∂b_{i} = Σ_n δ_{i} in the same pass
                self.ops.backprop_hidden(
                    prev, ws.acts[i - 1], self._f, mask, self.db[i - 1], ws.deriv[i - 1]
                )
                delta = prev

    def _penalty(self) -> float:
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * sum(float(np.vdot(W, W)) for W in self.W)

    def _cost(self, X: np.ndarray, Y: np.ndarray, ws: _Workspace) -> float:
        top = len(self.W) - 1
        data = self._loss.total(ws.acts[top], ws.out, Y) / X.shape[0]
        return data + self._penalty()

    # ------------------------------------------------------------------ a training step
    def forward(self, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Every layer but the output non-linearity, keeping what :meth:`backward` needs.

        Args:
            X: ``(N, D_0)`` inputs already checked (see :meth:`check_X`).
            rng: draws the dropout masks (training); None runs without dropout.

        Returns:
            ``z_L: (N, K)``, the top layer's pre-activations (a buffer the next call
            of the same batch size reuses).
        """
        ws = self._workspace(X.shape[0])
        self._tape = ws
        return self._forward_to_top(X, ws, rng)

    def backward(self, Y: np.ndarray) -> float:
        """After :meth:`forward`: the outputs, the loss and its delta at the top, then
        ``∂J/∂params`` into :attr:`grad`; returns the batch's cost ``J``.

        ``Y: (N, K)`` targets of this network's dtype (see :meth:`targets`).
        """
        ws = self._tape
        if ws is None or Y.shape != ws.out.shape:
            raise ValueError(
                f"backward needs the (N, {self.layers[-1]}) targets of the batch forward() saw"
            )
        n = ws.n
        top = len(self.W) - 1
        total = self._loss.output_total_delta(
            ws.acts[top], Y, ws.out, ws.deltas[top], 1.0 / n, self.ops
        )
        self._backward(ws)
        return total / n + self._penalty()

    def train_step(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        labels: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, int]:
        """:meth:`forward` then :meth:`backward` on one checked batch, gradient left in
        :attr:`grad` (the weights do not change: the optimizer steps them).

        Args:
            X: ``(N, D_0)`` inputs; ``Y: (N, K)`` targets; ``labels: (N,)`` their classes.
            rng: draws the dropout masks; None runs without dropout.

        Returns:
            ``(J, wrong)``: the batch's cost, and how many of its samples the network
            (before this step) gets wrong.
        """
        self.forward(X, rng)
        J = self.backward(Y)
        return J, int(np.count_nonzero(self._tape.out.argmax(axis=1) != labels))

    def _step_loss_and_grad(
        self, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator | None = None
    ) -> float:
        self.forward(X, rng)
        return self.backward(Y)

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, np.ndarray]:
        """Cost ``J`` (see the module docstring) and its gradient ``∂J/∂params``.

        Args:
            X: ``(N, D_0)`` inputs.
            y: ``(N,)`` integer labels in ``0..K-1`` or ``(N, K)`` targets.

        Returns:
            ``(J, g)``: ``J`` a float, ``g`` a new flat array laid out like :attr:`params`
            (also left in :attr:`grad`).
        """
        X = self.check_X(X)
        Y = self.targets(y, X.shape[0])
        J = self._step_loss_and_grad(X, Y)
        return J, self.grad.copy()

    def cost(self, X: Any, y: Any) -> float:
        """The cost ``J`` alone (no gradient)."""
        X = self.check_X(X)
        Y = self.targets(y, X.shape[0])
        ws = self._workspace(X.shape[0])
        self._forward(X, ws)
        return self._cost(X, Y, ws)

    def predict_proba(
        self, X: Any, batch_size: int = EVAL_BATCH, *, threadsafe: bool = False
    ) -> np.ndarray:
        """Network outputs ``h: (N, K)`` for ``X: (N, D_0)``: see :attr:`output_kind` for
        what they are.

        ``threadsafe=True`` computes in buffers of this call's own instead of the
        network's reused ones, so several threads may predict at once (a server's
        requests); the weights are only read.  It allocates on every call.
        """
        return self._outputs(self.check_X(X), batch_size, threadsafe)

    def _outputs(
        self, X: np.ndarray, batch_size: int = EVAL_BATCH, threadsafe: bool = False
    ) -> np.ndarray:
        if not np.isfinite(self._params).all():
            # all-NaN outputs would argmax to class 0: a prediction that means nothing
            raise ValueError("the network's parameters contain NaN or infinite values")
        out = np.empty((X.shape[0], self.layers[-1]), self.dtype)
        for start in range(0, X.shape[0], batch_size):
            chunk = X[start : start + batch_size]
            ws = (
                _Workspace(len(chunk), self.layers, self.dtype)
                if threadsafe
                else self._workspace(len(chunk))
            )
            out[start : start + len(chunk)] = self._forward(chunk, ws)
        return out

    @property
    def output_kind(self) -> str:
        """ "probabilities" (softmax or sigmoid outputs of a cross-entropy loss) or
        "scores" (squared-error outputs: larger means more likely, nothing more)."""
        return "scores" if self.loss == "squared_error" else "probabilities"

    def predict(self, X: Any, batch_size: int = EVAL_BATCH) -> np.ndarray:
        """Predicted class labels ``(N,)``: the argmax of the outputs."""
        return self.predict_proba(X, batch_size).argmax(axis=1)

    def error_rate(self, X: Any, y: Any) -> float:
        """Fraction of the samples ``X: (N, D_0)`` whose predicted class differs from
        ``y``: ``(N,)`` labels in ``0..K-1`` or ``(N, K)`` targets."""
        X = self.check_X(X)
        if not len(X):
            raise DataError("the error rate of no samples is undefined: X has 0 rows")
        labels = self.labels(y, len(X))
        return float(np.mean(self._outputs(X).argmax(axis=1) != labels))

    # ------------------------------------------------------------------ training, files
    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train in place; see :func:`deltanet.training.fit` for the arguments."""
        from deltanet.training import fit

        return fit(self, X, y, **kwargs)

    def save(self, path: str, training: dict[str, Any] | None = None) -> None:
        """Write a safetensors model file (see :func:`deltanet.modelfile.save`)."""
        from deltanet.modelfile import save

        save(self, path, training)

    def to_onnx(self, path: str | os.PathLike[str] | None = None) -> onnx.ModelProto:
        """This network as an ONNX model, written to ``path`` (atomically) unless None;
        needs ``deltanet[onnx]``.  See :mod:`deltanet.onnx_export`."""
        from deltanet import onnx_export

        return onnx_export.build(self) if path is None else onnx_export.save(self, path)

    # ------------------------------------------------------------------ checking
    def gradcheck(
        self, X: Any, y: Any, dropout_seed: int | None = None, **kwargs: Any
    ) -> GradCheckReport:
        """Check :meth:`loss_and_grad` against central differences, in float64.

        A float32 network is checked through a float64 copy (float32 round-off would
        swamp the differences).  Dropout is off unless ``dropout_seed`` is given; then
        every evaluation uses the same masks, drawn from that seed.  Other keyword
        arguments go to :func:`deltanet.gradcheck`.
        """
        from deltanet.gradcheck import gradcheck

        net = self if self.dtype == np.float64 else self.copy("float64")
        X = net.check_X(X)
        Y = net.targets(y, X.shape[0])
        w0 = net.params.copy()

        ws = net._workspace(X.shape[0])

        def masks() -> np.random.Generator | None:
            # the same masks at every evaluation: the check sees one fixed thinned network
            return None if dropout_seed is None else np.random.default_rng(dropout_seed)

        def cost(w: np.ndarray) -> float:
            net.params = w
            net._forward(X, ws, masks())
            return net._cost(X, Y, ws)

        def grad(w: np.ndarray) -> np.ndarray:
            net.params = w
            net._step_loss_and_grad(X, Y, masks())
            return net.grad.copy()

        kwargs.setdefault("shapes", {b.name: b.shape for b in net.layout})
        try:
            return gradcheck(cost, w0, grad, **kwargs)
        finally:
            net.params = w0
