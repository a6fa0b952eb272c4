"""Turn a user's digit picture into an MNIST-style input.

MNIST's preprocessing (LeCun et al., the MNIST page): the digit is size-normalised to
fit a 20×20 box, keeping its aspect ratio, anti-aliased to grey levels, and centred in
a 28×28 image by its centre of mass.  :func:`mnist_style` does the same for any size
of picture, dark ink on light paper or light ink on dark.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

SIDE, BOX = 28, 20
INK_THRESHOLD = 0.1  # fraction of the ink range below which a pixel counts as paper


def mnist_style(gray: np.ndarray) -> np.ndarray:
    """``gray: (H, W)`` values in [0, 1] -> ``(28, 28)`` float32, ink = 1, background = 0.

    The polarity is read off the border: a light border means dark ink, which is
    inverted.  The background level is subtracted and the ink stretched to [0, 1].
    """
    g = np.asarray(gray, dtype=np.float64)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ValueError(f"expected a 2-D grey image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if np.median(border) > 0.5:
        g = 1.0 - g
        border = 1.0 - border
    background = float(np.median(border))
    span = float(g.max()) - background
    if span <= 1e-6:
        raise ValueError("the image is blank: no digit found")
    ink = np.clip((g - background) / span, 0.0, 1.0)
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL takes (width, height)
    patch = np.asarray(
        Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    patch = np.clip(patch, 0.0, 1.0)
    canvas = np.zeros((SIDE, SIDE))
    top, left = (SIDE - patch.shape[0]) // 2, (SIDE - patch.shape[1]) // 2
    canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    cy, cx = ndimage.center_of_mass(canvas)
    dy, dx = round((SIDE - 1) / 2 - cy), round((SIDE - 1) / 2 - cx)
    # keep the whole digit inside the frame while moving its centre of mass to the middle
    dy = int(np.clip(dy, -top, SIDE - top - patch.shape[0]))
    dx = int(np.clip(dx, -left, SIDE - left - patch.shape[1]))
    return np.roll(canvas, (dy, dx), axis=(0, 1)).astype(np.float32)


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A PNG/JPEG/... file as an MNIST-style ``(784,)`` float32 vector."""
    try:
        with Image.open(path) as img:
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                # transparent pixels are paper: flatten onto white before going grey
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            gray = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: not an image that Pillow can read ({exc})") from None
    try:
        return mnist_style(gray).ravel()
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """A ``.npy`` file of one or more digits as ``(N, 784)`` float32 in [0, 1].

    Accepts ``(784,)``, ``(28, 28)``, ``(N, 784)`` or ``(N, 28, 28)``; values 0..255 are
    scaled to [0, 1].  Loaded without pickle.
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not a plain .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{path}: expected a numeric array")
    if arr.shape in ((784,), (28, 28)):
        arr = arr.reshape(1, 784)
    elif arr.ndim == 3 and arr.shape[1:] == (28, 28):
        arr = arr.reshape(len(arr), 784)
    elif not (arr.ndim == 2 and arr.shape[1] == 784):
        raise ValueError(
            f"{path}: shape {arr.shape}; expected (784,), (28, 28), (N, 784) or (N, 28, 28)"
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: contains NaN or infinite values")
    if arr.max() > 1.0:
        arr /= 255.0
    return arr


def load_inputs(path: str | os.PathLike[str]) -> np.ndarray:
    """An image or ``.npy`` file as ``(N, 784)`` inputs."""
    if Path(path).suffix.lower() == ".npy":
        return load_array(path)
    return load_image(path)[None, :]
