"""``deltanet train``: the run directory it writes, resuming, and what it refuses.  The
run-directory cases run the real command in subprocesses: the exit status, stderr and
the files left behind are the contract."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import one_line_error, refused, run_cli, tiny_dataset, training_metadata

import deltanet as dn
from deltanet.cli import main
from deltanet.config import TrainConfig
from deltanet.rundir import RunDir

RUN_FILES = {"config.json", "checkpoint.safetensors", "history.csv", "model.safetensors"}
RUN_FILES |= {"metrics.json"}


def snapshot(folder):
    """Every file in ``folder`` with the SHA-256 of its bytes."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def tiny(data, out, *more, epochs=2):
    """Arguments of a quick run on the tiny dataset (``out`` None: the default name)."""
    argv = ["train", "--data-dir", data, "--layers", "784,8,10", "--val-size", "10"]
    argv += ["--epochs", str(epochs), "--quiet", *more]
    return argv if out is None else [*argv, "--out", out]


def test_train_writes_the_run_directory(trained):
    assert RUN_FILES <= {p.name for p in trained.iterdir()}
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics) >= {"train_error", "val_error", "test_error", "epochs", "seconds_per_epoch"}
    assert metrics["epochs"] == 2 and 0 < metrics["test_error"] < 0.2
    assert metrics["outcome"] == "completed"
    assert len((trained / "history.csv").read_text().splitlines()) == 3
    config = TrainConfig.from_dict(json.loads((trained / "config.json").read_text())["train"])
    assert config == TrainConfig(layers=(784, 32, 10), epochs=2, val_size=50_000)
    net = dn.load(trained / "model.safetensors")
    assert net.layers == (784, 32, 10)
    assert training_metadata(trained / "model.safetensors")["lr"] == 0.001


def test_resume_of_a_finished_run_says_there_is_nothing_left(trained, capsys):
    before = snapshot(trained)
    assert main(["train", "--resume", str(trained), "--quiet"]) == 0
    assert "trained 2 epochs of 2: nothing left to do" in capsys.readouterr().out
    assert snapshot(trained) == before


def test_resume_extends_a_finished_run_and_refuses_other_changes(trained, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--quiet"]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 3
    assert len((run_dir / "history.csv").read_text().splitlines()) == 4
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 3
    # two epochs, then one more, is the same run as three epochs straight
    straight = tmp_path / "straight"
    args = ["--layers", "784,32,10", "--val-size", "50000", "--quiet"]
    assert main(["train", *args, "--epochs", "3", "--out", str(straight)]) == 0
    model = "model.safetensors"
    assert dn.load(run_dir / model).params.tobytes() == dn.load(straight / model).params.tobytes()
    capsys.readouterr()
    before = snapshot(run_dir)
    # changing anything else would silently make it a different run
    assert main(["train", "--resume", str(run_dir), "--lr", "0.1", "--epochs", "4"]) == 2
    assert "--lr cannot change" in capsys.readouterr().err
    # a preset names one flag, not the dozen settings it would bring
    assert main(["train", "--resume", str(run_dir), "--preset", "best"]) == 2
    err = capsys.readouterr().err
    assert "--preset cannot change" in err and "--augment" not in err
    assert main(["train", "--resume", str(run_dir), "--epochs", "2"]) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "--out", str(tmp_path / "x")]) == 2
    assert "--out cannot be given" in capsys.readouterr().err
    # a refusal leaves the run as it was: resumable, its files untouched
    assert snapshot(run_dir) == before
    # a flag repeating the run's own setting changes nothing, so it is accepted
    assert main(["train", "--resume", str(run_dir), "--layers", "784,32,10", "--quiet"]) == 0
    assert "nothing left to do" in capsys.readouterr().out


def test_a_run_that_stopped_early_is_not_extended(tmp_path, capsys):
    run_dir = tmp_path / "stopped"
    # at lr 1e-12 the validation error never improves: early stopping ends the run
    args = ["--layers", "784,16,10", "--val-size", "55000", "--lr", "1e-12", "--quiet"]
    argv = ["train", *args, "--early-stopping", "1", "--epochs", "6", "--out", str(run_dir)]
    assert main(argv) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["outcome"] == "early_stopped" and metrics["epochs"] < 6
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "5"]) == 2
    assert "cannot be extended" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "nothing left to do, the run stopped after 2 epochs (early stopping" in said


def test_one_epoch_is_one_epoch(tiny_data, tmp_path, capsys):
    assert main([str(a) for a in tiny(tiny_data, tmp_path / "r", epochs=1)]) == 0
    out = capsys.readouterr().out
    assert "1 epoch," in out and "1 epochs" not in out
    assert "running one" in out  # why the final train error differs from the epoch line's


# ---------------------------------------------------------------------- run directories


def test_an_existing_run_is_never_overwritten_unless_asked(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*tiny(tiny_data, out, "--seed", "1")).returncode == 0
    before = snapshot(out)
    one_line_error(run_cli(*tiny(tiny_data, out, "--seed", "2")), "--resume")
    result = run_cli(*tiny(tiny_data, out, "--seed", "2"))
    assert "--overwrite" in result.stderr and snapshot(out) == before
    # a command refused for another reason changes nothing either, not even config.json
    one_line_error(run_cli(*tiny(tiny_data, out, "--lr", "-1")), "--lr: must be a positive")
    assert snapshot(out) == before
    replaced = run_cli(*tiny(tiny_data, out, "--seed", "2", "--overwrite"))
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "nan"], "--lr: must be a positive number"),
        (["--data-dir", "{tmp}/nowhere"], "not a folder"),
        (["--layers", "784,8,12"], "the data has 10 classes"),
    ],
)
def test_a_rejected_new_run_creates_nothing(tiny_data, tmp_path, extra, message):
    out = tmp_path / "new"
    extra = [e.format(tmp=tmp_path) for e in extra]
    one_line_error(run_cli(*tiny(tiny_data, out), *extra), message)
    assert not out.exists()


def test_augmenting_what_is_not_a_28_by_28_picture_is_refused_before_anything_is_written(
    tmp_path,
):
    small = tiny_dataset(tmp_path / "small", side=10)
    out = tmp_path / "run"
    argv = ["train", "--data-dir", small, "--layers", "100,8,10", "--epochs", "1"]
    one_line_error(run_cli(*argv, "--val-size", "10", "--augment", "affine", "--out", out), "28×28")
    assert not out.exists()


def test_a_resume_refuses_a_config_json_edited_behind_the_checkpoint(trained, tmp_path):
    # the checkpoint, covered by its digest, is the truth about a run; an edited
    # config.json would resume with another batch size, augmentation or split
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    for name in ("model.safetensors", "metrics.json"):
        (run_dir / name).unlink()  # an interrupted run, so the resume has work to do
    info = json.loads((run_dir / "config.json").read_text())
    info["train"]["batch_size"] = 7
    (run_dir / "config.json").write_text(json.dumps(info))
    one_line_error(run_cli("train", "--resume", run_dir), "batch_size differ")


def test_two_trainings_into_one_directory_one_wins(tiny_data, tmp_path):
    out = tmp_path / "contested"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "deltanet.cli", *map(str, tiny(tiny_data, out, "--seed", seed))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert len(loser.strip().splitlines()) == 1 and "Traceback" not in loser
    assert "in use by another deltanet process (pid" in loser or "already holds a run" in loser
    # the directory is the winner's alone
    seed = json.loads((out / "config.json").read_text())["train"]["seed"]
    assert training_metadata(out / "model.safetensors")["seed"] == seed
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2


def test_a_locked_run_directory_is_refused_naming_its_owner(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    with RunDir.open(run_dir):  # this test process owns it now
        result = run_cli("train", "--resume", run_dir, "--epochs", "3")
    one_line_error(result, f"in use by another deltanet process (pid {os.getpid()})")


def test_default_names_are_unique_and_latest_points_at_the_newest(tiny_data, tmp_path):
    argv = tiny(tiny_data, None)  # no --out: runs/<date-time>
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "deltanet.cli", *map(str, argv)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if p.name != "latest")
    assert len(runs) == 2 and all((r / "model.safetensors").is_file() for r in runs)
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink() and os.readlink(latest) in {r.name for r in runs}
    result = run_cli("evaluate", "runs/latest", "--data-dir", tiny_data, cwd=tmp_path)
    assert result.returncode == 0 and "test error" in result.stdout


def test_resume_removes_what_an_interrupted_write_left(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    (run_dir / ".checkpoint.safetensors.k2j3.tmp").write_bytes(b"half a checkpoint")
    assert run_cli("train", "--resume", run_dir, "--quiet").returncode == 0
    assert not list(run_dir.glob(".*.tmp"))


def test_a_relative_data_dir_is_stored_absolute(tmp_path):
    tiny_dataset(tmp_path / "data")
    result = run_cli(*tiny("data", "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "out" / "config.json").read_text())["train"]
    assert config["data"] == str(tmp_path / "data")


def test_a_learning_rate_that_blows_up_is_divergence(tiny_data, tmp_path):
    result = run_cli(*tiny(tiny_data, tmp_path / "r", "--lr", "1e6"))
    assert result.returncode == 1, result.stderr
    assert "training diverged: loss exploded" in result.stdout
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["outcome"] == "diverged"
    net = dn.load(tmp_path / "r" / "model.safetensors")
    assert np.isfinite(net.params).all()


BAD = [
    (["--hidden", "swish"], "invalid choice: 'swish'"),
    (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["--batch-size", "0"], "--batch-size: must be at least 1"),
    (["--epochs", "x"], "is not a whole number"),
    (["--average", "1"], "--average: must be in [0, 1)"),
    (["--val-size", "60000"], "val_size 60000 leaves no training samples"),
    (["--layers", "784,30"], "--layers 784,30 gives 30 outputs but the data has 10 classes"),
    (["--layers", "784,1000000,1000000,10"], "more than this machine's"),
    (["--loss", "cross_entropy", "--output", "linear"], "needs output 'softmax'"),
    (["--early-stopping", "3", "--val-size", "0"], "early_stopping needs a validation split"),
    (["--data-dir", "{root}/small_images"], "the images have 100 pixels"),
    (["--data-dir", "{root}/labels_to_12", "--val-size", "10"], "the data has 13 classes"),
    (["--resume", "{root}"], "no config.json here"),
]


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    tiny_dataset(root / "small_images", side=10)
    tiny_dataset(root / "labels_to_12", max_label=12)
    return root


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a[:2]) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, message, bad_data, tmp_path, capsys):
    args = [a.format(root=bad_data) for a in args]
    out = [] if "--resume" in args else ["--out", tmp_path / "o"]
    refused(capsys, ["train", *args, *out], message)
    assert not (tmp_path / "o").exists()


def test_a_run_that_ended_before_its_first_checkpoint_says_how_to_start_again(tmp_path, capsys):
    with RunDir.create(tmp_path / "run", TrainConfig(), {}):
        pass  # as if ^C came during the first epoch
    refused(capsys, ["train", "--resume", tmp_path / "run"], "--overwrite")
