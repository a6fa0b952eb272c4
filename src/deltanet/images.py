"""Turn a user's digit picture into an MNIST-style input.

MNIST's preprocessing (LeCun et al., the MNIST page): the digit is size-normalised to
fit a 20×20 box, keeping its aspect ratio, anti-aliased to grey levels, and centred in
a 28×28 image by its centre of mass.  :func:`mnist_style` does the same for any size
of picture, dark ink on light paper or light ink on dark.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from deltanet.errors import DataError
from deltanet.files import open_regular
from deltanet.limits import MAX_HEADER_BYTES, MAX_PIXELS, check_memory
from deltanet.npyformat import read_header, shape_bytes

SIDE, BOX = 28, 20
INK_THRESHOLD = 0.1  # fraction of the ink range below which a pixel counts as paper


def mnist_style(gray: np.ndarray) -> np.ndarray:
    """``gray: (H, W)`` values in [0, 1] -> ``(28, 28)`` float32, ink = 1, background = 0.

    The polarity is read off the border: a light border means dark ink, which is
    inverted.  The background level is subtracted and the ink stretched to [0, 1].
    """
    g = np.asarray(gray, dtype=np.float64)
    if g.ndim != 2 or min(g.shape) < 1:
        raise DataError(f"expected a 2-D grey image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if np.median(border) > 0.5:
        g = 1.0 - g
        border = 1.0 - border
    background = float(np.median(border))
    span = float(g.max()) - background
    if span <= 1e-6:
        raise DataError("the image is blank: no digit found")
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


class NotAPicture(DataError):
    """Bytes that are not a picture Pillow can read (in the formats allowed)."""


class PictureTooLarge(DataError):
    """A picture of more pixels than allowed (refused before it is decoded)."""


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A PNG/JPEG/... file as an MNIST-style ``(784,)`` float32 vector.

    The picture is read by :func:`read_picture` (upright, 16-bit grey kept, size
    checked before decoding), then cropped, scaled and centred as MNIST's digits were.
    """
    try:
        return mnist_style(read_picture(path)).ravel()
    except DataError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise DataError(f"{path}: {exc}") from None


def read_digit(
    data: bytes,
    name: str = "the picture",
    max_pixels: int | None = None,
    formats: Sequence[str] = ("PNG", "JPEG"),
) -> np.ndarray:
    """A picture's bytes (PNG or JPEG unless ``formats`` says otherwise) as an MNIST-style
    ``(784,)`` float32 vector, as :func:`load_image` makes it of a file.

    Raises:
        PictureTooLarge: more than ``max_pixels`` pixels (default
            :data:`~deltanet.limits.MAX_PIXELS`), known from the header alone.
        NotAPicture: not a picture of one of ``formats`` that Pillow can read.
        DataError: a blank picture; ``name`` begins every message.
    """
    with _open(io.BytesIO(data), name, max_pixels, tuple(formats)) as img:
        gray = _pixels(img, name)
    try:
        return mnist_style(gray).ravel()
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from None


GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_WIDE = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # 16-bit grey: convert("L") would clip it
_SWAPS_SIDES = (5, 6, 7, 8)  # EXIF orientations that turn the picture a quarter
# what Pillow raises for bytes it cannot make a picture of (bad or truncated data, broken
# chunks, oversized text chunks, its own decompression-bomb guard)
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def picture_info(path: str | os.PathLike[str]) -> tuple[int, int, bool]:
    """``(height, width, grey)`` of a picture as it will be read (upright), from its
    header alone: nothing is decoded."""
    with _opened(path) as img:
        w, h = img.size
        if img.getexif().get(0x0112) in _SWAPS_SIDES:
            w, h = h, w
        return h, w, img.mode in GREY_MODES


def read_picture(
    path: str | os.PathLike[str], channels: int = 1, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A picture file as values in [0, 1]: ``(H, W)`` grey (``channels=1``) or
    ``(H, W, 3)`` RGB (``channels=3``), resized to ``size = (H, W)`` if given.

    Turned upright as its EXIF orientation says (phone photos); 16-bit grey levels keep
    their range; transparent pixels are white paper.  Pictures over
    :data:`~deltanet.limits.MAX_PIXELS` pixels are refused before they are decoded.
    """
    with _opened(path) as img:
        return _pixels(img, str(path), channels, size)


def _pixels(
    img: Image.Image, name: str, channels: int = 1, size: tuple[int, int] | None = None
) -> np.ndarray:
    """The decoded values of an opened picture (see :func:`read_picture`)."""
    try:
        img = _flat(ImageOps.exif_transpose(img), channels)
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        top = 65535.0 if img.mode in _WIDE else 255.0
        return np.clip(np.asarray(img, dtype=np.float64) / top, 0.0, 1.0)
    except _UNREADABLE as exc:
        raise _unreadable(name, exc) from None


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """The picture at ``path``, its header read and its pixel count checked."""
    with open_regular(path, DataError) as fh, _open(fh, str(path)) as img:
        yield img


@contextmanager
def _open(
    fh: IO[bytes],
    name: str,
    max_pixels: int | None = None,
    formats: tuple[str, ...] | None = None,
) -> Iterator[Image.Image]:
    """The picture in ``fh``, its header read and its pixel count checked."""
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        img = Image.open(fh, formats=formats)  # reads the header: the size, not the pixels
    except _UNREADABLE as exc:
        raise _unreadable(name, exc) from None
    with img:
        if img.width * img.height > limit:
            raise PictureTooLarge(
                f"{name}: {img.width}×{img.height} pixels; pictures of up to "
                f"{limit:,} pixels are read"
            )
        yield img


def _unreadable(name: str, exc: BaseException) -> NotAPicture:
    # Pillow's own words, on one line; for an unknown format they would name the file
    # again, or the address of a buffer
    reason = "not a format it knows" if isinstance(exc, UnidentifiedImageError) else exc
    one_line = " ".join(str(reason).split())
    return NotAPicture(f"{name}: not an image that Pillow can read ({one_line})")


def _flat(img: Image.Image, channels: int) -> Image.Image:
    """``img`` as one grey band (16-bit grey kept) or as RGB, on white paper."""
    if channels == 1 and img.mode in _WIDE:
        return img
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    if img.mode in _WIDE:  # 16-bit grey to 8-bit, for RGB: scale, do not clip
        img = Image.fromarray((np.asarray(img, dtype=np.float64) / 257.0).round().astype(np.uint8))
    return img.convert("L" if channels == 1 else "RGB")


# the shapes a .npy of digits may have, and how many digits each holds
_NPY_SHAPES = "(784,), (28, 28), (N, 784) or (N, 28, 28)"


def _digits(shape: tuple[int, ...]) -> int | None:
    if shape in ((784,), (28, 28)):
        return 1
    if (len(shape) == 3 and shape[1:] == (28, 28)) or (len(shape) == 2 and shape[1] == 784):
        return shape[0]
    return None


def _npy_header(fh: IO[bytes], path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy file declares, checked against its size and what a
    file of digits may hold, before any data is read."""

    def digits_only(shape: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype.kind not in "iuf":
            raise DataError(f"{path}: expected a numeric array, got dtype {dtype}")
        if _digits(shape) is None:
            raise DataError(f"{path}: shape {shape}; expected {_NPY_SHAPES}")

    shape, dtype = read_header(fh, path, check=digits_only)
    check_memory(shape_bytes(shape, dtype) + _digits(shape) * 784 * 4, f"{path}", DataError)
    return shape, dtype


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """A ``.npy`` file of one or more digits as ``(N, 784)`` float32 in [0, 1].

    Accepts ``(784,)``, ``(28, 28)``, ``(N, 784)`` or ``(N, 28, 28)`` real numbers; values
    0..255 are scaled to [0, 1].  The header is checked first (shape, type, size); the
    data is read without pickle.
    """
    with open_regular(path, DataError) as fh:
        shape, _ = _npy_header(fh, path)
        fh.seek(0)
        arr = np.lib.format.read_array(fh, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)
    arr = arr.reshape(_digits(shape), 784).astype(np.float32)
    if not len(arr):
        raise DataError(f"{path}: holds no digits (0 rows)")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    low, high = float(arr.min()), float(arr.max())
    if low < 0 or high > 255:
        raise DataError(
            f"{path}: values from {low:g} to {high:g}; digits are 0..1 or 0..255 grey levels"
        )
    if high > 1.0:
        arr /= 255.0
    return arr


def load_inputs(path: str | os.PathLike[str]) -> np.ndarray:
    """An image or ``.npy`` file as ``(N, 784)`` inputs."""
    if Path(path).suffix.lower() == ".npy":
        return load_array(path)
    return load_image(path)[None, :]
