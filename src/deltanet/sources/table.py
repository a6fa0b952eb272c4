"""Tables: CSV, TSV and Parquet files read by pandas (Parquet through pyarrow).

One row per sample; the label is the ``target`` column (default: the last one), every
other column a feature and numeric.  Anything else is one
:class:`~deltanet.errors.DataError` naming the column: text in a feature column, a
missing value, a target column that is not there.  Memory is bounded before reading: a
CSV by its size in bytes (a value takes at least two of them, a comma included), a
Parquet file by the rows and columns its footer declares.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deltanet.errors import DataError, UserError
from deltanet.files import open_regular
from deltanet.limits import check_memory
from deltanet.sources.dataset import Dataset, class_labels, encode
from deltanet.sources.split import shuffled, stratified_split

# suffix -> the separator of a text table (None: Parquet)
SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".parquet": None, ".pq": None}
# pandas' memory per byte of a CSV, at worst: 8-byte numbers of one digit and a comma
BYTES_PER_CSV_BYTE = 4


def is_table(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def read_table(path: str | os.PathLike[str]) -> Any:
    """The table at ``path`` as a pandas ``DataFrame`` with at least one row."""
    import pandas as pd

    sep = SUFFIXES.get(Path(path).suffix.lower(), ",")
    with open_regular(path, DataError) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise DataError(f"{path}: empty file (no header, no rows)")
        if sep is None:
            frame = _read_parquet(fh, path)
        else:
            check_memory(BYTES_PER_CSV_BYTE * size, f"reading {path}", DataError)
            try:
                frame = pd.read_csv(fh, sep=sep)
            except pd.errors.EmptyDataError:
                raise DataError(f"{path}: empty file (no header, no rows)") from None
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                raise DataError(f"{path}: not a table pandas can read ({first})") from None
    if frame.shape[0] == 0:
        raise DataError(f"{path}: a header ({frame.shape[1]} columns) but no rows")
    return frame


def _read_parquet(fh: Any, path: str | os.PathLike[str]) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(
            f"{path}: reading Parquet needs pyarrow: pip install 'deltanet[parquet]'"
        ) from None
    try:
        meta = pq.ParquetFile(fh).metadata
        check_memory(8 * meta.num_rows * meta.num_columns, f"reading {path}", DataError)
        fh.seek(0)
        return pq.read_table(fh).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a Parquet file pyarrow can read ({exc})") from None


def target_column(frame: Any, target: str | None, where: str | os.PathLike[str]) -> str:
    """The label column: ``target``, or the last column."""
    columns = [str(c) for c in frame.columns]
    if target is None:
        if len(columns) < 2:
            raise DataError(
                f"{where}: one column ({columns[0]!r}); a table needs feature columns "
                "and a label column"
            )
        return columns[-1]
    if target not in columns:
        raise DataError(f"{where}: no column {target!r} (the columns are {_list(columns)})")
    return target


def features(frame: Any, names: list[str] | tuple[str, ...], where: str | os.PathLike[str]) -> Any:
    """``frame``'s columns ``names`` as ``(N, D)`` float64, every one numeric and complete."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataError(f"{where}: no column {_list(missing)} (the columns are {_list(columns)})")
    chosen = frame[list(names)]
    text = [n for n in names if not _numeric(chosen[n])]
    if text:
        raise DataError(
            f"{where}: column {_list(text)} is not numeric{_example(chosen[text[0]])}; "
            "features must be numbers (encode categories as numbers, or leave the column out)"
        )
    holes = chosen.isna()
    if holes.to_numpy().any():
        bad = [n for n in names if holes[n].any()]
        row = int(np.flatnonzero(holes[bad[0]].to_numpy())[0]) + 1
        raise DataError(
            f"{where}: missing values in column {_list(bad)} (the first in data row {row}); "
            "fill them in or drop those rows"
        )
    X = chosen.to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        col = names[int(np.flatnonzero(~np.isfinite(X).all(axis=0))[0])]
        raise DataError(f"{where}: column {col!r} holds an infinite value")
    return X


def labels(frame: Any, target: str, where: str | os.PathLike[str]) -> np.ndarray:
    """The ``target`` column as ``(N,)`` labels, none missing."""
    column = frame[target] if target in frame.columns else frame[_by_text(frame, target)]
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 1
        raise DataError(
            f"{where}: the label column {target!r} has missing values (the first in data row {row})"
        )
    values = column.to_numpy()
    if values.dtype.kind == "O" or str(column.dtype) in ("str", "string"):
        values = np.asarray(column.astype(str).to_numpy(), dtype=object)
    return values


def _example(column: Any) -> str:
    """``", such as 'abc' (data row 3)"``: the first value of ``column`` that is not a
    number, or ""."""
    import pandas as pd

    words = column.notna() & pd.to_numeric(column, errors="coerce").isna()
    if not words.any():
        return ""
    row = int(np.flatnonzero(words.to_numpy())[0])
    return f", such as {column.iloc[row]!r} (data row {row + 1})"


def _by_text(frame: Any, name: str) -> Any:
    return next(c for c in frame.columns if str(c) == name)


def _numeric(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def _list(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 8 else "")


def load_table(
    path: str,
    *,
    target: str | None,
    test: str | None,
    test_size: float,
    rng: np.random.Generator,
) -> Dataset:
    """A table as a :class:`Dataset`: the test rows from ``test`` (a table with the same
    columns) or a stratified ``test_size`` of the rows."""
    frame = read_table(path)
    target = target_column(frame, target, path)
    names = tuple(str(c) for c in frame.columns if str(c) != target)
    X, y = features(frame, names, path), labels(frame, target, path)
    classes = class_labels(y, f"{path}: column {target!r}")
    units = encode(y, classes, f"{path}: column {target!r}")
    if test is None:
        train, held = stratified_split(units, test_size, rng, path)
        X_test, y_test = X[held], units[held]
    else:
        other = read_table(test)
        if target not in [str(c) for c in other.columns]:
            raise DataError(f"{test}: no label column {target!r}, which {path} has")
        X_test = features(other, names, test)
        y_test = encode(labels(other, target, test), classes, f"{test}: column {target!r}")
        train = shuffled(len(X), rng)
    return Dataset(X[train], units[train], X_test, y_test, classes, names, None, "table", str(path))
