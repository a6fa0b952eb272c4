import pytest
from helpers import tiny_dataset

from deltanet.cli import main


def test_bench_times_deltanet_beside_its_bound(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "data", n=3000)
    argv = ["bench", "--layers", "784,128,10", "--epochs", "2", "--val-size", "500"]
    argv += ["--data-dir", str(data)]
    assert main([*argv, "--dtype", "float32", "float32", "float64"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("float")]
    assert [r[0] for r in rows] == ["float32", "float64"]  # a repeated dtype is timed once
    for r in rows:
        median, fastest, bound, bound_fastest, ratio = map(float, r[1:6])
        assert 0 < fastest <= median and 0 < bound_fastest <= bound
        # the ratio of the unrounded medians; the seconds are printed to 3 decimals
        rounding = ratio * (0.0005 / median + 0.0005 / bound) + 0.005
        assert ratio == pytest.approx(median / bound, abs=rounding)


def test_bench_refuses_widths_that_do_not_fit_the_images(capsys):
    assert main(["bench", "--layers", "100,10", "--epochs", "1"]) == 2
    assert "the images have 784 pixels" in capsys.readouterr().err


def test_bench_times_a_preset_as_train_runs_it(tmp_path, capsys):
    # the preset's own dtype only, its augmentation and dropout in the run described
    data = tiny_dataset(tmp_path / "data", n=1000)
    argv = ["bench", "--preset", "best", "--layers", "784,64,64,10", "--epochs", "1"]
    assert main([*argv, "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "--preset best" in out and "elastic augmentation" in out and "dropout 0.3" in out
    assert [line.split()[0] for line in out.splitlines() if line.strip().startswith("float")] == [
        "float32"
    ]
