import argparse
import os

import numpy as np
import pytest

from deltanet.constraints import (
    FRACTION,
    POSITIVE,
    AbsolutePath,
    DType,
    Flag,
    Integer,
    Layers,
    Maybe,
    Options,
    Real,
    check_all,
)
from deltanet.errors import ConfigError


@pytest.mark.parametrize("value", [0, -3, True, 2.0, "3", None])
def test_integer_refuses_what_is_not_a_whole_number_at_least_low(value):
    with pytest.raises(ConfigError, match=r"epochs must be at least 1, got"):
        Integer(1).check("epochs", value)


def test_integer_accepts_numpy_integers_as_int():
    value = Integer(0).check("seed", np.int64(7))
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "1"])
def test_positive_refuses(value):
    with pytest.raises(ConfigError, match="lr must be a positive number"):
        POSITIVE.check("lr", value)


def test_interval_ends():
    assert FRACTION.check("rho", 0) == 0.0
    with pytest.raises(ConfigError, match=r"rho must be in \[0, 1\), got 1"):
        FRACTION.check("rho", 1)
    half_open = Real(0, 1, low_open=True)
    assert half_open.check("d", 1) == 1.0
    with pytest.raises(ConfigError, match=r"d must be in \(0, 1\]"):
        half_open.check("d", 0)


def test_options_is_a_live_view_of_its_registry():
    registry = {"a": 1}
    rule = Options(registry, "thing", none=True)
    assert rule.check("t", None) is None and rule.choices == ["a"]
    with pytest.raises(ConfigError, match="unknown thing 'b'; choose one of: a"):
        rule.check("t", "b")
    registry["b"] = 2
    assert rule.check("t", "b") == "b" and rule.choices == ["a", "b"]


@pytest.mark.parametrize(
    "value", ["123", (784,), (784, 30.7, 10), (784, True, 10), (784, 0, 10), 5]
)
def test_layers_refuses(value):
    with pytest.raises(ConfigError, match="layers must be at least two positive"):
        Layers().check("layers", value)


def test_layers_from_python_and_from_the_command_line():
    assert Layers().check("layers", [784, np.int32(30), 10]) == (784, 30, 10)
    assert Layers().parse("784,300,10") == (784, 300, 10)
    for text, message in (("784,x", "comma-separated"), ("784", "at least two positive")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            Layers().parse(text)


def test_parse_words_a_refusal_like_check():
    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive number, got -1"):
        POSITIVE.parse("-1")
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not a number"):
        POSITIVE.parse("x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"'2\.5' is not a whole number"):
        Integer(0).parse("2.5")
    assert Integer(0).parse("12") == 12


def test_dtype_flag_maybe_and_path(tmp_path, monkeypatch):
    rule = DType(("float32", "float64"))
    assert rule.check("dtype", np.float32) == "float32" and rule.check("dtype", "float64")
    for bad in ("float16", None, True, object()):
        with pytest.raises(ConfigError, match="dtype must be 'float32' or 'float64'"):
            rule.check("dtype", bad)
    assert Flag().check("nesterov", True) is True
    with pytest.raises(ConfigError):
        Flag().check("nesterov", 1)
    assert Maybe(Integer(0)).check("seed", None) is None
    monkeypatch.chdir(tmp_path)
    assert AbsolutePath().check("data", "d") == os.path.join(tmp_path, "d")
    assert AbsolutePath().parse("d") == os.path.join(tmp_path, "d")


def test_check_all_names_the_setting_at_fault():
    table = {"a": Integer(1), "b": POSITIVE}
    assert check_all(table, {"a": 2, "b": 1}) == {"a": 2, "b": 1.0}
    with pytest.raises(ConfigError, match="b must be"):
        check_all(table, {"a": 2, "b": 0})


def test_text_choice_and_size():
    from deltanet.constraints import Choice, Size, Text

    assert Text().check("target", "y") == "y"
    with pytest.raises(ConfigError, match="target must be a non-empty text"):
        Text().check("target", "")
    assert Choice((1, 3)).check("channels", np.int64(3)) == 3
    with pytest.raises(ConfigError, match="channels must be one of 1, 3, got 2"):
        Choice((1, 3)).check("channels", 2)
    assert Size().parse("32x24") == (24, 32) and Size().parse("8") == (8, 8)
    assert Size().check("image_size", [24, 32]) == (24, 32)
    for bad in ("0", "8x8x8", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            Size().parse(bad)
    assert Maybe(Size()).parse("28") == (28, 28)  # Maybe parses with its rule
