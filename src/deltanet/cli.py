"""The ``deltanet`` command line.

Every user mistake (an unknown option value, a bad file, data of the wrong shape)
ends as one line on stderr and exit status 2; a failed gradient check exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from deltanet.activations import ACTIVATIONS
from deltanet.losses import LOSSES

EXIT_USAGE = 2


class UsageError(ValueError):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


# ---------------------------------------------------------------------- argument types


def layers_arg(text: str) -> list[int]:
    try:
        layers = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of widths such as 784,300,10"
        ) from None
    if len(layers) < 2 or min(layers) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: need at least two positive widths")
    return layers


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def add_network_args(p: argparse.ArgumentParser, layers: str = "784,300,10") -> None:
    g = p.add_argument_group("network")
    g.add_argument(
        "--layers",
        type=layers_arg,
        default=layers_arg(layers),
        metavar="D0,D1,...,K",
        help=f"layer widths, input first (default {layers})",
    )
    g.add_argument(
        "--hidden", choices=sorted(ACTIVATIONS), default="sigmoid", help="hidden activation"
    )
    g.add_argument(
        "--loss",
        choices=LOSSES,
        default="cross_entropy",
        help="loss; cross_entropy uses softmax outputs",
    )
    g.add_argument(
        "--output",
        default=None,
        choices=["softmax", *sorted(ACTIVATIONS)],
        help="output non-linearity (default: the loss's own: softmax, sigmoid, sigmoid)",
    )
    g.add_argument(
        "--l2",
        type=nonnegative_float,
        default=0.0,
        help="λ of the weight penalty (λ/2)·Σ‖W‖² (biases are not penalised)",
    )
    g.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="floating-point type of the network",
    )
    g.add_argument("--seed", type=int, default=0, help="seed for initialization and sampling")


# ---------------------------------------------------------------------- gradcheck


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from deltanet.datasets import load_mnist
    from deltanet.network import MLP

    net = MLP(
        args.layers,
        hidden=args.hidden,
        loss=args.loss,
        output=args.output,
        l2=args.l2,
        dtype=args.dtype,
        seed=args.seed,
    )
    data = load_mnist(args.data_dir)
    if data.X_train.shape[1] != args.layers[0]:
        raise UsageError(
            f"--layers starts with {args.layers[0]} but the images have {data.X_train.shape[1]} "
            "pixels"
        )
    if data.y_train.max() >= args.layers[-1]:
        raise UsageError(
            f"--layers ends with {args.layers[-1]} but the labels go up to {data.y_train.max()}"
        )
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(data.X_train), size=min(args.samples, len(data.X_train)), replace=False)
    print(f"checking {net} on {len(pick)} training images, in float64")
    report = net.gradcheck(
        data.X_train[pick],
        data.y_train[pick],
        eps=args.eps,
        rtol=args.rtol,
        max_coords=args.max_coords,
        seed=args.seed,
    )
    print(report)
    if getattr(args, "plot", None):
        from deltanet.plots import plot_gradcheck, save_figure

        save_figure(plot_gradcheck(report), args.plot)
        print(f"wrote {args.plot}")
    return 0 if report.ok else 1


def _gradcheck_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check a network's backward pass against finite differences",
        formatter_class=_Formatter,
        description=(
            "Build a network, take a few MNIST training images, and compare its analytic\n"
            "gradient with central differences in float64, block by block (W1, b1, W2, ...).\n"
            "Prints one row per block with the worst coordinate; exits 0 if every block\n"
            "passes and 1 if one fails.\n\n"
            "example:\n"
            "  deltanet gradcheck --layers 784,30,10 --hidden sigmoid --loss squared_error \\\n"
            "      --l2 0.001 --samples 20 --dtype float64"
        ),
    )
    add_network_args(p, layers="784,30,10")
    g = p.add_argument_group("check")
    g.add_argument("--samples", type=positive_int, default=20, help="training images in the batch")
    g.add_argument("--eps", type=positive_float, default=1e-6, help="finite-difference step")
    g.add_argument(
        "--rtol", type=positive_float, default=1e-6, help="largest relative error that passes"
    )
    g.add_argument(
        "--max-coords",
        type=positive_int,
        default=None,
        help="coordinates sampled per block (default: all up to 30,000 parameters)",
    )
    g.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder with the four MNIST-format IDX files (default: the embedded MNIST)",
    )
    p.set_defaults(func=cmd_gradcheck)


# ---------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deltanet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "deltanet: fully connected networks on MNIST in NumPy, with gradients you can trust.\n\n"
            "Start with:\n"
            "  deltanet gradcheck        verify the backward pass of a network\n"
            "Each command has its own --help."
        ),
    )
    from deltanet import __version__

    parser.add_argument("--version", action="version", version=f"deltanet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _gradcheck_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:  # user mistakes: bad values, bad or missing files
        print(f"deltanet {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ndeltanet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
