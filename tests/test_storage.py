"""The study database: SQLite in WAL mode, heartbeats and retries, refusals in one line."""

import socket
import sqlite3
import time

import optuna
import pytest

from deltanet import storage
from deltanet.errors import ConfigError, UserError


def test_sqlite_is_opened_in_wal_mode_with_its_folder_made(tmp_path):
    path = tmp_path / "deep" / "sweeps.db"
    rdb = storage.open_storage(f"sqlite:///{path}", heartbeat=7)
    assert path.is_file()
    with sqlite3.connect(path) as conn:  # WAL is kept in the file, for every process
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with rdb.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").fetchone()[0] >= 30_000


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # ask() by hand
def test_heartbeats_fail_a_silent_trial_and_queue_it_again(tmp_path):
    rdb = storage.open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=1)
    assert (rdb.heartbeat_interval, rdb.grace_period) == (1, storage.GRACE)
    assert isinstance(
        rdb.heartbeat_stale_trial_callback, optuna.storages.RetryHeartbeatStaleTrialCallback
    )
    study = optuna.create_study(storage=rdb)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    rdb.record_heartbeat(trial._trial_id)  # then its worker dies: no more heartbeats
    storage.fail_stale_trials(study)
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING  # not yet stale
    rdb.grace_period = 1  # a shorter grace than GRACE heartbeats, to wait less here
    time.sleep(2.5)  # SQLite's clock counts whole seconds
    storage.fail_stale_trials(study)
    failed, retried = study.trials
    assert failed.state == optuna.trial.TrialState.FAIL
    assert retried.state == optuna.trial.TrialState.WAITING
    assert retried.params == failed.params and retried.system_attrs["failed_trial"] == 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_retry_queues_a_trial_as_a_dead_workers_is(tmp_path):
    rdb = storage.open_storage(f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(storage=rdb)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    storage.retry(study, rdb, trial.number)
    assert study.trials[1].state == optuna.trial.TrialState.WAITING
    assert study.trials[1].params == trial.params


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("not a url", ConfigError, "is not a database URL such as sqlite:///runs/sweeps.db"),
        ("nosuchdb://x/y", ConfigError, "--storage nosuchdb://x/y"),
    ],
)
def test_a_bad_url_is_refused_in_one_line(url, error, message):
    with pytest.raises(error) as err:
        storage.open_storage(url)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_database_that_cannot_be_reached_is_a_users_mistake_with_no_password_shown():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://me:secret@127.0.0.1:{port}/db"
    with pytest.raises(UserError) as err:
        storage.open_storage(url)
    text = str(err.value)
    assert "cannot open the database" in text and "secret" not in text and "***" in text
    assert "\n" not in text


def test_reading_a_study_never_creates_its_database(tmp_path):
    with pytest.raises(UserError, match="no study database here"):
        storage.refuse_missing_file(f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()
    storage.refuse_missing_file("postgresql+psycopg://u@h/db")  # not a file: no opinion


@pytest.mark.postgres
def test_workers_racing_to_create_the_tables_all_get_the_study(pg_url):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        opened = list(pool.map(lambda _: storage.open_storage(pg_url), range(3)))
    assert len(opened) == 3
    study = optuna.create_study(study_name="s", storage=opened[0])
    assert optuna.load_study(study_name="s", storage=opened[2]).study_name == study.study_name
