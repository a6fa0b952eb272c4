"""The header of a ``.npy`` array (alone or inside a ``.npz``), read and checked before
any of its data: its shape and type, plain numbers only (no pickle), and the bytes it
announces against the bytes there are."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO

import numpy as np

from deltanet.errors import DataError
from deltanet.limits import MAX_HEADER_BYTES


def read_header(
    fh: IO[bytes],
    where: str | os.PathLike[str],
    total_bytes: int | None = None,
    check: Callable[[tuple[int, ...], np.dtype], None] | None = None,
) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of the array whose ``.npy`` bytes ``fh`` is at the start of.

    ``total_bytes``: the bytes of the whole ``.npy``, header included (None: the size of
    ``fh``, which must then be a file); an array whose shape and type need another number is refused,
    so a header claiming 10¹² rows is never believed.  Object (pickled) and complex
    arrays are refused, and ``check(shape, dtype)`` may refuse more, before the sizes
    are compared.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"format version {version} is not read here")
        shape, _, dtype = read(fh, max_header_size=MAX_HEADER_BYTES)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise DataError(f"{where}: not a plain .npy array ({exc})") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects; only plain numbers are read (no pickle)")
    if dtype.kind == "c":
        raise DataError(f"{where}: holds complex numbers; only real ones are read")
    if check is not None:
        check(shape, dtype)
    if total_bytes is None:
        total_bytes = os.fstat(fh.fileno()).st_size
    data_bytes = total_bytes - fh.tell()
    expected = shape_bytes(shape, dtype)
    if expected != data_bytes:
        raise DataError(
            f"{where}: the header says {shape} {dtype} ({expected:,} bytes of data) but the "
            f"file holds {data_bytes:,}"
        )
    return shape, dtype


def shape_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` takes (exact, however large)."""
    return int(np.prod(shape, dtype=object)) * dtype.itemsize
