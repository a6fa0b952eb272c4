"""On-the-fly data augmentation for 28×28 digits: random affine maps and elastic distortions.

Every mini-batch gets fresh transforms, drawn from the trainer's generator, so an epoch
never shows the same picture twice and a seed still fixes everything.

* affine (vectorized over the batch): rotation by up to ±``rotate`` degrees, scaling by
  a factor in ``1 ± scale``, shear up to ±``shear`` (as tan of the angle) and a shift of
  up to ±``shift`` pixels, about the image centre;
* elastic (Simard, Steinkraus & Platt 2003): a displacement field of uniform noise in
  [−1, 1] smoothed by a Gaussian of width ``elastic_sigma`` and scaled by
  ``elastic_alpha`` pixels.  Smoothing a fresh field per image dominates the cost, so
  :class:`Augment` smooths a bank of fields once and draws from it with a random sign,
  transpose and flip per image (eight variants of each);
* :func:`bilinear` resamples the whole batch in four vectorized gathers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from deltanet.constraints import Options
from deltanet.errors import ConfigError


@dataclass
class Augment:
    """Random distortions of ``(B, side²)`` image batches with values in [0, 1]."""

    shift: float = 2.0
    rotate: float = 10.0
    scale: float = 0.1
    shear: float = 0.1
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    side: int = 28
    bank_size: int = 2000
    bank_seed: int = 0
    _bank: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("shift", "rotate", "scale", "shear", "elastic_alpha"):
            if getattr(self, name) < 0:
                raise ConfigError(f"augment {name} must be >= 0, got {getattr(self, name)}")
        if self.scale >= 1:
            raise ConfigError(f"augment scale must be below 1, got {self.scale}")
        if self.elastic_sigma <= 0:
            raise ConfigError(f"elastic_sigma must be positive, got {self.elastic_sigma}")

    def _fields(self) -> np.ndarray:
        if self._bank is None:
            # its own fixed seed: drawing from the bank, not building it, uses the caller's
            # generator, so a reused Augment consumes random numbers the same way every time
            noise = np.random.default_rng(self.bank_seed).uniform(
                -1, 1, (self.bank_size, 2, self.side, self.side)
            )
            smooth = ndimage.gaussian_filter(
                noise, sigma=(0, 0, self.elastic_sigma, self.elastic_sigma), mode="constant"
            )
            # normalise each field so elastic_alpha is the RMS displacement in pixels
            rms = np.sqrt((smooth**2).mean(axis=(1, 2, 3), keepdims=True))
            self._bank = (smooth / rms).astype(np.float32)
        return self._bank

    def coordinates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Source coordinates ``(2, n, side, side)`` (row, column) for ``n`` images."""
        s = self.side
        c = (s - 1) / 2
        theta = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n))
        zoom = 1 + rng.uniform(-self.scale, self.scale, n)
        shear = rng.uniform(-self.shear, self.shear, n)
        t = rng.uniform(-self.shift, self.shift, (2, n))
        cos, sin = np.cos(theta) / zoom, np.sin(theta) / zoom
        # inverse map from output pixel (r, q) to input: rotation·shear, then shift
        a00, a01 = cos, -sin + cos * shear
        a10, a11 = sin, cos + sin * shear
        r, q = np.meshgrid(np.arange(s) - c, np.arange(s) - c, indexing="ij")
        rows = a00[:, None, None] * r + a01[:, None, None] * q + c - t[0][:, None, None]
        cols = a10[:, None, None] * r + a11[:, None, None] * q + c - t[1][:, None, None]
        coords = np.stack([rows, cols])
        if self.elastic_alpha:
            bank = self._fields()
            pick = rng.integers(0, len(bank), n)
            fields = bank[pick]  # (n, 2, s, s)
            flip = rng.integers(0, 8, n)
            fields = np.where((flip & 1)[:, None, None, None] == 1, -fields, fields)
            fields = np.where((flip & 2)[:, None, None, None] == 2, fields[:, :, ::-1, :], fields)
            swap = (flip & 4) == 4
            fields[swap] = fields[swap][:, ::-1].transpose(0, 1, 3, 2)
            coords += self.elastic_alpha * np.moveaxis(fields, 1, 0)
        return coords

    def __call__(
        self, X: np.ndarray, rng: np.random.Generator, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Distort ``X: (B, side²)``; returns ``(B, side²)`` in X's dtype (into ``out``)."""
        coords = self.coordinates(X.shape[0], rng)
        out = np.empty_like(X) if out is None else out
        out[...] = bilinear(X.reshape(-1, self.side, self.side), coords).reshape(X.shape)
        return out


def bilinear(images: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Sample ``images: (n, s, s)`` at ``coords: (2, n, s, s)`` (row, column), bilinearly,
    with zeros outside the image (scipy's "grid-constant" mode, ~5× faster than
    ``ndimage.map_coordinates`` on a batch because it is four vectorized gathers)."""
    n, s, _ = images.shape
    p = s + 2  # one ring of zero padding
    padded = np.zeros((n, p, p), images.dtype)
    padded[:, 1:-1, 1:-1] = images
    r = np.clip(coords[0] + 1, 0, s + 0.999)
    q = np.clip(coords[1] + 1, 0, s + 0.999)
    r0 = r.astype(np.intp)  # floor, since r >= 0
    q0 = q.astype(np.intp)
    fr = (r - r0).astype(images.dtype)
    fq = (q - q0).astype(images.dtype)
    flat = padded.reshape(-1)
    i00 = (np.arange(n)[:, None, None] * (p * p)) + r0 * p + q0
    v00, v01 = flat[i00], flat[i00 + 1]
    v10, v11 = flat[i00 + p], flat[i00 + p + 1]
    top = v00 + (v01 - v00) * fq
    bottom = v10 + (v11 - v10) * fq
    return top + (bottom - top) * fr


# The named augmentations a run can ask for (``--augment``, TrainConfig.augment).
AUGMENTS: dict[str, Callable[[], Augment | None]] = {
    "none": lambda: None,
    "affine": lambda: Augment(),  # shift ±2 px, rotate ±10°, scale ±10%, shear ±0.1
    "elastic": lambda: Augment(elastic_alpha=1.0),  # the same, plus 1 px RMS warping
}
CONSTRAINTS = {"augment": Options(AUGMENTS, "augmentation")}


def from_name(name: str) -> Augment | None:
    """A fresh :class:`Augment` for one of :data:`AUGMENTS` ("none": None)."""
    return AUGMENTS[CONSTRAINTS["augment"].check("augment", name)]()
