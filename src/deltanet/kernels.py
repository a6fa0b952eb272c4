"""Compiled (numba) kernels for the element-wise work of a training step.

*Updates over the flat parameter vector.*  An optimizer step written with NumPy ufuncs
makes 6–14 passes over ~240,000 values and their temporaries; the traffic also evicts
the activations and weights the next matrix products need.  Compiled into one loop,
the RMSprop step of the default network takes ~50 µs instead of ~220 µs, and a whole
epoch gets about twice as fast (``benchmarks/epoch_time.py``, ``docs/benchmarks.md``).
These are compiled with ``fastmath`` (reciprocal square roots are approximated to
float32 precision), so they match the NumPy path to rounding, not bit for bit.

*Layers.*  The top layer's softmax, cross-entropy and delta, and a hidden layer's
``δ ⊙ f'(a)`` with its bias gradient, each replace a dozen small NumPy calls on
``(batch, width)`` arrays, whose fixed cost dominates at batch 100.  They run in the
gradient-checked float64 path too, so they are compiled without ``fastmath``.

Every kernel has a plain NumPy twin used when numba is missing or ``DELTANET_NUMBA=0``;
``tests/test_kernels.py`` checks that the two agree.  Each path on its own is
deterministic, so training stays reproducible on a given machine.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np

from deltanet.activations import ACTIVATIONS, LEAKY_SLOPE

Array = np.ndarray


@cache
def jit() -> Any:
    """The compiled kernels (a namespace), or None when numba is unavailable or disabled."""
    if os.environ.get("DELTANET_NUMBA", "1").lower() in ("0", "false", "no", "off"):
        return None
    try:
        import numba
    except ImportError:
        return None
    opts = {
        "fastmath": True,
        "error_model": "numpy",
        "boundscheck": False,
        "cache": True,
        "nogil": True,
    }

    # Every constant arrives as a scalar of the arrays' dtype: a Python literal such as
    # `1 - rho` would promote float32 arithmetic to float64 and cost 4× the time.
    @numba.njit(**opts)
    def rmsprop(w, g, ms, lr, rho, c, eps):  # pragma: no cover - compiled
        for i in range(w.size):
            gi = g[i]
            m = rho * ms[i] + c * gi * gi
            ms[i] = m
            w[i] -= lr * gi / (np.sqrt(m) + eps)

    @numba.njit(**opts)
    def rmsprop_gains(
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

    @numba.njit(**opts)
    def adam(w, g, m, v, lr_c1, beta1, d1, beta2, d2, eps, c2):  # pragma: no cover
        for i in range(w.size):
            gi = g[i]
            mi = beta1 * m[i] + d1 * gi
            vi = beta2 * v[i] + d2 * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] -= lr_c1 * mi / (np.sqrt(vi / c2) + eps)

    @numba.njit(**opts)
    def momentum(w, g, v, lr, mu, nesterov):  # pragma: no cover
        for i in range(w.size):
            gi = g[i]
            vi = mu * v[i] + gi
            v[i] = vi
            if nesterov:
                w[i] -= lr * (gi + mu * vi)
            else:
                w[i] -= lr * vi

    @numba.njit(**opts)
    def ema(avg, w, rate):  # pragma: no cover
        for i in range(w.size):
            avg[i] += rate * (w[i] - avg[i])

    # The layer kernels below run in the gradient-checked float64 path too, so they are
    # compiled without fastmath: the same IEEE operations as the NumPy twins, and NaN or
    # infinity still propagate to the loss, where divergence is detected.
    exact = {**opts, "fastmath": False}

    @numba.njit(**exact)
    def softmax_cross_entropy(z, y, h, delta, scale):  # pragma: no cover - compiled
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

    @numba.njit(**exact)
    def backprop_hidden(delta, a, mask, masked, kind, one, slope, db):  # pragma: no cover
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

    class Kernels:
        pass

    k = Kernels()
    k.softmax_cross_entropy, k.backprop_hidden = softmax_cross_entropy, backprop_hidden
    k.rmsprop, k.rmsprop_gains, k.adam, k.momentum, k.ema = (
        rmsprop,
        rmsprop_gains,
        adam,
        momentum,
        ema,
    )
    return k


def _usable(*arrays: Array, ndim: int = 1) -> Any:
    """The kernels, if they can take ``arrays``: one dtype, ``ndim`` dimensions, C order."""
    k = jit()
    if k is None:
        return None
    dt = arrays[0].dtype
    for a in arrays:  # a plain loop: this runs several times per training step
        if a.dtype != dt or a.ndim != ndim or not a.flags.c_contiguous:
            return None
    return k


# ---------------------------------------------------------------------- the updates


def rmsprop(
    w: Array, g: Array, ms: Array, lr: float, rho: float, eps: float, scratch: Array
) -> None:
    """``MS ← ρ MS + (1 − ρ) g²;  w ← w − lr · g / (√MS + ε)``, in place."""
    k = _usable(w, g, ms)
    if k is not None:
        t = w.dtype.type
        k.rmsprop(w, g, ms, t(lr), t(rho), t(1 - rho), t(eps))
        return
    _rmsprop_numpy(w, g, ms, lr, rho, eps, scratch)


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


def rmsprop_gains(
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
    k = _usable(w, g, ms, gain, prev)
    if k is not None:
        t = w.dtype.type
        k.rmsprop_gains(
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
        return
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
    c1, c2 = 1 - beta1**t, 1 - beta2**t
    k = _usable(w, g, m, v)
    if k is not None:
        ty = w.dtype.type
        k.adam(
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
        return
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    denom = np.sqrt(v / c2)
    denom += eps
    w -= (lr / c1) * m / denom


def momentum(w: Array, g: Array, v: Array, lr: float, mu: float, nesterov: bool) -> None:
    """``v ← μ v + g``, then ``w ← w − lr · v`` (or ``w − lr · (g + μ v)``, Nesterov)."""
    k = _usable(w, g, v)
    if k is not None:
        t = w.dtype.type
        k.momentum(w, g, v, t(lr), t(mu), nesterov)
        return
    v *= mu
    v += g
    if nesterov:
        w -= lr * (g + mu * v)
    else:
        w -= lr * v


def ema(avg: Array, w: Array, rate: float) -> None:
    """``avg ← avg + rate · (w − avg)``, in place."""
    k = _usable(avg, w)
    if k is not None:
        k.ema(avg, w, avg.dtype.type(rate))
        return
    diff = w - avg
    diff *= rate
    avg += diff


# ---------------------------------------------------------------------- the layers


def softmax_cross_entropy(z: Array, y: Array, h: Array, delta: Array, scale: float) -> float | None:
    """Softmax, cross-entropy and its delta in one pass over ``z, y: (N, K)``.

    Writes ``h = softmax(z)`` and ``delta = scale · (h Σ_k y_k − y)``; returns
    ``Σ_n Σ_k y_nk (lse(z_n) − z_nk)``.  None when the compiled kernel cannot run (the
    caller then takes the NumPy route of :class:`deltanet.losses.CrossEntropy`).
    """
    if not z.shape == y.shape == h.shape == delta.shape:
        shapes = ", ".join(str(a.shape) for a in (z, y, h, delta))
        raise ValueError(f"z, y, h and delta must share one shape, got {shapes}")
    k = _usable(z, y, h, delta, ndim=2)
    if k is None:
        return None
    return float(k.softmax_cross_entropy(z, y, h, delta, z.dtype.type(scale)))


# backprop_hidden's `kind` for each built-in derivative it knows (keyed by the function,
# so a replaced registry entry is not mistaken for the built-in); the rest go to NumPy
_DERIVATIVES = {
    ACTIVATIONS[name].derivative: kind
    for kind, name in enumerate(("sigmoid", "tanh", "relu", "leaky_relu", "linear"))
}


def backprop_hidden(
    delta: Array, a: Array, activation: Any, mask: Array | None, db: Array, scratch: Array
) -> None:
    """``delta ← delta ⊙ f'(a) [⊙ mask]`` and ``db ← Σ_n delta``, in place.

    ``delta, a, mask, scratch: (N, D)``; ``db: (D,)``; ``f'`` is computed from the
    activation ``a = f(z)`` as :mod:`deltanet.activations` defines it.
    """
    masked = mask is not None
    # the compiled loop trusts these shapes (no bounds checks)
    if a.shape != delta.shape or (masked and mask.shape != delta.shape):
        raise ValueError(f"delta, a and mask must share one shape, got {delta.shape}, {a.shape}")
    if delta.ndim != 2 or db.shape != delta.shape[1:]:
        raise ValueError(f"db must have shape ({delta.shape[-1]},), got {db.shape}")
    kind = _DERIVATIVES.get(activation.derivative)
    k = _usable(delta, a, mask if masked else a, ndim=2)
    if k is not None and kind is not None and db.dtype == delta.dtype:
        t = delta.dtype.type
        k.backprop_hidden(delta, a, mask if masked else a, masked, kind, t(1), t(LEAKY_SLOPE), db)
        return
    delta *= activation.derivative(a, scratch)
    if mask is not None:
        delta *= mask
    np.sum(delta, axis=0, out=db)
