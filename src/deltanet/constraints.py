"""Rules for settings, declared once per setting and used wherever it can be given.

A module that owns settings declares them in a ``CONSTRAINTS`` table, name -> rule, as
scikit-learn estimators declare ``_parameter_constraints``: :mod:`deltanet.network` the
architecture, :mod:`deltanet.optimizers` the optimizer's, :mod:`deltanet.augment` the
augmentation's and :mod:`deltanet.config` the rest of a run's.  One rule serves three
callers: :meth:`Rule.check` validates a value given from Python (a
:class:`~deltanet.errors.ConfigError` naming the setting), :meth:`Rule.parse` reads one
from the command line (argparse's ``type=``), and :attr:`Rule.describe` words both
messages the same way.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
from collections.abc import Collection, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

from deltanet.errors import ConfigError


class Rule:
    """What one setting accepts.  Subclasses define :meth:`accepts` and :meth:`convert`."""

    describe = "valid"  # completes "must be ..."

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def normalize(self, value: Any) -> Any:
        """The accepted ``value`` in its canonical form (e.g. a tuple, a float)."""
        return value

    def convert(self, text: str) -> Any:
        """``text`` from the command line as a value (not yet checked)."""
        return text

    def check(self, name: str, value: Any) -> Any:
        """``value`` normalized, or a :class:`ConfigError` saying what ``name`` must be."""
        if not self.accepts(value):
            raise ConfigError(f"{name} must be {self.describe}, got {value!r}")
        return self.normalize(value)

    def parse(self, text: str) -> Any:
        """An argparse ``type=``: ``text`` converted and checked."""
        value = self.convert(text)
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe}, got {text}")
        return self.normalize(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _Number(Rule):
    """A number of type :attr:`kind`, from Python or from text."""

    kind: type = float
    noun = "number"

    def normalize(self, value: Any) -> Any:
        return self.kind(value)

    def convert(self, text: str) -> Any:
        try:
            return self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {self.noun}") from None


class Integer(_Number):
    """A whole number ``>= low`` (``True`` is not a number here)."""

    kind, noun = int, "whole number"

    def __init__(self, low: int):
        self.low = low
        self.describe = {0: "0 or more", 1: "at least 1"}.get(low, f"a whole number >= {low}")

    def accepts(self, value: Any) -> bool:
        return _is_integer(value) and value >= self.low


class Real(_Number):
    """A finite number in an interval; each end may be open, closed or absent."""

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
        describe: str | None = None,
    ):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        if describe is None:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            describe = f"in {left}{low}, {high}{right}"
        self.describe = describe

    def accepts(self, value: Any) -> bool:
        if not _is_real(value) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)


POSITIVE = Real(0, low_open=True, describe="a positive number")
NONNEGATIVE = Real(0, describe="a number >= 0")
FRACTION = Real(0, 1, high_open=True)  # a decay or momentum: [0, 1)
PROBABILITY = Real(0, 1, high_open=True, describe="a probability in [0, 1)")


class Options(Rule):
    """One of a set of names (a live view: entries added to a registry count)."""

    def __init__(self, values: Collection[str], noun: str, none: bool = False):
        self.values, self.noun, self.none = values, noun, none

    @property
    def choices(self) -> list[str]:
        return list(self.values)

    @property
    def describe(self) -> str:  # type: ignore[override]
        return "one of: " + ", ".join(self.values) + (" or None" if self.none else "")

    def accepts(self, value: Any) -> bool:
        return (value is None and self.none) or (isinstance(value, str) and value in self.values)

    def check(self, name: str, value: Any) -> Any:
        if not self.accepts(value):
            raise ConfigError(
                f"unknown {self.noun} {value!r}; choose one of: {', '.join(self.values)}"
            )
        return value


class DType(Rule):
    """A floating-point type among ``names``, given by name or as a NumPy dtype; kept as
    its name."""

    def __init__(self, names: Collection[str]):
        self.names = names
        self.describe = " or ".join(repr(n) for n in names)

    @property
    def choices(self) -> list[str]:
        return list(self.names)

    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, bool):  # np.dtype(None) is float64
            return False
        try:
            return np.dtype(value).name in self.names
        except TypeError:
            return False

    def normalize(self, value: Any) -> str:
        return np.dtype(value).name


class Maybe(Rule):
    """None, or what ``rule`` accepts."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.describe = f"None or {rule.describe}"

    def accepts(self, value: Any) -> bool:
        return value is None or self.rule.accepts(value)

    def normalize(self, value: Any) -> Any:
        return None if value is None else self.rule.normalize(value)

    def parse(self, text: str) -> Any:
        """From the command line, a value of ``rule`` (None is never typed)."""
        return self.rule.parse(text)


class Flag(Rule):
    """True or False."""

    describe = "True or False"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Layers(Rule):
    """Layer widths ``D_0, ..., D_L``: at least two whole numbers, each at least 1."""

    describe = "at least two positive whole-number widths such as (784, 300, 10)"

    def accepts(self, value: Any) -> bool:
        # a sequence: a string, a set or a mapping (whose keys would be taken) is none
        if isinstance(value, str | bytes | Mapping | AbstractSet) or not hasattr(value, "__len__"):
            return False
        return len(value) >= 2 and all(_is_integer(d) and d >= 1 for d in value)

    def normalize(self, value: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in value)

    def convert(self, text: str) -> list[int]:
        try:
            return [int(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of widths such as 784,300,10"
            ) from None

    def parse(self, text: str) -> tuple[int, ...]:
        value = self.convert(text)
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"{text!r}: need at least two positive widths")
        return self.normalize(value)


class AbsolutePath(Rule):
    """A path, kept absolute (so it means the same from any folder), or None."""

    describe = "a path or None"

    def accepts(self, value: Any) -> bool:
        return value is None or (isinstance(value, str | os.PathLike) and str(value) != "")

    def normalize(self, value: Any) -> str | None:
        return None if value is None else os.path.abspath(os.path.expanduser(value))


class Text(Rule):
    """A non-empty string (a column's name, for example)."""

    describe = "a non-empty text"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""


class Choice(Rule):
    """One of a few whole numbers (``--channels 1|3``)."""

    def __init__(self, values: Collection[int]):
        self.values = tuple(values)
        self.describe = "one of " + ", ".join(map(str, self.values))

    def accepts(self, value: Any) -> bool:
        return _is_integer(value) and value in self.values

    def normalize(self, value: Any) -> int:
        return int(value)

    def convert(self, text: str) -> Any:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


class Size(Rule):
    """A picture's ``(height, width)`` in pixels, each 1..MAX_SIDE; from the command
    line ``8`` (square) or ``32x24`` (width × height, as image sizes are written)."""

    MAX_SIDE = 4096  # an MLP's input is every pixel: 4096² of them is far past useful

    describe = f"a size such as 28 or 32x24 (width x height), each side 1..{MAX_SIDE}"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
            return False
        return all(_is_integer(d) and 1 <= d <= self.MAX_SIDE for d in value)

    def normalize(self, value: Any) -> tuple[int, int]:
        return (int(value[0]), int(value[1]))

    def convert(self, text: str) -> Any:
        parts = text.lower().replace("×", "x").split("x")
        try:
            sides = [int(part) for part in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a size such as 28 or 32x24"
            ) from None
        if len(sides) == 1:
            return (sides[0], sides[0])
        return (sides[1], sides[0]) if len(sides) == 2 else sides  # (height, width)


def check_all(table: Mapping[str, Rule], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every entry of ``values`` checked against its rule in ``table``; normalized."""
    return {name: table[name].check(name, value) for name, value in values.items()}
