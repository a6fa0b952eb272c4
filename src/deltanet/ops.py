"""The element-wise work of a training step, in two backends chosen once.

:class:`NumpyOps` is the reference: every operation written with NumPy ufuncs.
:class:`NumbaOps` compiles the same operations with numba into single loops and falls
back to the reference, always the same way, for arrays a compiled loop cannot take
(:meth:`NumbaOps.eligible` is the one place that decides).  :func:`get_ops` chooses
once per process: ``NumbaOps`` unless numba is missing or ``DELTANET_NUMBA=0``.  The
network and the optimizers get their ops from there; a GPU backend (CuPy) would be one
more subclass of :class:`NumpyOps` with its own ``xp``.

*Updates over the flat parameter vector.*  An optimizer step written with NumPy ufuncs
makes 6–14 passes over ~240,000 values and their temporaries; the traffic also evicts
the activations and weights the next matrix products need.  Compiled into one loop,
the RMSprop step of the default network takes ~50 µs instead of ~220 µs, and a whole
epoch gets about twice as fast (``benchmarks/epoch_time.py``, ``docs/benchmarks.md``).
These are compiled with ``fastmath`` (reciprocal square roots are approximated to
float32 precision), so they match the reference to rounding, not bit for bit.

*Layers.*  The top layer's softmax, cross-entropy and delta, and a hidden layer's
``δ ⊙ f'(a)`` with its bias gradient, each replace a dozen small NumPy calls on
``(batch, width)`` arrays, whose fixed cost dominates at batch 100.  They run in the
gradient-checked float64 path too, so they are compiled without ``fastmath``.

Each backend on its own is deterministic, so training stays reproducible on a given
machine; ``tests/test_ops.py`` runs every operation in both and checks they agree.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache

import numpy as np

from deltanet.activations import ACTIVATIONS, LEAKY_SLOPE, Activation

Array = np.ndarray


# ---------------------------------------------------------------------- shared checks


def _check_flat(w: Array, *others: Array) -> None:
    """The flat updates index every array by ``w``'s positions: one shape for all."""
    for a in others:
        if a.shape != w.shape:
            raise ValueError(f"update arrays must share one shape, got {w.shape} and {a.shape}")


def _check_top(z: Array, y: Array, h: Array, delta: Array) -> None:
    if not z.shape == y.shape == h.shape == delta.shape:
        shapes = ", ".join(str(a.shape) for a in (z, y, h, delta))
        raise ValueError(f"z, y, h and delta must share one shape, got {shapes}")


def _check_hidden(delta: Array, a: Array, mask: Array | None, db: Array) -> None:
    if a.shape != delta.shape or (mask is not None and mask.shape != delta.shape):
        raise ValueError(f"delta, a and mask must share one shape, got {delta.shape}, {a.shape}")
    if delta.ndim != 2 or db.shape != delta.shape[1:]:
        raise ValueError(f"db must have shape ({delta.shape[-1]},), got {db.shape}")


# ---------------------------------------------------------------------- NumPy pieces


def softmax(z: Array, out: Array | None = None) -> Array:
    """Row-wise softmax of ``z: (N, K)``, shifted by the row maximum so nothing overflows."""
    out = np.empty_like(z) if out is None else out
    np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def cross_entropy_total(z: Array, h: Array, y: Array) -> float:
    """``Σ_n −Σ_k y_k log softmax(z)_k`` given ``h = softmax(z)``; all ``(N, K)``.

    ``= Σ_k y_k · lse(z) − Σ_k y_k z_k``.  log-sum-exp is read off the softmax already
    computed: ``lse = z_j − log h_j`` at the row's largest output ``j``, where
    ``h_j ≥ 1/K``, so the log never meets an underflowed probability.
    """
    rows = np.arange(z.shape[0])
    j = h.argmax(axis=1)
    lse = z[rows, j] - np.log(h[rows, j])
    return float(np.dot(y.sum(axis=1), lse) - np.vdot(y, z))


def cross_entropy_delta(h: Array, y: Array, out: Array) -> Array:
    """``∂loss_n/∂z = h Σ_k y_k − y`` into ``out: (N, K)`` (not divided by N)."""
    np.multiply(h, y.sum(axis=1, keepdims=True), out=out)
    return np.subtract(out, y, out=out)


def _rmsprop_numpy(
    w: Array,
    g: Array,
    ms: Array,
    lr: float,
    rho: float,
    eps: float,
    scratch: Array,
    gain: Array | None = None,
) -> None:
    """The NumPy RMSprop step, optionally scaled per weight by ``gain``."""
    np.multiply(g, g, out=scratch)
    scratch *= 1 - rho
    ms *= rho
    ms += scratch
    np.sqrt(ms, out=scratch)
    scratch += eps
    np.divide(g, scratch, out=scratch)
    if gain is not None:
        scratch *= gain
    scratch *= lr
    w -= scratch


class NumpyOps:
    """The reference backend: every operation in NumPy, in place where it says so."""

    name = "numpy"
    xp = np  # the array module; a GPU backend would put CuPy here

    def __reduce__(self) -> tuple[Callable[[str], NumpyOps], tuple[str]]:
        # pickled by name, so a network unpickled in another process gets that process's
        # backend (numba may be missing there, or turned off)
        return ops_named, (self.name,)

    def rmsprop(
        self, w: Array, g: Array, ms: Array, lr: float, rho: float, eps: float, scratch: Array
    ) -> None:
        """``MS ← ρ MS + (1 − ρ) g²;  w ← w − lr · g / (√MS + ε)``, in place."""
        _check_flat(w, g, ms)
        _rmsprop_numpy(w, g, ms, lr, rho, eps, scratch)

    def rmsprop_gains(
        self,
        w: Array,
        g: Array,
        ms: Array,
        gain: Array,
        prev: Array,
        lr: float,
        rho: float,
        eps: float,
        increment: float,
        decrement: float,
        gain_min: float,
        gain_max: float,
        scratch: Array,
    ) -> None:
        """Per-weight gains (×increment when ``g·g_prev > 0``, ×decrement when ``< 0``,
        clipped), then ``w ← w − lr · gain · g / (√MS + ε)``; ``prev`` becomes ``g``."""
        _check_flat(w, g, ms, gain, prev)
        s = scratch
        np.multiply(prev, g, out=s)
        # sign(g·g_prev) into prev (free until g is copied in below): two compares are
        # ~10× faster than np.sign on float32
        np.greater(s, 0, out=prev, casting="unsafe")
        np.less(s, 0, out=s, casting="unsafe")
        prev -= s
        # factor = 1 + a·sign + b·sign²: increment at +1, decrement at −1, 1 at 0
        a = 0.5 * (increment - decrement)
        b = 0.5 * (increment + decrement) - 1
        np.multiply(prev, b, out=s)
        s += a
        s *= prev
        s += 1
        gain *= s
        np.clip(gain, gain_min, gain_max, out=gain)
        np.copyto(prev, g)
        _rmsprop_numpy(w, g, ms, lr, rho, eps, s, gain)

    def adam(
        self,
        w: Array,
        g: Array,
        m: Array,
        v: Array,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        t: int,
    ) -> None:
        """Adam with bias correction at step ``t`` (1-based), in place."""
        _check_flat(w, g, m, v)
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        denom = np.sqrt(v / c2)
        denom += eps
        w -= (lr / c1) * m / denom

    def momentum(self, w: Array, g: Array, v: Array, lr: float, mu: float, nesterov: bool) -> None:
        """``v ← μ v + g``, then ``w ← w − lr · v`` (or ``w − lr · (g + μ v)``, Nesterov)."""
        _check_flat(w, g, v)
        v *= mu
        v += g
        if nesterov:
            w -= lr * (g + mu * v)
        else:
            w -= lr * v

    def ema(self, avg: Array, w: Array, rate: float) -> None:
        """``avg ← avg + rate · (w − avg)``, in place."""
        _check_flat(avg, w)
        diff = w - avg
        diff *= rate
        avg += diff

    def add_scaled(self, out: Array, x: Array, scale: float) -> None:
        """``out ← out + scale · x``, in place: an L2 penalty's term of a weight gradient."""
        _check_flat(out, x)
        out += scale * x

    def softmax_cross_entropy(
        self, z: Array, y: Array, h: Array, delta: Array, scale: float
    ) -> float:
        """Softmax, cross-entropy and its delta at once, over ``z, y, h, delta: (N, K)``.

        Writes ``h = softmax(z)`` and ``delta = scale · (h Σ_k y_k − y)``; returns
        ``Σ_n Σ_k y_nk (lse(z_n) − z_nk)``.
        """
        _check_top(z, y, h, delta)
        softmax(z, h)
        total = cross_entropy_total(z, h, y)
        cross_entropy_delta(h, y, delta)
        delta *= scale
        return total

    def backprop_hidden(
        self,
        delta: Array,
        a: Array,
        activation: Activation,
        mask: Array | None,
        db: Array,
        scratch: Array,
    ) -> None:
        """``delta ← delta ⊙ f'(a) [⊙ mask]`` and ``db ← Σ_n delta``, in place.

        ``delta, a, mask, scratch: (N, D)``; ``db: (D,)``; ``f'`` is computed from the
        activation ``a = f(z)`` as :mod:`deltanet.activations` defines it.
        """
        _check_hidden(delta, a, mask, db)
        delta *= activation.derivative(a, scratch)
        if mask is not None:
            delta *= mask
        np.sum(delta, axis=0, out=db)


# ---------------------------------------------------------------------- the compiled loops
# Plain Python here, compiled by NumbaOps.  Every constant arrives as a scalar of the
# arrays' dtype: a Python literal such as `1 - rho` would promote float32 arithmetic to
# float64 and cost 4× the time.


def _rmsprop_loop(w, g, ms, lr, rho, c, eps):  # pragma: no cover - compiled
    for i in range(w.size):
        gi = g[i]
        m = rho * ms[i] + c * gi * gi
        ms[i] = m
        w[i] -= lr * gi / (np.sqrt(m) + eps)


def _rmsprop_gains_loop(
    w, g, ms, gain, prev, lr, rho, c, eps, inc, dec, gmin, gmax
):  # pragma: no cover
    for i in range(w.size):
        gi = g[i]
        s = gi * prev[i]
        k = gain[i]
        if s > 0:
            k *= inc
        elif s < 0:
            k *= dec
        k = min(max(k, gmin), gmax)
        gain[i] = k
        prev[i] = gi
        m = rho * ms[i] + c * gi * gi
        ms[i] = m
        w[i] -= lr * k * gi / (np.sqrt(m) + eps)


def _adam_loop(w, g, m, v, lr_c1, beta1, d1, beta2, d2, eps, c2):  # pragma: no cover
    for i in range(w.size):
        gi = g[i]
        mi = beta1 * m[i] + d1 * gi
        vi = beta2 * v[i] + d2 * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] -= lr_c1 * mi / (np.sqrt(vi / c2) + eps)


def _momentum_loop(w, g, v, lr, mu, nesterov):  # pragma: no cover
    for i in range(w.size):
        gi = g[i]
        vi = mu * v[i] + gi
        v[i] = vi
        if nesterov:
            w[i] -= lr * (gi + mu * vi)
        else:
            w[i] -= lr * vi


def _ema_loop(avg, w, rate):  # pragma: no cover
    for i in range(w.size):
        avg[i] += rate * (w[i] - avg[i])


def _add_scaled_loop(out, x, scale):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] += scale * x[i]


def _softmax_cross_entropy_loop(z, y, h, delta, scale):  # pragma: no cover - compiled
    total = 0.0
    for i in range(z.shape[0]):
        zi, yi, hi, di = z[i], y[i], h[i], delta[i]
        m = zi[0]
        for j in range(1, zi.size):
            if zi[j] > m:
                m = zi[j]
        s = 0.0  # float64 sums: at least as exact as NumPy's float32 ones
        for j in range(zi.size):
            e = np.exp(zi[j] - m)
            hi[j] = e
            s += e
        inv, log_s = 1.0 / s, np.log(s)
        sy = 0.0
        for j in range(zi.size):
            sy += yi[j]
            hi[j] *= inv
            total += yi[j] * ((m - zi[j]) + log_s)  # y_k (lse − z_k)
        for j in range(zi.size):
            di[j] = (hi[j] * sy - yi[j]) * scale
    return total


def _backprop_hidden_loop(delta, a, mask, masked, kind, one, slope, db):  # pragma: no cover
    zero = one - one
    db[:] = zero
    for i in range(delta.shape[0]):
        d, ai = delta[i], a[i]
        if kind == 0:  # sigmoid: a (1 − a)
            for j in range(d.size):
                d[j] *= (one - ai[j]) * ai[j]
        elif kind == 1:  # tanh: 1 − a²
            for j in range(d.size):
                d[j] *= one - ai[j] * ai[j]
        elif kind == 2:  # relu: 1 where a > 0
            for j in range(d.size):
                d[j] *= one if ai[j] > zero else zero
        elif kind == 3:  # leaky relu: 1 where a > 0, else the slope
            for j in range(d.size):
                d[j] *= one if ai[j] > zero else slope
        if masked:
            mi = mask[i]
            for j in range(d.size):
                d[j] *= mi[j]
        for j in range(d.size):
            db[j] += d[j]


# _backprop_hidden_loop's `kind` for each built-in derivative it knows (keyed by the
# function, so a replaced registry entry is not mistaken for the built-in); the rest
# take the reference route
_DERIVATIVES = {
    ACTIVATIONS[name].derivative: kind
    for kind, name in enumerate(("sigmoid", "tanh", "relu", "leaky_relu", "linear"))
}


class _Compiled:
    """A loop compiled with numba when first used, then kept on the instance."""

    def __init__(self, loop: Callable, fastmath: bool):
        self.loop, self.fastmath = loop, fastmath

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, ops: NumpyOps | None, owner: type | None = None) -> Callable:
        if ops is None:
            return self  # type: ignore[return-value]
        import numba

        options = {"error_model": "numpy", "boundscheck": False, "cache": True, "nogil": True}
        kernel = numba.njit(fastmath=self.fastmath, **options)(self.loop)
        ops.__dict__[self.name] = kernel  # found before this descriptor from now on
        return kernel


class NumbaOps(NumpyOps):
    """The same operations compiled with numba; the reference for arrays they cannot take.

    numba is imported, and each loop compiled (or loaded from numba's cache), when an
    operation is first used: a command that never trains does not wait for it.
    """

    name = "numba"

    def __init__(self) -> None:
        if importlib.util.find_spec("numba") is None:
            raise ImportError("numba is not installed")

    # the updates are compiled with fastmath; the layer kernels run in the
    # gradient-checked float64 path too, so without it: they do the reference's IEEE
    # operations, and NaN or infinity still reach the loss, where divergence is detected
    _rmsprop = _Compiled(_rmsprop_loop, fastmath=True)
    _rmsprop_gains = _Compiled(_rmsprop_gains_loop, fastmath=True)
    _adam = _Compiled(_adam_loop, fastmath=True)
    _momentum = _Compiled(_momentum_loop, fastmath=True)
    _ema = _Compiled(_ema_loop, fastmath=True)
    # without fastmath: the product rounded in the arrays' dtype, then the sum, as NumPy
    # does, so a run with an L2 penalty keeps its bytes on either backend
    _add_scaled = _Compiled(_add_scaled_loop, fastmath=False)
    _softmax_cross_entropy = _Compiled(_softmax_cross_entropy_loop, fastmath=False)
    _backprop_hidden = _Compiled(_backprop_hidden_loop, fastmath=False)

    @staticmethod
    def eligible(*arrays: Array) -> bool:
        """Whether the compiled loops can take ``arrays``: one floating dtype, C order.

        (The loops also trust the arrays' sizes: shapes are checked before they run.)
        """
        dt = arrays[0].dtype
        if dt.kind != "f":
            return False
        for a in arrays:  # a plain loop: this runs several times per training step
            if a.dtype != dt or not a.flags.c_contiguous:
                return False
        return True

    def rmsprop(
        self, w: Array, g: Array, ms: Array, lr: float, rho: float, eps: float, scratch: Array
    ) -> None:
        if not self.eligible(w, g, ms):
            return super().rmsprop(w, g, ms, lr, rho, eps, scratch)
        _check_flat(w, g, ms)
        t = w.dtype.type
        self._rmsprop(w, g, ms, t(lr), t(rho), t(1 - rho), t(eps))

    def rmsprop_gains(
        self,
        w: Array,
        g: Array,
        ms: Array,
        gain: Array,
        prev: Array,
        lr: float,
        rho: float,
        eps: float,
        increment: float,
        decrement: float,
        gain_min: float,
        gain_max: float,
        scratch: Array,
    ) -> None:
        if not self.eligible(w, g, ms, gain, prev):
            return super().rmsprop_gains(
                w,
                g,
                ms,
                gain,
                prev,
                lr,
                rho,
                eps,
                increment,
                decrement,
                gain_min,
                gain_max,
                scratch,
            )
        _check_flat(w, g, ms, gain, prev)
        t = w.dtype.type
        self._rmsprop_gains(
            w,
            g,
            ms,
            gain,
            prev,
            t(lr),
            t(rho),
            t(1 - rho),
            t(eps),
            t(increment),
            t(decrement),
            t(gain_min),
            t(gain_max),
        )

    def adam(
        self,
        w: Array,
        g: Array,
        m: Array,
        v: Array,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        t: int,
    ) -> None:
        if not self.eligible(w, g, m, v):
            return super().adam(w, g, m, v, lr, beta1, beta2, eps, t)
        _check_flat(w, g, m, v)
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        ty = w.dtype.type
        self._adam(
            w,
            g,
            m,
            v,
            ty(lr / c1),
            ty(beta1),
            ty(1 - beta1),
            ty(beta2),
            ty(1 - beta2),
            ty(eps),
            ty(c2),
        )

    def momentum(self, w: Array, g: Array, v: Array, lr: float, mu: float, nesterov: bool) -> None:
        if not self.eligible(w, g, v):
            return super().momentum(w, g, v, lr, mu, nesterov)
        _check_flat(w, g, v)
        t = w.dtype.type
        self._momentum(w, g, v, t(lr), t(mu), nesterov)

    def ema(self, avg: Array, w: Array, rate: float) -> None:
        if not self.eligible(avg, w):
            return super().ema(avg, w, rate)
        _check_flat(avg, w)
        self._ema(avg, w, avg.dtype.type(rate))

    def add_scaled(self, out: Array, x: Array, scale: float) -> None:
        # one pass over both instead of NumPy's three and a temporary
        if not self.eligible(out, x):
            return super().add_scaled(out, x, scale)
        _check_flat(out, x)
        self._add_scaled(out.reshape(-1), x.reshape(-1), out.dtype.type(scale))

    def softmax_cross_entropy(
        self, z: Array, y: Array, h: Array, delta: Array, scale: float
    ) -> float:
        if not self.eligible(z, y, h, delta):
            return super().softmax_cross_entropy(z, y, h, delta, scale)
        _check_top(z, y, h, delta)
        return float(self._softmax_cross_entropy(z, y, h, delta, z.dtype.type(scale)))

    def backprop_hidden(
        self,
        delta: Array,
        a: Array,
        activation: Activation,
        mask: Array | None,
        db: Array,
        scratch: Array,
    ) -> None:
        kind = _DERIVATIVES.get(activation.derivative)
        masked = mask is not None
        if kind is None or not self.eligible(delta, a, mask if masked else a, db):
            return super().backprop_hidden(delta, a, activation, mask, db, scratch)
        _check_hidden(delta, a, mask, db)
        t = delta.dtype.type
        self._backprop_hidden(
            delta, a, mask if masked else a, masked, kind, t(1), t(LEAKY_SLOPE), db
        )


def numba_disabled() -> bool:
    """Whether ``DELTANET_NUMBA`` turns the compiled backend off ("0", "false", ...)."""
    return os.environ.get("DELTANET_NUMBA", "1").lower() in ("0", "false", "no", "off")


@cache
def get_ops() -> NumpyOps:
    """The backend for this process, chosen once: :class:`NumbaOps` unless numba is not
    installed or ``DELTANET_NUMBA=0``, then :class:`NumpyOps`."""
    if numba_disabled():
        return NumpyOps()
    try:
        return NumbaOps()
    except ImportError:
        return NumpyOps()


def ops_named(name: str) -> NumpyOps:
    """The backend called ``name`` in this process: :func:`get_ops`'s if it is that one,
    otherwise the reference (numba asked for where it is missing or turned off)."""
    ops = get_ops()
    return ops if ops.name == name else NumpyOps()


__all__ = ["NumbaOps", "NumpyOps", "get_ops", "ops_named", "softmax"]
