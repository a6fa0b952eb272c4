"""Files on disk: atomic writes, and opening a user's file for reading.

Every write goes to a temporary file ``.NAME.*.tmp`` in the same folder, is flushed to
disk, and is then renamed over the target: a crash leaves either the old file or the
new one, and at worst a temporary file that :func:`remove_stale_temp_files` clears.

:func:`open_regular` opens a file a user named: only a regular file (not a folder, a
device such as ``/dev/zero`` or a pipe), and a missing or unreadable one is the
caller's :class:`~deltanet.errors.UserError`, in one line.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from deltanet.errors import UserError

TEMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash never leaves a half-written file.

    A place that cannot be written (no permission, a file where a folder should be, a
    folder where the file should go) is a :class:`~deltanet.errors.UserError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except (PermissionError, NotADirectoryError, FileExistsError) as exc:
        raise UserError(f"{path}: cannot be written ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except IsADirectoryError:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path}: is a folder, not a file") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def remove_stale_temp_files(folder: Path, names: Iterable[str]) -> list[Path]:
    """Remove the temporary files interrupted writes of ``names`` left in ``folder``
    (``.<name>.<random>.tmp``, as :func:`atomic_write_bytes` makes them); return them.

    Only those: a folder may hold other people's files.  Only safe while nothing else
    writes there (a run directory's lock is held).
    """
    stale = [p for name in names for p in folder.glob(f".{name}.*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def open_regular(path: str | os.PathLike[str], error: type[UserError] = UserError) -> IO[bytes]:
    """``path`` opened for reading in binary, if it is a regular file; else ``error``."""
    try:
        mode = os.stat(path).st_mode  # before opening: opening a named pipe would block
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{path}: no such file") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise error(f"{path}: not a regular file")
    try:
        return open(path, "rb")
    except PermissionError:
        raise error(f"{path}: permission denied") from None
