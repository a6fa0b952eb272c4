"""``deltanet sweep``: workers as real processes sharing one study (PostgreSQL and
SQLite), a worker killed with SIGKILL or stopped with ^C mid-trial, ``--best``, and
what is refused in one line."""

import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
from helpers import refused
from optuna.trial import TrialState

import deltanet as dn
from deltanet.cli import build_parser, main
from deltanet.cli._args import settings_given
from deltanet.config import TrainConfig
from deltanet.limits import blas_threads
from deltanet.rundir import RunDir

SPACE = """\
val_size = 200
depth = 1
width = { low = 8, high = 32, log = true }
"""
# trials long enough to be caught in the middle: a few tenths of a second per epoch
SLOW_SPACE = """\
val_size = 200
depth = 2
width = 256
lr = 0.003
optimizer = "adam"
average = 0.0
"""


def space_file(tmp_path, text=SPACE):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def sweep_argv(url, tmp_path, data, trials, *more, space=SPACE, epochs=2):
    return [
        "sweep", "--study", "s", "--trials", trials, "--storage", url, "--data", data,
        "--space", space_file(tmp_path, space), "--epochs", epochs, "--out", tmp_path / "out",
        "--quiet", "--no-report", "--threads", "1", "--heartbeat", "1", *more,
    ]  # fmt: skip


def start(argv):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "deltanet.cli", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def trial_lines(out):
    """The trial numbers a worker's output says it ran."""
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("trial ")]


def wait_for(predicate, timeout=120.0, what="it"):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def check_study(url, out, trials):
    """Exactly ``trials`` finished, numbered without gaps or repeats, each with a run
    directory of its own that has finished; nothing left running or waiting."""
    study = optuna.load_study(study_name="s", storage=url)
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers)))  # unique, none lost
    done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == trials
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    dirs = {t.user_attrs["run_dir"] for t in done}
    assert len(dirs) == trials  # no trial trained twice into one directory
    for t in done:
        rd = RunDir.read(t.user_attrs["run_dir"])
        assert rd.has_results() and rd.info()["sweep"]["trial"] in (
            t.number,
            t.system_attrs.get("failed_trial"),
        )
    on_disk = {str(p.resolve()) for p in out.glob("trial-*")}
    assert dirs <= on_disk
    return study, done


def run_workers(url, tmp_path, data, n_workers, trials):
    argv = sweep_argv(url, tmp_path, data, trials, epochs=3)
    procs = [start(argv) for _ in range(n_workers)]
    results = [finish(p) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert f"{trials} trials finished" in out  # every worker prints the whole study
    study, done = check_study(url, tmp_path / "out", trials)
    ran = [trial_lines(out) for _, out, _ in results]
    every = [n for numbers in ran for n in numbers]
    assert sorted(every) == sorted(t.number for t in done)  # each trial run by one worker
    print(f"{n_workers} workers ran trials {ran}")
    assert sum(1 for numbers in ran if numbers) >= 2  # they did share the study
    return study


@pytest.mark.postgres
def test_three_workers_share_one_postgresql_study(tmp_path, mnist_small, pg_url):
    run_workers(pg_url, tmp_path, mnist_small, n_workers=3, trials=12)


def test_two_workers_share_one_sqlite_study(tmp_path, mnist_small):
    run_workers(f"sqlite:///{tmp_path / 'sweeps.db'}", tmp_path, mnist_small, 2, trials=8)


def checkpointed(run_dir):
    """True once the trial in ``run_dir`` has a checkpoint and has not finished."""
    return (run_dir / RunDir.CHECKPOINT).exists() and not (run_dir / RunDir.METRICS).exists()


def stopped_mid_trial(url, tmp_path, data, trials, sig):
    """A worker of a study of ``trials`` slow trials, sent ``sig`` once its first trial
    has checkpointed an epoch: its argv, that trial's directory, and how it ended."""
    argv = sweep_argv(url, tmp_path, data, trials, "--pruner", "none", space=SLOW_SPACE,
                      epochs=8)  # fmt: skip
    first = tmp_path / "out" / "trial-0000"
    worker = start(argv)
    wait_for(lambda: checkpointed(first), what="the first trial's first epoch")
    worker.send_signal(getattr(signal, sig))
    return argv, first, finish(worker)


def same_as_straight(run_dir):
    """The model a (resumed) trial kept is bit for bit what one uninterrupted run of its
    config ends with."""
    config = RunDir.read(run_dir).config()
    data = dn.datasets.load_mnist(config.data)
    with blas_threads(1):  # as the worker ran (--threads 1)
        net, _ = dn.train(config, data.X_train, data.y_train)
    kept = dn.load(run_dir / RunDir.MODEL).params
    return np.array_equal(kept.view(np.uint32), net.params.view(np.uint32))


@pytest.mark.postgres
def test_a_worker_killed_mid_trial_has_its_trial_failed_retried_and_resumed(
    tmp_path, mnist_small, pg_url
):
    argv, first, (code, _, _) = stopped_mid_trial(pg_url, tmp_path, mnist_small, 3, "SIGKILL")
    assert code == -signal.SIGKILL
    at_kill = RunDir.read(first)
    assert not at_kill.has_results()  # not mistaken for a finished run
    epochs_at_kill = len(at_kill.progress())
    print(f"killed the worker of trial 0 after epoch {epochs_at_kill} of 8")

    code, out, err = finish(start(argv))  # the survivor finishes the study
    print(out)
    assert code == 0, err
    study, _ = check_study(pg_url, tmp_path / "out", 3)
    killed = study.trials[0]
    assert killed.state == TrialState.FAIL
    (retry,) = [t for t in study.trials if t.system_attrs.get("failed_trial") == 0]
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert retry.user_attrs["run_dir"] == str(first.resolve())
    print("trials:", [(t.number, t.state.name, t.system_attrs.get("failed_trial"),
                       t.user_attrs.get("outcome")) for t in study.trials])  # fmt: skip
    resumed_after = int(retry.user_attrs["outcome"].split("epoch ")[1].rstrip(")"))
    assert resumed_after >= epochs_at_kill  # from its checkpoint, not from scratch
    assert len(RunDir.read(first).history()) == 8
    assert same_as_straight(first)


def test_ctrl_c_stops_a_worker_after_saving_its_trials_state(tmp_path, mnist_small):
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    argv, first, (code, out, err) = stopped_mid_trial(url, tmp_path, mnist_small, 1, "SIGINT")
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "trial 0 stopped after epoch" in out and "queued for the next worker" in out
    study = optuna.load_study(study_name="s", storage=url)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    assert RunDir.read(first).load_checkpoint() is not None

    code, out, err = finish(start(argv))
    assert code == 0, err
    assert "completed (resumed after epoch" in out
    check_study(url, tmp_path / "out", 1)
    assert same_as_straight(first)


def test_best_prints_the_run_directory_and_flags_that_make_its_config(
    tmp_path, mnist_small, capsys
):
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    argv = sweep_argv(url, tmp_path, mnist_small, 2, epochs=1)
    assert main([str(a) for a in argv]) == 0
    capsys.readouterr()
    assert main(["sweep", "--best", "s", "--storage", url]) == 0
    first, where, command = capsys.readouterr().out.splitlines()
    assert first.startswith("trial ") and "validation error" in first
    run_dir = where.removeprefix("run directory: ")
    config = RunDir.read(run_dir).config()
    words = shlex.split(command)
    assert words[:2] == ["deltanet", "train"]
    args = build_parser().parse_args(words[1:])
    assert TrainConfig().replace(**settings_given(args)) == config


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--trials", "3"], "give --study NAME and --trials N (or --best NAME)"),
        (["sweep", "--best", "s", "--trials", "3"], "--best NAME only reads the study: --trials"),
        (["sweep", "--study", "s", "--trials", "0"], "--trials: must be at least 1"),
        (["sweep", "--study", "s", "--trials", "2", "--pruner", "x"], "invalid choice: 'x'"),
        (["sweep", "--study", "s", "--trials", "2", "--storage", "x"], "is not a database URL"),
        (["sweep", "--study", "s", "--trials", "2", "--space", "/nonexistent.toml"], "cannot read"),
    ],
)
def test_mistakes_are_one_line(capsys, argv, message):
    refused(capsys, argv, message)


def test_best_of_a_study_that_is_not_there(tmp_path, capsys):
    refused(capsys, ["sweep", "--best", "s", "--storage", f"sqlite:///{tmp_path}/x.db"],
            "no study database here")  # fmt: skip
    assert not (tmp_path / "x.db").exists()


def test_help_teaches_the_default_space_and_many_machines():
    text = subprocess.run(
        [sys.executable, "-m", "deltanet.cli", "sweep", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--study NAME", "--trials N", "--storage URL", "--space FILE.toml",
                 "--epochs E", "--data PATH", "--timeout S", "--out DIR", "--best NAME"):  # fmt: skip
        assert flag in text
    assert "{median,hyperband,none}" in text
    assert "lr           0.0001 .. 0.1 (log-uniform)" in text
    assert "postgresql+psycopg://" in text


def test_without_the_sweep_extra_the_command_says_what_to_install():
    code = (
        "import sys; sys.modules['optuna'] = None; from deltanet.cli import main; "
        "sys.exit(main(['sweep', '--study', 's', '--trials', '1']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "deltanet sweep: error: sweeps need Optuna, SQLAlchemy and psycopg: "
        "pip install 'deltanet[sweep]'"
    )
