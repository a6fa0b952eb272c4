"""Mini-batches gathered from the training set into buffers reused every step.

An epoch visits the rows of ``X`` in a shuffled order, so every batch is a gather of
random rows: at 100 rows of 784 float32 pixels that is 313 KB fetched from a 188 MB
array per step, and on the machines we measured it costs as much as the optimizer
update.  Images are usually bytes scaled to [0, 1] (``k/255``), and when every value of
``X`` is *exactly* such a byte, :class:`Batches` gathers the bytes (a quarter of the
traffic) and converts them, reproducing ``X``'s values exactly.  Anything else is
gathered as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
_CHUNK = 4096  # rows checked at a time, so the check never copies the whole of X


def _decoders(dtype: np.dtype) -> dict[str, Callable[[Array, Array], Array]]:
    """The usual ways byte images get scaled, each as ``decode(codes, out)`` into ``dtype``.

    Each is computed in ``dtype`` itself or in float32 and then widened (a float32 image
    cast to float64 keeps its float32 values).
    """
    decoders = {}
    for work in dict.fromkeys((dtype, np.dtype(np.float32))):
        scale, divisor = work.type(1 / 255), work.type(255)
        # deltanet.datasets.load_mnist: codes · float32(1/255)
        decoders[f"multiply in {work}"] = lambda codes, out, s=scale, w=work: np.multiply(
            codes, s, out=out, dtype=w
        )
        # the usual `x.astype("float32") / 255`
        decoders[f"divide in {work}"] = lambda codes, out, d=divisor, w=work: np.divide(
            codes, d, out=out, dtype=w
        )
    return decoders


def byte_codes(X: Array) -> tuple[Array, Callable[[Array, Array], Array]] | None:
    """``(codes, decode)`` with ``decode(codes, out)`` equal to ``X`` exactly, or None.

    ``X: (N, D)`` float32 or float64; ``codes: (N, D)`` uint8.  The check reads ``X``
    once, in chunks, and gives up at the first chunk that is not made of bytes.
    """
    if X.ndim != 2 or X.size == 0 or X.dtype.kind != "f":
        return None
    decoders, tables = {}, []
    every = np.arange(256, dtype=np.uint8)[None, :]
    for name, decode in _decoders(X.dtype).items():
        table = decode(every, np.empty(every.shape, X.dtype))
        if not any(np.array_equal(table, t) for t in tables):  # keep one of each that agree
            decoders[name] = decode
            tables.append(table)
    bits = np.dtype(f"u{X.dtype.itemsize}")  # compare bit patterns: -0.0 is not the byte 0
    codes = np.empty(X.shape, np.uint8)
    scaled = np.empty((min(_CHUNK, len(X)), X.shape[1]), X.dtype)
    back = np.empty_like(scaled)
    for start in range(0, len(X), _CHUNK):
        x = X[start : start + _CHUNK]
        s, b, c = scaled[: len(x)], back[: len(x)], codes[start : start + len(x)]
        np.multiply(x, 255, out=s)
        np.rint(s, out=s)
        if not (s.min() >= 0 and s.max() <= 255):
            return None
        c[...] = s
        for name, decode in list(decoders.items()):
            if not np.array_equal(decode(c, b).view(bits), x.view(bits)):
                del decoders[name]
        if not decoders:
            return None
    return codes, next(iter(decoders.values()))


class Batches:
    """Gathers ``(X[idx], Y[idx], labels[idx])`` into preallocated buffers.

    Args:
        X: ``(N, D)`` inputs; ``Y: (N, K)`` targets; ``labels: (N,)``.
        batch_size: the largest batch :meth:`gather` will be asked for.

    The returned arrays are views of the buffers: valid until the next call.
    """

    def __init__(self, X: Array, Y: Array, labels: Array, batch_size: int):
        self.X, self.Y, self.labels = X, Y, labels
        m = min(batch_size, len(X))
        self.xb = np.empty((m, X.shape[1]), X.dtype)
        self.yb = np.empty((m, Y.shape[1]), Y.dtype)
        self.lb = np.empty(m, labels.dtype)
        found = byte_codes(X)
        self.codes, self._decode = found if found is not None else (None, None)
        self.cb = None if found is None else np.empty((m, X.shape[1]), np.uint8)

    @property
    def from_bytes(self) -> bool:
        """Whether batches are gathered from byte codes."""
        return self.codes is not None

    def gather(self, idx: Array) -> tuple[Array, Array, Array]:
        """The rows ``idx`` (at most ``batch_size`` of them) as ``(xb, yb, lb)``."""
        m = len(idx)
        xb, yb, lb = self.xb[:m], self.yb[:m], self.lb[:m]
        if self.codes is not None:
            cb = self.cb[:m]
            self.codes.take(idx, axis=0, out=cb)  # methods: np.take's wrapper costs µs
            self._decode(cb, xb)
        else:
            self.X.take(idx, axis=0, out=xb)
        self.Y.take(idx, axis=0, out=yb)
        self.labels.take(idx, out=lb)
        return xb, yb, lb
