"""What the commands share: the parser, argument types derived from the settings' rules
(:data:`deltanet.config.CONSTRAINTS`), the network / optimizer / training / data flag
groups, and finding the model a user named."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltanet.config import CONSTRAINTS, TrainConfig
from deltanet.constraints import POSITIVE, Flag, Integer
from deltanet.errors import ModelFileError
from deltanet.presets import RULE as PRESET

if TYPE_CHECKING:
    from deltanet.model import Model

DEFAULTS = TrainConfig()
POSITIVE_INT = Integer(1)
NONNEGATIVE_INT = Integer(0)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage dump
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # a None default says nothing; the help text explains what happens instead
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def add_command(sub: argparse._SubParsersAction, name: str, **kwargs: Any) -> Parser:
    return sub.add_parser(name, formatter_class=Formatter, **kwargs)


# ---------------------------------------------------------------------- settings


def flag(name: str) -> str:
    """The command-line flag of the setting ``name`` (``batch_size``: ``--batch-size``)."""
    return "--" + name.replace("_", "-")


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_setting(
    group: argparse._ActionsContainer,
    name: str,
    help: str,
    default: Any = argparse.SUPPRESS,
    *aliases: str,
    **kwargs: Any,
) -> None:
    """The flag of the setting ``name``, typed by its rule.

    With the default ``SUPPRESS`` the flag is absent from the parsed arguments unless
    given, so a command can tell what was asked for (:func:`settings_given`); the help
    then shows :class:`~deltanet.config.TrainConfig`'s default.
    """
    rule = CONSTRAINTS[name]
    if isinstance(rule, Flag):
        kwargs["action"] = "store_true"
    elif hasattr(rule, "choices"):
        kwargs["choices"] = rule.choices
    else:
        kwargs["type"] = rule.parse
    shown = getattr(DEFAULTS, name)
    if default is argparse.SUPPRESS and shown is not None and not isinstance(shown, bool):
        help = f"{help} (default: {_shown(shown)})"
    group.add_argument(flag(name), *aliases, dest=name, default=default, help=help, **kwargs)


def settings_given(
    args: argparse.Namespace, names: Iterable[str] = tuple(CONSTRAINTS)
) -> dict[str, Any]:
    """The settings among ``names`` present in ``args``: those given on the command line
    (flags added with the ``SUPPRESS`` default), or every one with a default."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def add_layers(group: argparse._ActionsContainer, default: Any = argparse.SUPPRESS) -> None:
    add_setting(
        group,
        "layers",
        "layer widths, input first, comma-separated",
        default,
        metavar="D0,D1,...,K",
    )


def add_network_args(p: argparse.ArgumentParser, defaults: TrainConfig | None = None) -> None:
    """The network flags; ``defaults``: their values (None: given ones only)."""

    def default(name: str) -> Any:
        return argparse.SUPPRESS if defaults is None else getattr(defaults, name)

    g = p.add_argument_group("network")
    add_layers(g, default("layers"))
    add_setting(g, "hidden", "hidden activation", default("hidden"))
    add_setting(g, "loss", "loss; cross_entropy uses softmax outputs", default("loss"))
    add_setting(
        g,
        "output",
        "output non-linearity (default: the loss's own: softmax, sigmoid, sigmoid)",
        default("output"),
    )
    add_setting(
        g, "l2", "λ of the weight penalty (λ/2)·Σ‖W‖² (biases are not penalised)", default("l2")
    )
    add_setting(g, "dtype", "floating-point type of the network", default("dtype"))
    add_setting(g, "seed", "seed for initialization and sampling", default("seed"))


def add_optimizer_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("optimizer")
    add_setting(
        g, "optimizer", "rmsprop_gains is RMSprop with per-weight gains (Rprop-style ×1.3 / ×0.5)"
    )
    add_setting(g, "lr", "learning rate")
    add_setting(g, "schedule", "learning-rate schedule over the epochs")
    add_setting(g, "warmup", "epochs of linear learning-rate warm-up")
    add_setting(g, "momentum", "sgd momentum")
    add_setting(g, "nesterov", "sgd with Nesterov momentum")
    add_setting(g, "rho", "RMSprop decay of the mean square")
    add_setting(g, "eps", "added to √MS (RMSprop) or √v (Adam)")
    add_setting(g, "increment", "rmsprop_gains: gain factor when the gradient keeps its sign")
    add_setting(g, "decrement", "rmsprop_gains: gain factor when it flips")
    add_setting(g, "beta1", "Adam decay of the mean gradient")
    add_setting(g, "beta2", "Adam decay of the mean square")
    add_setting(
        g,
        "average",
        "evaluate and keep an exponential moving average of the weights (Polyak "
        "averaging) with this decay per step; 0 turns it off. 0.999 was chosen on the "
        "validation split (docs/accuracy.md)",
        metavar="DECAY",
    )


def add_training_args(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The flags of a run's training settings (and --preset); the group, for more."""
    g = p.add_argument_group("training")
    add_setting(
        g,
        "epochs",
        "passes over the data; without this flag, small data gets more, for 1,500 weight "
        "updates at least (at most ten times as many epochs)",
    )
    add_setting(g, "batch_size", "mini-batch size")
    add_setting(
        g,
        "val_size",
        "hold out the last N training rows for validation (0: train on all); without this "
        "flag, at most a sixth of the training rows",
    )
    g.add_argument(
        "--preset",
        choices=PRESET.choices,
        default=None,
        help="start from a named configuration (docs/best.md); flags override it",
    )
    add_setting(g, "dropout", "probability of dropping each hidden unit while training")
    add_setting(g, "input_dropout", "probability of dropping each input pixel while training")
    add_setting(g, "max_norm", "cap each unit's incoming weight vector at this L2 norm (0: off)")
    add_setting(
        g,
        "augment",
        "distort every mini-batch: affine (shift, rotate, scale, shear) or affine plus "
        "elastic warping",
    )
    add_setting(
        g,
        "early_stopping",
        "stop after PATIENCE epochs without a better validation error and restore the "
        "best weights (0: off)",
        metavar="PATIENCE",
    )
    return g


def add_data_dir(p: argparse._ActionsContainer) -> None:
    """``--data-dir DIR``, a folder of MNIST-format IDX files (absolute once parsed),
    for the commands that work on MNIST-style images only."""
    p.add_argument(
        "--data-dir",
        dest="data",
        type=CONSTRAINTS["data"].parse,
        default=None,
        metavar="DIR",
        help="folder with the four MNIST-format IDX files (default: the embedded MNIST)",
    )


DATA_HELP = """the data: a .csv, .tsv or .parquet table (one row per sample, the label in
--target), a .npz (X_train, y_train[, X_test, y_test]), a folder of pictures in
class folders (DIR/<class>/*.png, or DIR/train/<class>/ and DIR/test/<class>/), or a
folder of MNIST-format IDX files; docs/data.md shows each (default: {shown})"""

DATA_OPTIONS = ("data", "test", "target", "test_size", "channels", "image_size", "standardize")


def add_data(
    p: argparse.ArgumentParser, default: Any = argparse.SUPPRESS, shown: str = "the embedded MNIST"
) -> None:
    """The data flags: ``--data PATH`` (alias ``--data-dir``) and how to read it.  With
    the default ``SUPPRESS`` only the flags given are in the parsed arguments."""
    g = p.add_argument_group("data")
    add_setting(g, "data", DATA_HELP.format(shown=shown), default, "--data-dir", metavar="PATH")
    add_setting(
        g,
        "target",
        "a table's label column (default: its last column)",
        default,
        metavar="COLUMN",
    )
    add_setting(
        g,
        "test",
        "a table's test rows, in a file of their own (default: hold out --test-size)",
        default,
        metavar="PATH",
    )
    add_setting(
        g,
        "test_size",
        "fraction of each class held out for testing when the data has no test set",
        default,
        metavar="FRACTION",
    )
    add_setting(
        g,
        "channels",
        "pictures: 1 (grey) or 3 (RGB) (default: grey if every picture is)",
        default,
        metavar="1|3",
    )
    add_setting(
        g,
        "image_size",
        "pictures are resized to this, e.g. 28 or 32x24 (default: the size most have)",
        default,
        metavar="SIZE",
    )
    g.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        dest="standardize",
        default=default,
        help="shift and scale every input to mean 0, standard deviation 1 on the training "
        "rows, and keep that in the model file (default: tables and .npz files yes, "
        "pictures no)",
    )


def add_threads(p: argparse._ActionsContainer) -> None:
    p.add_argument(
        "--threads",
        type=POSITIVE_INT.parse,
        default=None,
        help="BLAS threads (default: the library's choice, usually every core)",
    )


def positive_float(text: str) -> float:
    return POSITIVE.parse(text)


# ---------------------------------------------------------------------- data


def add_model(p: argparse.ArgumentParser) -> None:
    """The positional MODEL (see :func:`model_path`)."""
    p.add_argument(
        "model", help="a model.safetensors written by deltanet train, or its run directory"
    )


def model_path(name: str) -> Path:
    """The model file a user named: a model file, or a run directory holding one; a
    checkpoint is refused with the model file to use instead."""
    from deltanet.rundir import RunDir

    path = Path(name)
    if path.is_dir():
        if not (path / RunDir.MODEL).is_file():
            raise ModelFileError(f"{path}: a folder without a {RunDir.MODEL} to use")
        path = path / RunDir.MODEL
    elif path.name == RunDir.CHECKPOINT:
        raise ModelFileError(
            f"{path}: a training checkpoint (the weights of its last step); the model to "
            f"use is {path.with_name(RunDir.MODEL)}"
        )
    return path


def run_config(folder: Path) -> TrainConfig:
    """The config of the run in ``folder`` if it is a run directory (a model's data is
    found again through it), else the defaults (the embedded MNIST)."""
    from deltanet.rundir import RunDir

    if (folder / RunDir.CONFIG).is_file():
        return RunDir.read(folder).config()
    return TrainConfig()


def load_model(name: str) -> Model:
    """The :class:`~deltanet.model.Model` in the file or run directory ``name``."""
    from deltanet.modelfile import load_model as load

    return load(model_path(name))


def plural(n: int, noun: str) -> str:
    """``"1 epoch"``, ``"2 epochs"``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def as_flags(config: TrainConfig) -> list[str]:
    """The ``deltanet train`` flags that make ``config``: one per setting that is not
    the default, each value written so that it reads back exactly."""
    argv: list[str] = []
    for name, value in config.to_dict().items():
        default = getattr(DEFAULTS, name)
        if isinstance(default, tuple):
            default = list(default)
        if value == default or value is None:
            continue
        if isinstance(value, bool):
            # store_true flags default to False; --standardize/--no-standardize to None
            argv.append(flag(name) if value else "--no-" + flag(name)[2:])
            continue
        if name == "image_size":  # (height, width), written as pictures' sizes are: WxH
            argv += [flag(name), f"{value[1]}x{value[0]}"]
            continue
        if isinstance(value, list):
            text = ",".join(map(str, value))
        else:  # a float's repr is the shortest text that reads back as the same float
            text = repr(value) if isinstance(value, float) else str(value)
        argv += [flag(name), text]
    return argv
