"""``.npz`` files: ``X_train``, ``y_train`` and, optionally, ``X_test``, ``y_test``.

Every member's ``.npy`` header is read and checked before its data: numbers or text
labels only (nothing pickled: ``allow_pickle=False``), exactly as many bytes as the
header announces, and all of it within this machine's memory.  ``X`` is ``(N, D)`` or,
for pictures, ``(N, H, W)`` or ``(N, H, W, C)`` (then flattened, the picture shape
kept); ``y`` is ``(N,)`` whole numbers, booleans or strings.
"""

from __future__ import annotations

import zipfile

import numpy as np

from deltanet.errors import DataError
from deltanet.files import open_regular
from deltanet.limits import check_memory
from deltanet.npyformat import read_header, shape_bytes
from deltanet.sources.dataset import Dataset, class_labels, encode
from deltanet.sources.split import shuffled, stratified_split

REQUIRED = ("X_train", "y_train")
OPTIONAL = ("X_test", "y_test")
Header = tuple[tuple[int, ...], np.dtype]


def _headers(path: str, archive: zipfile.ZipFile) -> dict[str, Header]:
    """The shape and dtype of each array in ``archive``, from its header alone."""
    found: dict[str, Header] = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        with archive.open(info) as member:
            found[name] = read_header(member, f"{path}: {name}", info.file_size)
    return found


def _check(path: str, headers: dict[str, Header]) -> None:
    """The arrays a training set needs, of shapes that agree, within memory."""
    missing = [k for k in REQUIRED if k not in headers]
    if missing:
        raise DataError(
            f"{path}: no {' or '.join(missing)} (the file holds {', '.join(headers) or 'nothing'})"
        )
    if ("X_test" in headers) != ("y_test" in headers):
        raise DataError(f"{path}: X_test and y_test come together; the file has one of them")
    for split in ("train", "test"):
        if f"X_{split}" not in headers:
            continue
        (xs, xt), (ys, yt) = headers[f"X_{split}"], headers[f"y_{split}"]
        if xt.kind not in "iufb":
            raise DataError(f"{path}: X_{split} holds {xt}; features must be numbers")
        if len(xs) not in (2, 3, 4) or (len(xs) == 4 and xs[3] not in (1, 3, 4)):
            raise DataError(
                f"{path}: X_{split} has shape {xs}; expected (N, D) rows or (N, H, W[, C]) pictures"
            )
        if len(ys) != 1 or ys[0] != xs[0]:
            raise DataError(
                f"{path}: y_{split} has shape {ys}; expected ({xs[0]},), a label per row"
            )
        if yt.kind not in "iufbU":
            raise DataError(f"{path}: y_{split} holds {yt}; labels are numbers or text")
    if "X_test" in headers and headers["X_test"][0][1:] != headers["X_train"][0][1:]:
        raise DataError(
            f"{path}: X_test rows have shape {headers['X_test'][0][1:]}, X_train rows "
            f"{headers['X_train'][0][1:]}"
        )
    # the arrays, and X again as float64
    need = sum(shape_bytes(*h) for h in headers.values())
    need += sum(
        8 * int(np.prod(headers[k][0], dtype=object)) for k in ("X_train", "X_test") if k in headers
    )
    check_memory(need, f"reading {path}", DataError)


def read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of ``path`` that a training set is made of, each checked first."""
    with open_regular(path, DataError) as fh:
        try:
            with zipfile.ZipFile(fh) as archive:
                headers = _headers(path, archive)
                _check(path, headers)
                fh.seek(0)
                with np.load(fh, allow_pickle=False) as npz:
                    return {k: npz[k] for k in (*REQUIRED, *OPTIONAL) if k in headers}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: not a .npz file NumPy can read ({exc})") from None


def load_npz(path: str, *, test_size: float, rng: np.random.Generator) -> Dataset:
    """A ``.npz`` as a :class:`Dataset`: its own test set, or a stratified ``test_size``."""
    arrays = read_npz(path)
    X, y = _rows(arrays["X_train"], f"{path}: X_train"), arrays["y_train"]
    shape = arrays["X_train"].shape[1:]
    input_shape = None if len(shape) == 1 else _picture(shape)
    classes = class_labels(y, f"{path}: y_train")
    units = encode(y, classes, f"{path}: y_train")
    if "X_test" in arrays:
        X_test = _rows(arrays["X_test"], f"{path}: X_test")
        y_test = encode(arrays["y_test"], classes, f"{path}: y_test")
        train = shuffled(len(X), rng)
    else:
        train, held = stratified_split(units, test_size, rng, path)
        X_test, y_test = X[held], units[held]
    return Dataset(X[train], units[train], X_test, y_test, classes, None, input_shape, "npz", path)


def _rows(X: np.ndarray, where: str) -> np.ndarray:
    """``X: (N, ...)`` as ``(N, D)`` float64, every value finite."""
    rows = X.reshape(len(X), -1).astype(np.float64)
    if not np.isfinite(rows).all():
        raise DataError(f"{where} holds NaN or infinite values")
    return rows


def _picture(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``(H, W)`` or ``(H, W, C)``, a single channel dropped."""
    return tuple(shape[:2]) if len(shape) == 2 or shape[2] == 1 else tuple(shape)
