"""What a sweep searches: a :class:`SearchSpace` of settings, each a range, a choice or a
fixed value, and the :class:`~deltanet.config.TrainConfig` a trial's draws make.

The default space (:data:`DEFAULT`) searches the learning rate (log-uniform), the
optimizer, the depth and width of the hidden layers, the hidden activation, dropout, the
L2 penalty, the batch size and weight averaging.  A small TOML file changes it, one
entry per setting; entries replace the default's for that name and every other name
keeps its default::

    lr = { low = 1e-4, high = 0.1, log = true }   # a range (log-uniform)
    width = { low = 64, high = 1024, log = true } # whole numbers when both ends are
    hidden = ["relu", "tanh"]                     # a choice
    dropout = 0.2                                 # fixed: not searched
    val_size = 5000                               # any setting of a run may be fixed

``depth`` (hidden layers) and ``width`` (units in each) make ``layers`` with the data's
input and output widths; a fixed ``layers`` replaces both.  Ranges and choices are
checked against the settings' own rules (:data:`deltanet.config.CONSTRAINTS`), so a
space that could draw a setting a run refuses is refused when it is read, in one line.

This module needs no Optuna: :meth:`SearchSpace.suggest` takes any object with Optuna's
``suggest_float`` / ``suggest_int`` / ``suggest_categorical``.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deltanet.config import CONSTRAINTS, TrainConfig
from deltanet.constraints import Integer
from deltanet.errors import ConfigError

# epochs of a trial unless told otherwise: short runs rank settings, the winner is then
# trained for longer with `deltanet train`
EPOCHS = 5
# how a trial can be cut short on its validation error per epoch (deltanet.sweep)
PRUNERS = ("median", "hyperband", "none")
# the names a space may hold beside the settings of a run: they make `layers`
SHAPE = {"depth": Integer(1), "width": Integer(1)}
# given on the command line, where a relative path means the same as everywhere else
NOT_IN_SPACE = ("data",)


class Trial(Protocol):
    """What :meth:`SearchSpace.suggest` asks of an ``optuna.Trial``."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any: ...


@dataclass(frozen=True)
class Range:
    """``low`` to ``high`` (both included), uniform or log-uniform; whole numbers for a
    setting that takes them (``integer``)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def suggest(self, trial: Trial, name: str) -> Any:
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)

    def to_data(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice:
    """One of ``choices``."""

    choices: tuple[Any, ...]

    def suggest(self, trial: Trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))

    def to_data(self) -> list[Any]:
        return list(self.choices)


Dimension = Range | Choice

DEFAULT_DIMENSIONS: dict[str, Dimension] = {
    "lr": Range(1e-4, 0.1, log=True),
    "optimizer": Choice(("sgd", "rmsprop", "adam")),
    "depth": Range(1, 3, integer=True),
    "width": Range(32, 1024, log=True, integer=True),
    "hidden": Choice(("sigmoid", "tanh", "relu")),
    "dropout": Range(0.0, 0.5),
    "l2": Range(1e-7, 1e-3, log=True),
    "batch_size": Choice((32, 64, 128, 256)),
    "average": Choice((0.0, 0.99, 0.999)),
}


@dataclass(frozen=True)
class SearchSpace:
    """Settings to search (``dimensions``) and settings to fix (``fixed``); the rest
    take :class:`~deltanet.config.TrainConfig`'s defaults."""

    dimensions: dict[str, Dimension]
    fixed: dict[str, Any]

    def __post_init__(self) -> None:
        for name in (*self.dimensions, *self.fixed):
            _rule(name)
        both = sorted(set(self.dimensions) & set(self.fixed))
        if both:
            raise ConfigError(f"{', '.join(both)}: both searched and fixed")
        if "layers" in self.dimensions:
            raise ConfigError("layers cannot be searched: search depth and width instead")
        for name, dim in self.dimensions.items():
            _check_dimension(name, dim)
        for name, value in self.fixed.items():
            _rule(name).check(name, value)

    # ------------------------------------------------------------------ making one
    def updated(self, entries: dict[str, Any]) -> SearchSpace:
        """This space with ``entries`` (a TOML file's table) replacing its own names."""
        dims, fixed = dict(self.dimensions), dict(self.fixed)
        if "layers" in entries:  # a fixed architecture: depth and width have no say
            for name in SHAPE:
                dims.pop(name, None)
        for name, entry in entries.items():
            dims.pop(name, None)
            fixed.pop(name, None)
            dim = _dimension(name, entry)
            if dim is None:
                fixed[name] = entry
            else:
                dims[name] = dim
        if any(name in SHAPE for name in entries) and "layers" in fixed:
            raise ConfigError("give either layers or depth and width, not both")
        return SearchSpace(dims, fixed)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> SearchSpace:
        """:data:`DEFAULT`, changed by the TOML file at ``path`` if one is given."""
        if path is None:
            return DEFAULT
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10 takes tomli (the sweep extra installs it)
            import tomli as tomllib
        try:
            entries = tomllib.loads(Path(path).read_text())
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise ConfigError(f"{path}: cannot read the search space ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
        try:
            return DEFAULT.updated(entries)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def with_fixed(self, **values: Any) -> SearchSpace:
        """This space with ``values`` fixed (``epochs`` from the command line, ...)."""
        return self.updated(values)

    # ------------------------------------------------------------------ using one
    def suggest(self, trial: Trial, inputs: int, outputs: int) -> TrainConfig:
        """The config of ``trial``'s draws for data of ``inputs`` features and
        ``outputs`` classes."""
        values = dict(self.fixed)
        for name, dim in self.dimensions.items():
            values[name] = dim.suggest(trial, name)
        return self.config(values, inputs, outputs)

    def config(self, values: dict[str, Any], inputs: int, outputs: int) -> TrainConfig:
        """The config ``values`` (fixed and drawn) make, ``depth`` and ``width`` made
        into ``layers``."""
        values = dict(values)
        depth, width = values.pop("depth", 1), values.pop("width", None)
        if "layers" not in values:
            hidden = [] if width is None else [width] * depth
            values["layers"] = (inputs, *hidden, outputs)
        return TrainConfig(**values)

    def to_data(self) -> dict[str, Any]:
        """JSON-able, in the TOML file's form: what a study records of its space."""
        data = {name: dim.to_data() for name, dim in self.dimensions.items()}
        data.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.fixed.items()})
        return dict(sorted(data.items()))

    def describe(self) -> str:
        """One line per name: its range, choice or value."""
        lines = []
        for name, data in self.to_data().items():
            dim = self.dimensions.get(name)
            if isinstance(dim, Range):
                scale = "log-uniform" if dim.log else "uniform"
                kind = "integers" if dim.integer else scale
                text = f"{dim.low:g} .. {dim.high:g} ({kind}{', log' if dim.integer and dim.log else ''})"
            elif isinstance(dim, Choice):
                text = "one of " + ", ".join(map(str, dim.choices))
            else:
                text = f"= {data}"
            lines.append(f"  {name:<12} {text}")
        return "\n".join(lines)


def _rule(name: str) -> Any:
    """The rule of what ``name`` may be, or a ConfigError if a space cannot hold it."""
    if name in NOT_IN_SPACE:
        raise ConfigError(f"{name} is not part of a search space: give it with --{name}")
    if name not in CONSTRAINTS and name not in SHAPE:
        raise ConfigError(
            f"{name!r} is not a setting of a run (nor depth or width); the settings "
            f"are: {', '.join(CONSTRAINTS)}"
        )
    return SHAPE.get(name) or CONSTRAINTS[name]


def _dimension(name: str, entry: Any) -> Dimension | None:
    """A TOML entry as a range or a choice; None for a fixed value."""
    if isinstance(entry, list) and name != "layers":
        if not entry:
            raise ConfigError(f"{name}: a choice needs at least one value")
        return Choice(tuple(entry))
    if not isinstance(entry, dict):
        return None
    unknown = sorted(set(entry) - {"low", "high", "log"})
    if unknown or not {"low", "high"} <= set(entry):
        raise ConfigError(
            f"{name}: a range is {{ low = ..., high = ..., log = true|false }}, got {entry}"
        )
    integer = isinstance(_rule(name), Integer)
    return Range(entry["low"], entry["high"], entry.get("log", False), integer)


def _check_dimension(name: str, dim: Dimension) -> None:
    rule = _rule(name)
    if isinstance(dim, Choice):
        for value in dim.choices:
            rule.check(name, value)
        return
    if dim.integer and not all(isinstance(end, int) for end in (dim.low, dim.high)):
        raise ConfigError(f"{name} takes whole numbers: give low and high as integers")
    for end in (dim.low, dim.high):
        rule.check(name, end)
    if not isinstance(dim.log, bool):
        raise ConfigError(f"{name}: log must be true or false, got {dim.log!r}")
    if not dim.low < dim.high:
        raise ConfigError(f"{name}: low {dim.low} must be below high {dim.high}")
    if dim.log and not (dim.low > 0 and math.isfinite(dim.high)):
        raise ConfigError(f"{name}: a log range needs low > 0, got {dim.low}")


DEFAULT = SearchSpace(DEFAULT_DIMENSIONS, {})
