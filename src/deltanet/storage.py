"""Where a sweep's study lives: an Optuna ``RDBStorage`` on SQLite or PostgreSQL, with
heartbeats so that a dead worker's trial is failed and retried.

* SQLite (the default, ``sqlite:///runs/sweeps.db``) is opened in WAL mode with a long
  busy timeout, so several processes on one machine share it: readers never wait for
  the writer, and writers queue instead of failing with "database is locked".
* PostgreSQL (``postgresql+psycopg://user@host/db``) is what workers on several machines
  share: each runs the same command against the same URL.  Its tables are created by
  whichever worker comes first; workers that start together and race to create them
  try again.
* Every running trial records a heartbeat every ``heartbeat`` seconds.  A trial silent
  for :data:`GRACE` heartbeats is failed by the next worker that looks, and Optuna's
  ``RetryHeartbeatStaleTrialCallback`` (called ``RetryFailedTrialCallback`` before
  Optuna 4.9, which still accepts that name with a deprecation warning) queues it again
  with the same parameters, up to :data:`MAX_RETRY` times.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltanet.errors import ConfigError, UserError

if TYPE_CHECKING:
    import optuna

DEFAULT_URL = "sqlite:///runs/sweeps.db"
GRACE = 3  # heartbeats a running trial may miss before it is failed and retried
MAX_RETRY = 2  # a trial that kills its worker every time is not retried for ever
BUSY_SECONDS = 60.0  # how long an SQLite writer waits for another one
CREATE_TRIES = 5


def _sqlite_connector(path: str) -> Any:
    """A DB-API connection factory for SQLite at ``path``: WAL mode, long busy timeout."""

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=BUSY_SECONDS, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # kept in the file; cheap once set
        return conn

    return connect


def _parse(url: str) -> Any:
    """``url`` parsed by SQLAlchemy, or a ConfigError showing what one looks like."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"--storage {url!r} is not a database URL such as {DEFAULT_URL} or "
            "postgresql+psycopg://user@host/db"
        ) from None


def engine_kwargs(url: str) -> dict[str, Any]:
    """SQLAlchemy engine arguments for ``url``: SQLite's WAL connections; a parent folder
    for its file is made."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return {}
    path = Path(parsed.database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{path.parent}: cannot create the folder for {url} ({exc})") from None
    return {"creator": _sqlite_connector(str(path))}


def refuse_missing_file(url: str) -> None:
    """Refuse, before anything is created, an SQLite URL whose file does not exist: a
    command that only reads must not leave an empty database behind."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise UserError(f"{parsed.database}: no study database here (run a sweep first)")


def shown(url: str) -> str:
    """``url`` with any password hidden, for messages and records."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown as the user gave it
        return url


def open_storage(url: str | None = None, heartbeat: int = 10) -> optuna.storages.RDBStorage:
    """The study database at ``url`` (None: :data:`DEFAULT_URL`), with heartbeats every
    ``heartbeat`` seconds; its tables are created if it has none.

    Raises:
        UserError: a URL that is not a database URL, a driver that is not installed, or a
        database that cannot be reached, in one line.
    """
    import optuna
    import sqlalchemy.exc

    url = url or DEFAULT_URL
    if not isinstance(heartbeat, int) or isinstance(heartbeat, bool) or heartbeat < 1:
        raise ConfigError(f"heartbeat must be a whole number of seconds >= 1, got {heartbeat!r}")
    kwargs = engine_kwargs(url)
    with _quiet_experimental():
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    for attempt in range(CREATE_TRIES):
        try:
            with _quiet_experimental():
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=heartbeat,
                    grace_period=GRACE * heartbeat,
                    heartbeat_stale_trial_callback=retry,
                )
        except sqlalchemy.exc.DBAPIError as exc:
            # another worker creating the same tables right now: PostgreSQL says so with
            # an integrity or programming error, SQLite with an operational one
            racing = isinstance(
                exc, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.ProgrammingError
            ) or "already exists" in str(exc.orig)
            if not racing:
                raise UserError(
                    f"{shown(url)}: cannot open the database ({_first_line(exc)})"
                ) from None
            if attempt == CREATE_TRIES - 1:
                raise UserError(
                    f"{shown(url)}: cannot create the study tables ({exc.orig})"
                ) from None
            time.sleep(0.2 * (attempt + 1))
        except ImportError as exc:
            raise UserError(f"{shown(url)}: no database driver for it ({exc.__cause__})") from None
        except sqlalchemy.exc.ArgumentError as exc:  # a dialect SQLAlchemy does not know
            raise ConfigError(f"--storage {shown(url)}: {exc}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    """Optuna marks heartbeats experimental and warns on every use; the warning is for
    Optuna's users to weigh, and deltanet has weighed it."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the running trials of ``study`` whose worker has stopped beating (each is
    queued again by the retry callback)."""
    import optuna

    with _quiet_experimental():
        optuna.storages.fail_stale_trials(study)


def retry(study: optuna.Study, storage: optuna.storages.RDBStorage, trial_number: int) -> None:
    """Queue ``trial_number`` of ``study`` (in ``storage``) again, as the trial of a dead
    worker is: after ^C, say."""
    callback = storage.heartbeat_stale_trial_callback
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == trial_number)
    if callback is not None:
        with _quiet_experimental():
            callback(study, trial)
