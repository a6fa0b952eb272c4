"""The ``deltanet`` command as a whole: help, a user's mistake against a bug, ^C, pipes."""

import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli

from deltanet import cli
from deltanet.cli import main
from deltanet.errors import DataError

COMMANDS = (
    "train",
    "evaluate",
    "predict",
    "gradcheck",
    "reproduce",
    "bench",
    "report",
    "export",
    "serve",
)


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_every_help_page_prints_cleanly(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: deltanet" in text
    # an escaped percent sign shown to the user, or help that shows nothing as its default
    assert "%%" not in text and "(default: None)" not in text


def test_no_command_prints_help_and_exits_2():
    result = run_cli()
    assert result.returncode == 2 and "deltanet train" in result.stdout


def test_a_users_mistake_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    from deltanet.cli import evaluate

    def mistake(args):
        raise DataError("that file is not what it should be")

    monkeypatch.setattr(evaluate, "run", mistake)
    assert main(["evaluate", "m.safetensors"]) == 2
    err = capsys.readouterr().err
    assert err == "deltanet evaluate: error: that file is not what it should be\n"

    def bug(args):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(evaluate, "run", bug)
    with pytest.raises(ValueError, match="an internal inconsistency"):
        main(["evaluate", "m.safetensors"])


@pytest.mark.parametrize("where", ["start-up", "command"])
def test_interrupted_is_130_and_one_line(monkeypatch, capsys, where):
    def interrupt(*args):
        raise KeyboardInterrupt

    if where == "start-up":  # while the commands and NumPy are imported
        monkeypatch.setattr(cli, "build_parser", interrupt)
    else:
        from deltanet.cli import evaluate

        monkeypatch.setattr(evaluate, "run", interrupt)
    assert main(["evaluate", "m.safetensors"]) == 130
    err = capsys.readouterr().err
    assert err.strip() in ("deltanet: interrupted", "deltanet evaluate: interrupted")


def test_the_package_import_the_console_script_does_is_light():
    # the entry point imports deltanet.cli before main() can catch a ^C: nothing heavy
    code = (
        "import sys, deltanet.cli; print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_closed_pipe_ends_the_command_quietly(trained, tmp_path):
    # far more output than a pipe holds, read by a reader that stops after one line
    np.save(tmp_path / "many.npy", np.zeros((5000, 784), np.float32))
    command = (
        f"{sys.executable} -m deltanet.cli predict {trained}/model.safetensors "
        f"{tmp_path}/many.npy | head -n 1"
    )
    result = subprocess.run(
        ["bash", "-c", f"{command}; echo status ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path}/many.npy[0]: ")
    assert lines[-1] == "status 141"
