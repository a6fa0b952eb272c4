import numpy as np
import pytest
from helpers import assert_picture, refused, run_cli

from deltanet.cli import main


def test_gradcheck_command_passes(capsys):
    argv = ["gradcheck", "--layers", "784,12,10", "--hidden", "sigmoid", "--loss"]
    argv += ["squared_error", "--l2", "0.001", "--samples", "5", "--dtype", "float64"]
    code = main([*argv, "--max-coords", "200"])
    out = capsys.readouterr().out
    assert code == 0
    assert "gradient check passed" in out
    for block in ("W1", "b1", "W2", "b2"):
        assert f"\n  {block} " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hidden", "swish"], "invalid choice: 'swish'"),
        (["--layers", "784,x,10"], "comma-separated"),
        (["--samples", "0"], "at least 1"),
        (["--l2", "-1"], ">= 0"),
        (["--seed", "-1"], "--seed: must be 0 or more"),
        (["--layers", "100,10"], "the images have 784 pixels"),
        (["--loss", "cross_entropy", "--output", "linear"], "needs output"),
        (["--data-dir", "/nonexistent"], "not a folder"),
        (["--plot", "x.gif", "--layers", "784,2,10", "--max-coords", "2"], ".png, .svg or .pdf"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    refused(capsys, ["gradcheck", *args], message)


def test_help_teaches():
    result = run_cli("gradcheck", "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout and "--l2" in result.stdout


def test_gradcheck_command_exits_1_on_a_broken_network(capsys, monkeypatch):
    from deltanet.losses import SquaredError

    # the 7%-error bug: the sigmoid output's derivative left out of the top delta
    monkeypatch.setattr(
        SquaredError, "delta", lambda self, z, h, y, out: np.subtract(h, y, out=out)
    )
    argv = ["gradcheck", "--layers", "784,8,10", "--loss", "squared_error", "--samples", "5"]
    code = main([*argv, "--max-coords", "50"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "starts at the output" in out


def test_gradcheck_plot(tmp_path):
    out = tmp_path / "gc.png"
    code = main(
        [
            "gradcheck",
            "--layers",
            "784,8,10",
            "--samples",
            "5",
            "--max-coords",
            "40",
            "--plot",
            str(out),
        ]
    )
    assert code == 0
    assert_picture(out, (900, 300))
