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
from deltanet.ops import elastic_fields, get_ops, source_coordinates


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

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The random part of ``n`` distortions: ``(affine (n, 6), pick (n,), flip (n,))``.

        ``affine`` holds each image's inverse map from an output pixel to its source
        (:func:`deltanet.ops.source_coordinates`): rotation·shear scaled by the zoom, then
        the shift; ``pick`` and ``flip`` choose its elastic field and that field's variant
        (:func:`deltanet.ops.elastic_fields`), drawn only with elastic warping on.
        """
        theta = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n))
        zoom = 1 + rng.uniform(-self.scale, self.scale, n)
        shear = rng.uniform(-self.shear, self.shear, n)
        t = rng.uniform(-self.shift, self.shift, (2, n))
        cos, sin = np.cos(theta) / zoom, np.sin(theta) / zoom
        affine = np.stack([cos, -sin + cos * shear, sin, cos + sin * shear, t[0], t[1]], axis=1)
        if not self.elastic_alpha:
            return affine, np.zeros(n, np.int64), np.zeros(n, np.int64)
        pick = rng.integers(0, self.bank_size, n)
        flip = rng.integers(0, 8, n)
        return affine, pick, flip

    def coordinates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Source coordinates ``(2, n, side, side)`` (row, column) for ``n`` images."""
        affine, pick, flip = self.draw(n, rng)
        coords = source_coordinates(affine, self.side)
        if self.elastic_alpha:
            fields = elastic_fields(self._fields(), pick, flip)
            coords += np.float32(self.elastic_alpha) * np.moveaxis(fields, 1, 0)
        return coords

    def __call__(
        self, X: np.ndarray, rng: np.random.Generator, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Distort ``X: (B, side²)``; returns ``(B, side²)`` in X's dtype (into ``out``)."""
        affine, pick, flip = self.draw(X.shape[0], rng)
        bank = self._fields() if self.elastic_alpha else None
        out = np.empty_like(X) if out is None else out
        # out may be X itself (the trainer distorts its batch buffer in place): both
        # backends read an image whole before writing any of its pixels
        get_ops().warp(
            X.reshape(-1, self.side, self.side),
            affine,
            bank,
            pick,
            flip,
            self.elastic_alpha,
            out.reshape(-1, self.side, self.side),
        )
        return out


# The named augmentations a run can ask for (``--augment``, TrainConfig.augment).
AUGMENTS: dict[str, Callable[[], Augment | None]] = {
    "none": lambda: None,
    "affine": lambda: Augment(),  # shift ±2 px, rotate ±10°, scale ±10%, shear ±0.1
    "elastic": lambda: Augment(elastic_alpha=1.0),  # the same, plus 1 px RMS warping
    # stronger: rotate ±15°, scale ±15%, shear ±0.15, shift ±2 px, 1.5 px RMS warping
    "elastic-strong": lambda: Augment(rotate=15.0, scale=0.15, shear=0.15, elastic_alpha=1.5),
}
CONSTRAINTS = {"augment": Options(AUGMENTS, "augmentation")}


def from_name(name: str) -> Augment | None:
    """A fresh :class:`Augment` for one of :data:`AUGMENTS` ("none": None)."""
    return AUGMENTS[CONSTRAINTS["augment"].check("augment", name)]()
