import pytest

from deltanet.cli import _args


def parser():
    p = _args.Parser(prog="deltanet test")
    _args.add_network_args(p)
    _args.add_optimizer_args(p)
    _args.add_data(p)
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
    assert _args.flag("batch_size") == "--batch-size" and _args.flag("data") == "--data"


def test_data_dir_is_an_alias_of_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for flag in ("--data", "--data-dir"):
        args = parser().parse_args([flag, "d"])
        assert _args.settings_given(args) == {"data": str(tmp_path / "d")}


def test_the_data_options_are_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--data", "t.csv", "--target", "kind", "--test", "u.csv", "--test-size", "0.3"]
    argv += ["--channels", "3", "--image-size", "32x24", "--no-standardize"]
    given = _args.settings_given(parser().parse_args(argv), _args.DATA_OPTIONS)
    assert given == {
        "data": str(tmp_path / "t.csv"),
        "target": "kind",
        "test": str(tmp_path / "u.csv"),
        "test_size": 0.3,
        "channels": 3,
        "image_size": (24, 32),
        "standardize": False,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--channels", "2"], "must be one of 1, 3, got 2"),
        (["--image-size", "0"], "a size such as 28 or 32x24"),
        (["--image-size", "ax3"], "is not a size such as 28 or 32x24"),
        (["--test-size", "1"], "must be in (0, 1), got 1"),
        (["--target", ""], "must be a non-empty text"),
    ],
)
def test_bad_data_options_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.splitlines()) == 1


def test_plural():
    assert _args.plural(1, "epoch") == "1 epoch" and _args.plural(2, "epoch") == "2 epochs"
    assert _args.plural(60000, "image") == "60,000 images"


@pytest.mark.parametrize(
    "changes",
    [
        {"standardize": False, "image_size": (24, 32), "channels": 3, "target": "species"},
        {"standardize": True, "layers": (64, 16, 10), "lr": 0.0033972295025410434},
        {"nesterov": True, "optimizer": "sgd", "dropout": 0.42812354924116036},
    ],
)
def test_as_flags_read_back_as_the_same_config(tmp_path, changes):
    # what `deltanet sweep --best` prints must make the trial's config exactly: a flag
    # that reads back as something else (--standardize for False, H,W for WxH) would not
    from deltanet.cli import build_parser
    from deltanet.config import TrainConfig

    config = TrainConfig(data=str(tmp_path / "data.csv")).replace(**changes)
    args = build_parser().parse_args(["train", *_args.as_flags(config)])
    assert TrainConfig().replace(**_args.settings_given(args)) == config
