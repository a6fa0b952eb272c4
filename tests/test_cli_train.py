"""The train / evaluate / predict / reproduce commands, through subprocess where the exit
status and stderr are the contract."""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import deltanet as dn
from deltanet.cli import main


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "deltanet.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def tiny_dataset(folder, side=28, n=60, max_label=9):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n, side, side)))
    write_idx(folder / "train-labels-idx1-ubyte", rng.integers(0, max_label + 1, n))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, side, side)))
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, max_label + 1, 20))
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained through the CLI: 1 epoch on 10,000 images."""
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--layers",
            "784,32,10",
            "--epochs",
            "2",
            "--val-size",
            "50000",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_train_writes_the_run_directory(trained):
    for name in (
        "model.safetensors",
        "config.json",
        "history.csv",
        "metrics.json",
        "checkpoint.safetensors",
    ):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics) >= {"train_error", "val_error", "test_error", "epochs", "seconds_per_epoch"}
    assert metrics["epochs"] == 2 and 0 < metrics["test_error"] < 0.2
    assert len((trained / "history.csv").read_text().splitlines()) == 3
    net = dn.io.load(trained / "model.safetensors")
    assert net.layers == (784, 32, 10)


def test_resume_continues_a_finished_run_no_further(trained, capsys):
    before = dn.io.load(trained / "model.safetensors").params
    assert main(["train", "--resume", str(trained), "--quiet"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert dn.io.load(trained / "model.safetensors").params.tobytes() == before.tobytes()


def test_resume_extends_a_finished_run_and_refuses_other_changes(trained, tmp_path, capsys):
    import shutil

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
    assert dn.io.load(run_dir / model).params.tobytes() == (
        dn.io.load(straight / model).params.tobytes()
    )
    capsys.readouterr()
    config = (run_dir / "config.json").read_text()
    # changing anything else would silently make it a different run
    assert main(["train", "--resume", str(run_dir), "--lr", "0.1", "--epochs", "4"]) == 2
    assert "--lr cannot change" in capsys.readouterr().err
    # a preset names one flag, not the dozen settings it would bring
    assert main(["train", "--resume", str(run_dir), "--preset", "best"]) == 2
    err = capsys.readouterr().err
    assert "--preset cannot change" in err and "--augment" not in err
    assert main(["train", "--resume", str(run_dir), "--epochs", "2"]) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err
    # a refusal leaves the run as it was: resumable, its config untouched
    assert (run_dir / "config.json").read_text() == config
    # a flag repeating the run's own setting changes nothing, so it is accepted
    assert main(["train", "--resume", str(run_dir), "--layers", "784,32,10", "--quiet"]) == 0


def test_a_run_that_stopped_early_is_not_extended(tmp_path, capsys):
    run_dir = tmp_path / "stopped"
    # at lr 1e-12 the validation error never improves: early stopping ends the run
    args = ["--layers", "784,16,10", "--val-size", "55000", "--lr", "1e-12", "--quiet"]
    assert (
        main(["train", *args, "--early-stopping", "1", "--epochs", "6", "--out", str(run_dir)]) == 0
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stop_reason"] and metrics["epochs"] < 6
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "5"]) == 2
    assert "cannot be extended" in capsys.readouterr().err


def test_evaluate(trained):
    result = run("evaluate", str(trained / "model.safetensors"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "test error" in out and "accuracy" in out and "true \\ predicted" in out
    assert len([line for line in out.splitlines() if line.strip().startswith("9 ")]) >= 1


def test_predict_png_and_npy(trained, tmp_path):
    X, y = dn.datasets.load_mnist().X_test[:3], dn.datasets.load_mnist().y_test[:3]
    big = np.kron(X[0].reshape(28, 28), np.ones((5, 5)))  # 140×140, light on dark
    Image.fromarray((255 * (1 - big)).astype(np.uint8)).save(
        tmp_path / "digit.png"
    )  # dark on light
    np.save(tmp_path / "digits.npy", (X * 255).astype(np.uint8).reshape(3, 28, 28))
    result = run(
        "predict",
        str(trained / "model.safetensors"),
        str(tmp_path / "digit.png"),
        str(tmp_path / "digits.npy"),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{tmp_path / 'digit.png'}: {y[0]}")
    assert lines[1].startswith(f"{tmp_path / 'digits.npy'}[0]: ")
    assert lines[0].count(": ") == 4  # the file and three class: probability pairs


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "garbage.safetensors").write_bytes(b"\x00" * 64)
    np.save(root / "nan.npy", np.full(784, np.nan))
    np.save(root / "wrong.npy", np.zeros((3, 100)))
    tiny_dataset(root / "small_images", side=10)
    tiny_dataset(root / "labels_to_12", max_label=12)
    return root


BAD = [
    (["train", "--hidden", "swish"], "invalid choice: 'swish'"),
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["train", "--lr", "-0.1"], "--lr: must be a positive number"),
    (["train", "--lr", "nan"], "--lr: must be a positive number"),
    (["train", "--epochs", "x"], "is not a whole number"),
    (["train", "--val-size", "60000"], "leaves no training images"),
    (["train", "--data-dir", "{root}/small_images"], "the images have 100 pixels"),
    (["train", "--data-dir", "{root}/labels_to_12", "--val-size", "10"], "labels must lie in 0..9"),
    (["train", "--data-dir", "{root}/nowhere"], "not a folder"),
    (["train", "--resume", "{root}"], "no checkpoint.safetensors"),
    (["evaluate", "{root}/missing.safetensors"], "no such file"),
    (["evaluate", "{root}/garbage.safetensors"], "not a valid safetensors"),
    (["predict", "{model}", "{root}/nan.npy"], "NaN"),
    (["predict", "{model}", "{root}/wrong.npy"], "shape (3, 100)"),
    (["predict", "{model}", "{root}/garbage.safetensors"], "not an image"),
    (["reproduce", "--epochs", "0"], "must be at least 1"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a[:2]) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, message, bad_files, trained, tmp_path):
    args = [a.format(root=bad_files, model=trained / "model.safetensors") for a in args]
    result = (
        run(*args, "--out", str(tmp_path / "o"))
        if args[0] == "train" and "--resume" not in args
        else run(*args)
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_no_command_prints_help_and_exits_2():
    result = run()
    assert result.returncode == 2 and "deltanet train" in result.stdout


def test_predict_a_transparent_png(trained, tmp_path):
    digit = dn.datasets.load_mnist().X_test[0].reshape(28, 28)
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = (255 * digit).astype(np.uint8)  # black ink, transparent paper
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ink.png")
    result = run("predict", str(trained / "model.safetensors"), str(tmp_path / "ink.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'ink.png'}: 7")


def test_predict_refuses_a_decompression_bomb_in_one_line(trained, tmp_path, monkeypatch, capsys):
    # Pillow refuses images over 2 × MAX_IMAGE_PIXELS; lowering the limit makes a small
    # PNG stand in for a huge one
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    code = main(["predict", str(trained / "model.safetensors"), str(tmp_path / "big.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert "not an image that Pillow can read" in err and len(err.strip().splitlines()) == 1


def test_bench_times_deltanet_beside_its_bound(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "data", n=6000)
    argv = ["bench", "--layers", "784,128,10", "--epochs", "2", "--data-dir", str(data)]
    assert main([*argv, "--dtype", "float32", "float32", "float64"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("float")]
    assert [r[0] for r in rows] == ["float32", "float64"]  # a repeated dtype is timed once
    for r in rows:
        median, fastest, bound, bound_fastest, ratio = map(float, r[1:6])
        assert 0 < fastest <= median and 0 < bound_fastest <= bound
        assert ratio == pytest.approx(median / bound, rel=0.1)  # printed to 3 decimals
