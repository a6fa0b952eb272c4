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
import pandas as pd
import pytest
from helpers import one_line_error, refused, run_cli, tiny_dataset, training_metadata
from PIL import Image

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
        (["--data-dir", "{tmp}/nowhere"], "no such file or folder"),
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
    (["--data-dir", "{root}/small_images", "--layers", "784,8,10"], "the images have 100 pixels"),
    (
        ["--data-dir", "{root}/labels_to_12", "--val-size", "10", "--layers", "784,8,10"],
        "the data has 13 classes",
    ),
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


# ---------------------------------------------------------------------- your own data
# (--data: scikit-learn's digits, written by the tests as a CSV, a .npz, a Parquet file
# and a folder of PNGs; see ``digits`` in conftest.py)

QUICK = ["--epochs", "2", "--quiet"]


def metrics_of(run):
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize("name", ["digits.npz", "digits.parquet"])
def test_each_format_trains(digits, tmp_path, name):
    out = tmp_path / "run"
    result = run_cli("train", "--data", digits / name, *QUICK, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "64-300-10" in result.stdout
    model = dn.load_model(out / "model.safetensors")
    assert model.n_features == 64 and model.classes == tuple(range(10))
    assert model.standardizer is not None  # features in their own units: standardized
    assert metrics_of(out)["test_error"] < 0.5


def test_a_csv_reaches_95_percent_with_the_default_settings(digits, tmp_path):
    out = tmp_path / "csv"
    result = run_cli("train", "--data", digits / "digits.csv", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["layers"] == [64, 300, 10]
    assert config["data"]["test"] == 359  # a fifth of each class, rounded
    assert metrics_of(out)["test_error"] <= 0.05
    model = dn.load_model(out / "model.safetensors")
    assert model.feature_names == tuple(f"pixel{i}" for i in range(64))
    # predict on raw rows (the label column is ignored) answers in the data's labels
    rows = pd.read_csv(digits / "digits.csv").head(50)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    shown = run_cli("predict", out, tmp_path / "rows.csv", "--top", "1")
    assert shown.returncode == 0, shown.stderr
    said = [int(line.split(": ")[1].split()[0]) for line in shown.stdout.splitlines()]
    assert np.mean(np.array(said) == rows["digit"].to_numpy()) >= 0.9


def test_a_picture_folder_reaches_95_percent_with_the_default_settings(digits, tmp_path):
    out = tmp_path / "pictures"
    result = run_cli("train", "--data", digits / "pictures", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    assert metrics_of(out)["test_error"] <= 0.05
    model = dn.load_model(out / "model.safetensors")
    assert model.input_shape == (8, 8) and model.classes == tuple(map(str, range(10)))
    assert model.standardizer is None  # pixels are in [0, 1] already
    seven = next((digits / "pictures" / "7").iterdir())
    big = tmp_path / "seven.png"  # any size: resized as the training pictures were
    Image.open(seven).resize((64, 64)).save(big)
    shown = run_cli("predict", out, seven, big)
    assert shown.returncode == 0, shown.stderr
    assert [line.split(": ")[1].split()[0] for line in shown.stdout.splitlines()] == ["7", "7"]


NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_string_class_names_round_trip(digits, tmp_path):
    frame = pd.read_csv(digits / "digits.csv")
    frame.insert(0, "name", [NAMES[d] for d in frame.pop("digit")])  # the label first
    frame.to_csv(tmp_path / "named.tsv", sep="\t", index=False)
    out = tmp_path / "run"
    argv = ["--data", tmp_path / "named.tsv", "--target", "name", "--epochs", "10"]
    result = run_cli("train", *argv, "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    model = dn.load_model(out / "model.safetensors")
    assert model.classes == tuple(sorted(NAMES))
    shown = run_cli("evaluate", out)
    assert shown.returncode == 0, shown.stderr
    assert "classes=['eight', 'five'" in shown.stdout
    assert all(f" {name} " in shown.stdout for name in NAMES)  # per-class rows by name
    frame.drop(columns="name").head(3).to_csv(tmp_path / "rows.csv", index=False)
    shown = run_cli("predict", out, tmp_path / "rows.csv")
    assert shown.returncode == 0, shown.stderr
    guesses = [line.split(": ")[1].split()[0] for line in shown.stdout.splitlines()]
    assert guesses == [NAMES[d] for d in pd.read_csv(digits / "digits.csv")["digit"][:3]]


def test_a_run_resumes_and_reports_on_its_own_data(digits, tmp_path):
    out = tmp_path / "run"
    first = run_cli("train", "--data", digits / "digits.npz", *QUICK, "--out", out)
    assert first.returncode == 0, first.stderr
    more = run_cli("train", "--resume", out, "--epochs", "3", "--quiet")
    assert more.returncode == 0, more.stderr
    assert metrics_of(out)["epochs"] == 3
    report = run_cli("report", out)
    assert report.returncode == 0, report.stderr
    assert (out / "report.html").is_file() and (out / "confusion.png").is_file()


@pytest.fixture(scope="module")
def bad_user_data(digits, tmp_path_factory):
    """Files and folders a user might give by mistake."""
    root = tmp_path_factory.mktemp("bad")
    frame = pd.read_csv(digits / "digits.csv").head(100)
    text = frame.copy()
    text["pixel3"] = text["pixel3"].astype(str) + "px"
    text.to_csv(root / "text.csv", index=False)
    holes = frame.copy()
    holes.loc[7, "pixel5"] = np.nan
    holes.to_csv(root / "holes.csv", index=False)
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("a,b,label\n")
    frame.assign(digit=3).to_csv(root / "one_class.csv", index=False)
    (root / "no_pictures" / "cat").mkdir(parents=True)
    (root / "no_pictures" / "dog").mkdir(parents=True)
    (root / "no_pictures" / "dog" / "notes.txt").write_text("not a picture")
    unreadable = root / "unreadable"
    shutil.copytree(digits / "pictures", unreadable)
    (unreadable / "4" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "one_folder" / "cat").mkdir(parents=True)
    Image.new("L", (8, 8)).save(root / "one_folder" / "cat" / "a.png")
    np.savez(root / "no_y.npz", X_train=np.zeros((4, 3)))
    np.savez(root / "objects.npz", X_train=np.zeros((2, 2)), y_train=np.array([None, 1]))
    return root


BAD_DATA = [
    (["--data", "{digits}/digits.csv", "--target", "label"], "no column 'label'"),
    (["--data", "{bad}/text.csv"], "column 'pixel3' is not numeric, such as '13.0px' (data row 1)"),
    (["--data", "{bad}/holes.csv"], "missing values in column 'pixel5' (the first in data row 8)"),
    (["--data", "{bad}/empty.csv"], "empty file"),
    (["--data", "{bad}/header.csv"], "a header (3 columns) but no rows"),
    (["--data", "{bad}/one_class.csv"], "one class only (3)"),
    (["--data", "{bad}/no_pictures"], "no pictures"),
    (["--data", "{bad}/unreadable"], "broken.png: not an image that Pillow can read"),
    (["--data", "{bad}/one_folder"], "one class only ('cat')"),
    (["--data", "{bad}/no_y.npz"], "no y_train"),
    (["--data", "{bad}/objects.npz"], "holds Python objects"),
    (["--data", "{bad}/nowhere.csv"], "no such file"),
    (["--data", "{digits}/digits.csv", "--layers", "784,300,10"], "the data has 64 features"),
    (["--data", "{digits}/digits.csv", "--layers", "64,30,3"], "the data has 10 classes"),
    (["--data", "{digits}/digits.csv", "--channels", "3"], "channels applies to a folder of"),
    (["--data", "{digits}/pictures", "--target", "x"], "target applies to a table"),
    (["--data", "{digits}/digits.csv", "--augment", "affine"], "distorts 28×28 grey pictures"),
]


@pytest.mark.parametrize(("args", "message"), BAD_DATA, ids=[m[:30] for _, m in BAD_DATA])
def test_bad_data_is_one_line_exit_2_and_nothing_written(
    digits, bad_user_data, tmp_path, monkeypatch, capsys, args, message
):
    args = [a.format(digits=digits, bad=bad_user_data) for a in args]
    monkeypatch.chdir(tmp_path)  # where runs/ would appear
    refused(capsys, ["train", *args, "--out", tmp_path / "run"], message)
    refused(capsys, ["train", *args], message)  # the default place: runs/<date-time>
    assert list(tmp_path.iterdir()) == []  # no run directory, no runs/
