import argparse

import numpy as np
import pytest

from deltanet.cli import _args
from deltanet.datasets import MNIST
from deltanet.errors import ConfigError, DataError


def parser():
    p = _args.Parser(prog="deltanet test")
    _args.add_network_args(p)
    _args.add_optimizer_args(p)
    _args.add_data_dir(p, argparse.SUPPRESS)
    return p


def test_only_the_flags_given_are_settings_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = parser().parse_args(["--lr", "0.01", "--layers", "784,20,10", "--data-dir", "d"])
    given = _args.settings_given(args)
    assert given == {"layers": (784, 20, 10), "lr": 0.01, "data": str(tmp_path / "d")}


def test_argument_types_come_from_the_settings_rules(capsys):
    for argv, message in [
        (["--lr", "0"], "argument --lr: must be a positive number, got 0"),
        (["--rho", "1"], "argument --rho: must be in [0, 1), got 1"),
        (["--hidden", "swish"], "invalid choice: 'swish'"),
        (["--seed", "1.5"], "'1.5' is not a whole number"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            parser().parse_args(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and len(err.splitlines()) == 1


def test_help_shows_the_configs_defaults():
    text = " ".join(parser().format_help().split())  # as if on one line
    assert "(default: 784,300,10)" in text and "(default: rmsprop)" in text
    assert "(default: None)" not in text


def test_flag_names():
    assert _args.flag("batch_size") == "--batch-size" and _args.flag("data") == "--data-dir"


def data(pixels=784, labels=(0, 9)):
    X = np.zeros((2, pixels), np.float32)
    return MNIST(X, np.array(labels), X, np.array(labels))


def test_check_fits():
    _args.check_fits((784, 30, 10), data(), "--layers")
    _args.check_fits((784, 30, 12), data(), "--layers")  # more outputs than classes: allowed
    with pytest.raises(DataError, match="--layers gives 12 outputs but the data has 10 classes"):
        _args.check_fits((784, 30, 12), data(), "--layers", exact=True)
    with pytest.raises(DataError, match=r"the data has 10 classes \(labels 0\.\.9\)"):
        _args.check_fits((784, 8), data(), "--layers")
    with pytest.raises(ConfigError, match="the model takes 784 inputs but the images have 100"):
        _args.check_fits((784, 10), data(100), "the model")


def test_plural():
    assert _args.plural(1, "epoch") == "1 epoch" and _args.plural(2, "epoch") == "2 epochs"
    assert _args.plural(60000, "image") == "60,000 images"
