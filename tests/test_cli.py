import subprocess
import sys

import pytest

from deltanet.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "deltanet.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_gradcheck_command_passes(capsys):
    code = main(
        [
            "gradcheck",
            "--layers",
            "784,12,10",
            "--hidden",
            "sigmoid",
            "--loss",
            "squared_error",
            "--l2",
            "0.001",
            "--samples",
            "5",
            "--dtype",
            "float64",
            "--max-coords",
            "200",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "gradient check passed" in out
    for block in ("W1", "b1", "W2", "b2"):
        assert f"\n  {block} " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gradcheck", "--hidden", "swish"], "invalid choice: 'swish'"),
        (["gradcheck", "--layers", "784,x,10"], "comma-separated"),
        (["gradcheck", "--samples", "0"], "at least 1"),
        (["gradcheck", "--l2", "-1"], ">= 0"),
        (["gradcheck", "--layers", "100,10"], "the images have 784 pixels"),
        (["gradcheck", "--loss", "cross_entropy", "--output", "linear"], "needs output"),
        (["gradcheck", "--data-dir", "/nonexistent"], "not a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_teaches():
    result = run("gradcheck", "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout and "--l2" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("train",),
        ("evaluate",),
        ("predict",),
        ("gradcheck",),
        ("reproduce",),
        ("bench",),
        ("report",),
    ],
)
def test_every_help_page_prints_cleanly(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: deltanet" in text
    # an escaped percent sign shown to the user, or help that shows nothing as its default
    assert "%%" not in text and "(default: None)" not in text


def test_gradcheck_command_exits_1_on_a_broken_network(capsys, monkeypatch):
    import numpy as np

    from deltanet.losses import SquaredError

    # the 7%-error bug: the sigmoid output's derivative left out of the top delta
    monkeypatch.setattr(
        SquaredError, "delta", lambda self, z, h, y, out: np.subtract(h, y, out=out)
    )
    code = main(
        [
            "gradcheck",
            "--layers",
            "784,8,10",
            "--loss",
            "squared_error",
            "--samples",
            "5",
            "--max-coords",
            "50",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "starts at the output" in out
