"""RunDir in this process: names, the lock, refusals, what it reads and writes.  The same
guarantees through the real command, across processes, are in test_cli_train.py."""

import json
import os
from datetime import datetime

import numpy as np
import pytest

import deltanet as dn
from deltanet.config import TrainConfig
from deltanet.errors import RunDirError
from deltanet.rundir import RunDir
from deltanet.training import History, Outcome

CONFIG = TrainConfig(layers=(4, 3, 2), epochs=2, val_size=0)
NOW = datetime(2026, 11, 27, 10, 0, 0)


def create(path, **kwargs):
    return RunDir.create(path, CONFIG, {"note": "test"}, **kwargs)


def test_default_names_are_unique_within_a_second_and_latest_follows(tmp_path):
    root = tmp_path / "runs"
    first = create(None, root=root, now=NOW)
    second = create(None, root=root, now=NOW)
    assert first.path.name == "2026-11-27_10-00-00"
    assert second.path.name == "2026-11-27_10-00-00-2"
    latest = root / "latest"
    assert latest.is_symlink() and os.readlink(latest) == second.path.name  # relative
    assert json.loads((latest / "config.json").read_text())["note"] == "test"
    assert not list(root.glob(".*.tmp"))
    first.close(), second.close()


def test_latest_is_left_alone_when_it_is_someone_elses_folder(tmp_path):
    root = tmp_path / "runs"
    (root / "latest").mkdir(parents=True)
    create(None, root=root, now=NOW).close()
    assert (root / "latest").is_dir() and not (root / "latest").is_symlink()


def test_an_explicit_directory_outside_runs_does_not_move_latest(tmp_path):
    create(tmp_path / "elsewhere", root=tmp_path / "runs").close()
    assert not (tmp_path / "runs" / "latest").exists()


def test_a_run_is_not_overwritten_unless_asked(tmp_path):
    create(tmp_path / "run").close()
    (tmp_path / "run" / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "run" / "confusion.png").write_bytes(b"picture")
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="already holds a run: continue it with --resume"):
        RunDir.refuse_taken(tmp_path / "run")
    with pytest.raises(RunDirError, match="or replace it with --overwrite"):
        create(tmp_path / "run")
    with create(tmp_path / "run", overwrite=True):
        left = {p.name for p in (tmp_path / "run").iterdir()}
    assert left == {".lock", "config.json", "notes.txt"}  # the old run's files are gone
    RunDir.refuse_taken(tmp_path / "empty")  # nothing there: fine, and nothing made
    assert not (tmp_path / "empty").exists()


def test_overwrite_replaces_only_a_deltanet_run(tmp_path):
    # a project folder with its own config.json: refused, and nothing of it deleted
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "config.json").write_text('{"app": "mine"}')
    (tmp_path / "project" / ".notes.tmp").write_text("mine too")
    with pytest.raises(RunDirError, match="holds files deltanet did not write"):
        create(tmp_path / "project", overwrite=True)
    assert json.loads((tmp_path / "project" / "config.json").read_text()) == {"app": "mine"}
    assert (tmp_path / "project" / ".notes.tmp").exists()


def test_a_run_named_through_a_link_stays_that_run(tmp_path, monkeypatch):
    # `--resume runs/latest` must keep writing to the run the link named when it began,
    # even after a newer run moves the link
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs"
    first = create(None, root=root, now=NOW)
    first.close()
    resumed = RunDir.open("runs/latest")
    create(None, root=root, now=datetime(2026, 11, 27, 11, 0, 0)).close()  # moves latest
    assert resumed.path.name == first.path.name and not resumed.path.is_absolute()
    resumed.write("history.csv", b"the resumed run's")
    assert (first.path / "history.csv").read_bytes() == b"the resumed run's"
    assert not (root / "latest" / "history.csv").exists()
    resumed.close()


def test_a_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(RunDirError, match="cannot create the run directory"):
        create(tmp_path / "file" / "run")


def test_one_owner_at_a_time(tmp_path):
    owner = create(tmp_path / "run")
    assert (tmp_path / "run" / ".lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(
        RunDirError, match=rf"in use by another deltanet process \(pid {os.getpid()}\)"
    ):
        RunDir.open(tmp_path / "run")
    owner.close()
    with RunDir.open(tmp_path / "run") as again:
        assert again.config() == CONFIG


def test_opening_removes_what_interrupted_writes_left(tmp_path):
    create(tmp_path / "run").close()
    (tmp_path / "run" / ".metrics.json.a1b2.tmp").write_text("{")
    with RunDir.open(tmp_path / "run"):
        assert not list((tmp_path / "run").glob(".*.tmp"))


def test_what_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="no such run directory"):
        RunDir.read(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"no config\.json here"):
        RunDir.open(tmp_path)
    assert not (tmp_path / ".lock").exists()  # refused before taking the lock
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        create(tmp_path / "file")


def test_a_config_json_from_elsewhere_is_refused_in_one_line(tmp_path):
    create(tmp_path / "run").close()
    config = tmp_path / "run" / "config.json"
    config.write_text(json.dumps({"train": {"lr": 0.1, "data_dir": "x"}}))
    with pytest.raises(RunDirError, match=r"not a config\.json this deltanet wrote"):
        RunDir.read(tmp_path / "run").config()
    config.write_text("{broken")
    with pytest.raises(RunDirError, match="not valid JSON"):
        RunDir.read(tmp_path / "run").config()


def test_only_the_owner_writes(tmp_path):
    create(tmp_path / "run").close()
    reader = RunDir.read(tmp_path / "run")
    with pytest.raises(RuntimeError, match="only its owner writes"):
        reader.write("x.png", b"")


def test_results_checkpoints_and_progress_round_trip(tmp_path):
    net = dn.MLP([4, 3, 2], seed=0)
    history = History([{"epoch": 1, "lr": 0.1, "loss": 1.0, "train_error": 0.5,
                        "val_error": np.nan, "test_error": np.nan, "seconds": 0.1}],
                      outcome=Outcome.COMPLETED)  # fmt: skip
    with create(tmp_path / "run") as rd:
        assert rd.progress() is None and not rd.has_results()
        rd.save_checkpoint(net, {}, {"history": history.state()})
        rd.save_results(net, history, {"epochs": 1, "best_epoch": None}, CONFIG.to_dict())
        assert rd.write("note.txt", b"hi").read_bytes() == b"hi"
    reader = RunDir.read(tmp_path / "run")
    assert reader.has_results() and reader.metrics() == {"epochs": 1, "best_epoch": None}
    assert reader.history().to_csv() == history.to_csv()
    assert reader.progress().outcome is Outcome.COMPLETED
    assert dn.load(reader.model_path).params.tobytes() == net.params.tobytes()
