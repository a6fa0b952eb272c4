"""The ``deltanet`` command line: one module per command, shared arguments in ``_args``.

A user's mistake (a value not allowed, a missing or bad file, data that does not fit)
is a :class:`~deltanet.errors.UserError`: one line on stderr and exit status 2.
Anything else is a bug and keeps its traceback.  A failed gradient check, or a
training run that diverged, exits 1; ^C exits 130 with one line; a closed pipe
(``deltanet evaluate ... | head``) ends the command quietly.

This module imports nothing heavy, so even ^C during start-up is caught: the commands
and NumPy are imported inside :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE

DESCRIPTION = """\
deltanet: fully connected networks on MNIST in NumPy, with gradients you can trust.

Start with:
  deltanet train            train 784-300-10 on MNIST (about half a minute)
  deltanet train --data F   ... or on your own CSV, Parquet, .npz or picture folder
  deltanet gradcheck        verify the backward pass of a network
  deltanet evaluate MODEL   test error, per-class accuracy, confusion matrix
  deltanet predict MODEL F  classify your own digit pictures
  deltanet reproduce        the 7%-error experiment, done wrong and right
  deltanet bench            seconds per epoch on this machine, against its bound
  deltanet report RUN_DIR   pictures of a run and a one-file HTML report
  deltanet sweep            search hyper-parameters with Optuna, on one machine or many
  deltanet export MODEL     write a model as an ONNX file
  deltanet serve MODEL      a draw-a-digit page and a JSON API for a model
Each command has its own --help."""


def build_parser() -> argparse.ArgumentParser:
    """The ``deltanet`` parser with every command's subparser."""
    from deltanet import __version__
    from deltanet.cli import (
        _args,
        bench,
        evaluate,
        export,
        gradcheck,
        predict,
        report,
        reproduce,
        serve,
        sweep,
        train,
    )

    parser = _args.Parser(
        prog="deltanet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DESCRIPTION,
    )
    parser.add_argument("--version", action="version", version=f"deltanet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_args.Parser)
    commands = (train, evaluate, predict, gradcheck, reproduce, bench, report, sweep)
    for command in (*commands, export, serve):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deltanet`` command ``argv`` (default: ``sys.argv[1:]``); its exit status."""
    prog = "deltanet"
    try:
        from deltanet.errors import UserError

        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        prog = f"deltanet {args.command}"
        try:
            status = args.func(args)
        except UserError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # whoever read our output has gone: say nothing, and keep Python's exit-time
        # flush of stdout from complaining about it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


__all__ = ["build_parser", "main"]
