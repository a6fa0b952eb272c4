"""MNIST (embedded, offline) and any folder of IDX files in the same layout.

The four canonical MNIST files ship inside the package (``deltanet/data/mnist``,
gzip-compressed; LeCun, Cortes & Burges, CC BY-SA 3.0) and are verified against
their published SHA-256 checksums of the uncompressed bytes.  ``load_mnist(path=DIR)``
reads the same four files from any folder, e.g. Fashion-MNIST.

IDX layout (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code
(0x08 = unsigned byte), the number of dimensions, each dimension as a big-endian
uint32, then the data in C order.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deltanet.errors import IDXError
from deltanet.files import open_regular
from deltanet.limits import check_memory

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the uncompressed canonical files (the widely published values).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MNIST(NamedTuple):
    """``X_train (60000, 784)`` float32 in [0, 1], ``y_train (60000,)`` int64, ``X_test``, ``y_test``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _read_bytes(path: Path) -> bytes:
    """The bytes of an IDX file (uncompressed), reading no more than its header announces
    (and one byte to tell trailing bytes), so a gzip bomb is never inflated."""
    with open_regular(path, IDXError) as fh:  # a missing or unreadable file: one line
        gz = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        stream = gzip.GzipFile(fileobj=fh, mode="rb") if gz else fh
        try:
            head = stream.read(4)
            head += stream.read(4 * head[3] if len(head) == 4 else 0)
            size = _declared_size(head)
            if size is None:  # not a whole IDX header: parse_idx says what is wrong
                return head
            check_memory(size, f"{path}", IDXError)
            return head + stream.read(size + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise IDXError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _declared_size(head: bytes) -> int | None:
    """Bytes of data an IDX header announces, or None if ``head`` is not a whole header."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _IDX_TYPES:
        return None
    ndim = head[3]
    if ndim == 0 or len(head) != 4 + 4 * ndim:
        return None
    size = _IDX_TYPES[head[2]].itemsize
    for d in np.frombuffer(head, ">u4", count=ndim, offset=4):
        size *= int(d)
    return size


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file into an array of its declared shape and type."""
    if len(data) < 4:
        raise IDXError(f"{name}: {len(data)} bytes is too short for an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise IDXError(
            f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts with 0x0000 then a "
            "type code such as 08 and the number of dimensions)"
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise IDXError(f"{name}: header declares {ndim} dimensions but the file ends before them")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = _declared_size(data[:header])
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise IDXError(
            f"{name}: {what}: header says {' × '.join(map(str, dims))} values "
            f"({expected:,} bytes of data) but the file holds {actual:,}"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike[str], sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip) and, if given, verify the SHA-256 of its bytes."""
    path = Path(path)
    data = _read_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise IDXError(
                f"{path}: SHA-256 mismatch (got {digest[:16]}…, expected {sha256[:16]}…): "
                "the file is corrupt or not the canonical one"
            )
    return parse_idx(data, str(path))


def _find(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them "train-images.idx3-ubyte"
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise IDXError(f"{folder}: no {stem} or {stem}.gz in this folder")


def embedded_dir() -> Path:
    """The folder holding the MNIST files shipped with the package."""
    return Path(str(resources.files("deltanet") / "data" / "mnist"))


@lru_cache(maxsize=4)
def _load_uint8(folder: str, verify: bool) -> tuple[np.ndarray, ...]:
    root = Path(folder)
    arrays = []
    for key, stem in FILES.items():
        path = _find(root, stem)
        arr = read_idx(path, MNIST_SHA256[stem] if verify else None)
        kind = "images" if key.endswith("images") else "labels"
        if kind == "images" and arr.ndim != 3:
            raise IDXError(f"{path}: images must be 3-D (count, rows, cols), got shape {arr.shape}")
        if kind == "labels" and arr.ndim != 1:
            raise IDXError(f"{path}: labels must be 1-D, got shape {arr.shape}")
        arr.setflags(write=False)
        arrays.append(arr)
    for split, (images, labels) in (("train", arrays[0:2]), ("test", arrays[2:4])):
        if len(images) != len(labels):
            raise IDXError(f"{root}: {split} has {len(images):,} images but {len(labels):,} labels")
    return tuple(arrays)


def load_mnist(path: str | os.PathLike[str] | None = None) -> MNIST:
    """Load MNIST: the embedded copy (verified, offline), or the four IDX files in ``path``.

    Returns:
        ``MNIST(X_train, y_train, X_test, y_test)``: images flattened to ``(N, rows·cols)``
        float32 scaled to [0, 1], labels ``(N,)`` int64.  Unpacks as a 4-tuple.

    Raises:
        IDXError (a :class:`~deltanet.errors.UserError`) naming the file and what is
        wrong with it.
    """
    if path is None:
        folder, verify = embedded_dir(), True
    else:
        folder, verify = Path(path).expanduser().resolve(), False
        if not folder.is_dir():
            raise IDXError(f"{folder}: not a folder")
    tr_x, tr_y, te_x, te_y = _load_uint8(str(folder), verify)
    return MNIST(_images(tr_x), tr_y.astype(np.int64), _images(te_x), te_y.astype(np.int64))


def _images(raw: np.ndarray) -> np.ndarray:
    # one fused pass: uint8 -> float32 scaled to [0, 1]
    return np.multiply(raw.reshape(raw.shape[0], -1), np.float32(1 / 255), dtype=np.float32)
