"""A run directory, and the one owner of everything in it.

``deltanet train`` keeps a run in a directory (``--out``, default ``runs/<date-time>``):

=========================  ==========================================================
``config.json``            the run's :class:`~deltanet.config.TrainConfig` (``"train"``),
                           where its data came from and on which machine it ran
``checkpoint.safetensors`` rewritten after every epoch, so the run can be resumed
``history.csv``            one row per epoch
``model.safetensors``      the weights kept at the end
``metrics.json``           the final errors and how the run ended (written last)
=========================  ==========================================================

:class:`RunDir` is the only code that creates, locks, reads or writes one.  What it
guarantees:

* one owner at a time: an exclusive ``fcntl.flock`` on ``.lock``, which holds the
  owner's pid; a second process is refused in one line naming that pid;
* a new run never lands in a directory that holds one, unless asked to replace it
  (``overwrite``), and nothing is created before the caller has checked everything
  (:meth:`RunDir.create` is the first write);
* default names ``runs/<date-time>`` are unique even for runs started in the same
  second (an exclusive ``mkdir``, then ``-2``, ``-3``, ...), and ``runs/latest`` is a
  symbolic link to the newest, replaced atomically;
* temporary files that an interrupted write left behind are removed when the
  directory is opened.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from deltanet import modelfile
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError, RunDirError
from deltanet.files import (
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temp_files,
    write_json,
)
from deltanet.history import History, history_of
from deltanet.model import Model
from deltanet.network import MLP

ROOT = Path("runs")
LATEST = "latest"


class RunDir:
    """A run directory; make one with :meth:`create`, :meth:`open` or :meth:`read`.

    A created or opened one holds the lock until :meth:`close` (or the end of a
    ``with`` block); one made by :meth:`read` only reads.
    """

    CONFIG = "config.json"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    MODEL = "model.safetensors"
    CHECKPOINT = "checkpoint.safetensors"
    RUN_FILES = (CONFIG, CHECKPOINT, HISTORY, MODEL, METRICS)
    # what `deltanet report` (and `train --plots`) draws into a run
    PICTURES = ("learning_curves.png", "confusion.png", "weights.png", "mistakes.png")
    PICTURES += ("gradcheck.png",)
    REPORT = "report.html"
    LOCK = ".lock"

    def __init__(self, path: Path, lock: int | None = None):
        self.path = _settled(path)
        self._lock = lock

    @property
    def own_files(self) -> tuple[str, ...]:
        """Every file a run directory holds that deltanet wrote."""
        return (*self.RUN_FILES, *self.PICTURES, self.REPORT)

    # ------------------------------------------------------------------ making one
    @classmethod
    def refuse_taken(cls, path: str | os.PathLike[str] | None, overwrite: bool = False) -> None:
        """Refuse, before anything is written, a new run into a directory that holds one
        (unless ``overwrite``).  :meth:`create` checks again, under the lock."""
        if path is not None and not overwrite:
            cls(Path(path))._refuse_if_run()

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str] | None,
        config: TrainConfig,
        info: dict[str, Any],
        *,
        overwrite: bool = False,
        root: Path = ROOT,
        now: datetime | None = None,
    ) -> RunDir:
        """A new run directory, locked, holding ``config.json``.

        Args:
            path: the directory (it may exist, empty); None: a new ``root/<date-time>``.
            config, info: what ``config.json`` records (``info``: data, machine, ...).
            overwrite: replace the run an existing ``path`` holds.
            root, now: where default names go, and the time they are made from.
        """
        if path is None:
            path = _new_default(root, now or datetime.now())
        else:
            path = Path(path)
            _mkdir(path, exist_ok=True)
        run = cls(path, _lock(path))
        path = run.path
        try:
            if overwrite:
                run._clear()
            else:
                run._refuse_if_run()
            remove_stale_temp_files(path, run.own_files)
            run.write_config(config, info)
            if path.resolve().parent == root.resolve():
                _point_latest(root, path.resolve().name)
        except BaseException:
            run.close()
            raise
        return run

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run, locked (to resume it or to draw into it)."""
        run = cls.read(path)
        run._lock = _lock(run.path)
        remove_stale_temp_files(run.path, run.own_files)
        return run

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run, to read (no lock: its files are written atomically)."""
        path = _settled(Path(path))
        if not path.is_dir():
            raise RunDirError(f"{path}: no such run directory")
        if not (path / cls.CONFIG).is_file():
            raise RunDirError(
                f"{path}: no {cls.CONFIG} here (is it a deltanet train --out directory?)"
            )
        return cls(path)

    def close(self) -> None:
        """Release the lock (the process's end releases it too)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def _refuse_if_run(self) -> None:
        if any((self.path / name).exists() for name in self.RUN_FILES):
            raise RunDirError(
                f"{self.path} already holds a run: continue it with --resume {self.path}, "
                "or replace it with --overwrite"
            )

    def _clear(self) -> None:
        """Remove the files of the run this directory holds (before a new one starts);
        a directory whose files deltanet did not write is refused, not cleared."""
        if any((self.path / name).exists() for name in self.RUN_FILES) and not self._ours():
            raise RunDirError(
                f"{self.path} holds files deltanet did not write ({self.CONFIG} is not a "
                "run's): --overwrite replaces only a deltanet run; choose another --out"
            )
        for name in self.own_files:
            (self.path / name).unlink(missing_ok=True)

    def _ours(self) -> bool:
        """Whether config.json is one a deltanet run wrote."""
        try:
            return "train" in self.info()
        except RunDirError:
            return False

    # ------------------------------------------------------------------ reading
    @property
    def model_path(self) -> Path:
        return self.path / self.MODEL

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    def _json(self, name: str) -> dict[str, Any]:
        path = self.path / name
        try:
            value = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise RunDirError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise RunDirError(f"{path}: not a JSON object")
        return value

    def info(self) -> dict[str, Any]:
        """config.json: ``"train"`` (the config as a dict), ``"data"``, ``"machine"``, ..."""
        return self._json(self.CONFIG)

    def config(self) -> TrainConfig:
        """The run's :class:`~deltanet.config.TrainConfig`."""
        try:
            return TrainConfig.from_dict(self.info().get("train"))
        except ConfigError as exc:
            raise RunDirError(
                f"{self.path / self.CONFIG}: not a config.json this deltanet wrote ({exc})"
            ) from None

    def metrics(self) -> dict[str, Any]:
        """metrics.json (``{}`` while the run has not finished)."""
        return self._json(self.METRICS)

    def history(self) -> History | None:
        """history.csv, or None if there is none yet."""
        path = self.path / self.HISTORY
        if not path.is_file():
            return None
        return History.from_csv(path.read_text(), self.metrics().get("best_epoch"))

    def progress(self) -> History | None:
        """The history in the checkpoint: how far training got, and whether it ended."""
        loaded = self.load_checkpoint()
        return None if loaded is None else history_of(str(self.checkpoint_path), loaded[2])

    def has_results(self) -> bool:
        """Whether the final model and metrics were written."""
        return self.model_path.is_file() and (self.path / self.METRICS).is_file()

    def load_checkpoint(self) -> tuple[MLP, dict[str, np.ndarray], dict[str, Any]] | None:
        """The checkpoint, or None if there is none yet."""
        if not self.checkpoint_path.exists():
            return None
        return modelfile.load_checkpoint(self.checkpoint_path)

    # ------------------------------------------------------------------ writing
    def _writable(self) -> Path:
        if self._lock is None:
            raise RuntimeError(f"{self} was opened to read; only its owner writes")
        return self.path

    def write_config(self, config: TrainConfig, info: dict[str, Any]) -> None:
        """config.json: the config under ``"train"``, beside ``info``."""
        write_json(self._writable() / self.CONFIG, {**info, "train": config.to_dict()})

    def save_checkpoint(self, net: MLP, arrays: dict[str, np.ndarray], state: dict) -> None:
        modelfile.save_checkpoint(self._writable() / self.CHECKPOINT, net, arrays, state)

    def save_results(
        self,
        model: Model | MLP,
        history: History,
        metrics: dict[str, Any],
        training: dict[str, Any],
    ) -> None:
        """history.csv, model.safetensors (a :class:`~deltanet.model.Model`, with its
        classes and standardization; ``training`` in its metadata), then metrics.json."""
        path = self._writable()
        model = model if isinstance(model, Model) else Model(model)
        atomic_write_text(path / self.HISTORY, history.to_csv())
        modelfile.save_model(model, path / self.MODEL, training={**training, "metrics": metrics})
        write_json(path / self.METRICS, metrics)

    def write(self, name: str, data: bytes) -> Path:
        """Another file of the run (a picture, the report page), written atomically."""
        target = self._writable() / name
        atomic_write_bytes(target, data)
        return target


# ---------------------------------------------------------------------- the file system


def _settled(path: Path) -> Path:
    """``path`` with its symbolic links followed, once: a run is the directory ``runs/latest``
    named when it began, not whichever one the link names later.  Relative paths stay
    relative (to the working directory), so messages stay short."""
    real = Path(os.path.realpath(path))
    return real if path.is_absolute() else Path(os.path.relpath(real))


def _mkdir(path: Path, exist_ok: bool) -> None:
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            raise
        raise RunDirError(f"{path}: exists and is not a directory") from None
    except OSError as exc:  # no permission, a file in the way, a read-only file system ...
        raise RunDirError(f"{path}: cannot create the run directory ({exc.strerror})") from None


def _new_default(root: Path, now: datetime) -> Path:
    """A new, empty ``root/<date-time>``: ``-2``, ``-3``, ... when the second is taken."""
    stem = now.strftime("%Y-%m-%d_%H-%M-%S")
    _mkdir(root, exist_ok=True)
    for n in range(1, 10_000):
        path = root / (stem if n == 1 else f"{stem}-{n}")
        with contextlib.suppress(FileExistsError):
            _mkdir(path, exist_ok=False)  # exclusive: two processes never get the same one
            return path
    raise RunDirError(f"{root}: cannot find a free name for a run started at {stem}")


def _lock(path: Path) -> int:
    """An exclusive lock on ``path/.lock``, which then holds this process's pid."""
    fd = os.open(path / RunDir.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunDirError(
            f"{path} is in use by another deltanet process (pid {owner}); "
            "wait for it to finish, or use another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _point_latest(root: Path, name: str) -> None:
    """Make ``root/latest`` point at ``root/name``, atomically (a rename over it)."""
    link = root / LATEST
    if link.exists() and not link.is_symlink():
        return  # someone's own file or folder called "latest": leave it alone
    tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, link)
