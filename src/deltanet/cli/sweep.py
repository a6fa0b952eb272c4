"""``deltanet sweep``: a hyper-parameter search on Optuna, from one process to many
machines sharing one PostgreSQL; ``deltanet sweep --best NAME`` prints the winner."""

from __future__ import annotations

import argparse
import shlex
import socket
import sys

from deltanet.cli import _args
from deltanet.config import CONSTRAINTS
from deltanet.constraints import Integer
from deltanet.errors import ConfigError

DESCRIPTION = """\
Search for good settings: train many short runs (trials) and keep the one with the
lowest validation error. Optuna's TPE sampler chooses each trial's settings from the
search space; a pruner stops a trial whose validation error, epoch after epoch, falls
behind the others'. The test set is never looked at: `deltanet evaluate` gives the
final number of the trial you choose.

Every trial is a run directory like `deltanet train`'s (runs/NAME/trial-0007, ...;
--out DIR puts them elsewhere), and the study (every trial's settings and results)
lives in a database, by default sqlite:///runs/sweeps.db. When the study holds --trials finished trials,
the sweep prints the best ones and how much each setting mattered (fANOVA), and writes
sweep.html with Optuna's plots beside the trials.

The default search space ({n} settings, each trial {epochs} epochs unless --epochs):
{space}
A TOML file given with --space changes it, one line per setting; the others keep
their default. Any setting of `deltanet train` can be fixed or searched:
  lr = {{ low = 1e-4, high = 0.1, log = true }}   # a range
  hidden = ["relu", "tanh"]                     # a choice
  dropout = 0.2                                 # fixed
  val_size = 5000                               # validate on fewer images

Many processes, many machines: run the same command again, in another terminal or on
another machine. Every worker runs trials of the same study until it has --trials
between them. A local SQLite database serves the processes of one machine; for
several machines, give them all one PostgreSQL database:
  deltanet sweep --study mnist --trials 200 \\
      --storage postgresql+psycopg://sweeper@dbhost/sweeps
A worker that dies (kill -9, a lost machine) stops sending heartbeats: after three
missed ones (--heartbeat) another worker marks its trial failed and runs it again,
resuming its last checkpoint when it can see the trial's run directory. ^C stops a
worker once the epoch in progress is checkpointed, and queues its trial to be resumed;
a second ^C stops it at once.

examples:
  deltanet sweep --study quick --trials 20 --epochs 3
  deltanet sweep --study mnist --trials 40 --space space.toml --threads 1 &
  deltanet sweep --study mnist --trials 40 --space space.toml --threads 1   # 2 workers
  deltanet sweep --best mnist            # the best trial's directory and flags"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from deltanet.space import DEFAULT, EPOCHS, PRUNERS

    description = DESCRIPTION.format(
        n=len(DEFAULT.dimensions), epochs=EPOCHS, space=DEFAULT.describe()
    )
    p = _args.add_command(
        sub,
        "sweep",
        help="search hyper-parameters with Optuna, on one machine or many",
        description=description,
    )
    g = p.add_argument_group("the study")
    g.add_argument("--study", metavar="NAME", help="the study's name; workers of one share it")
    g.add_argument(
        "--trials",
        type=_args.POSITIVE_INT.parse,
        metavar="N",
        help="finished trials the study should hold, between all its workers",
    )
    g.add_argument(
        "--storage",
        metavar="URL",
        default=None,
        help="the study database: a SQLAlchemy URL such as "
        "postgresql+psycopg://user@host/db (default: sqlite:///runs/sweeps.db)",
    )
    g.add_argument(
        "--best",
        metavar="NAME",
        default=None,
        help="print the best trial of study NAME: its run directory and its settings as "
        "deltanet train flags (nothing is trained)",
    )
    g = p.add_argument_group("the trials")
    g.add_argument("--space", metavar="FILE.toml", default=None, help="changes to the search space")
    g.add_argument(
        "--epochs", type=Integer(1).parse, default=EPOCHS, metavar="E", help="epochs of every trial"
    )
    g.add_argument(
        "--data",
        type=CONSTRAINTS["data"].parse,
        metavar="PATH",
        default=None,
        help=(
            "the data every trial trains and validates on, any source deltanet train "
            "--data reads (default: the embedded MNIST)"
        ),
    )
    g.add_argument(
        "--pruner",
        choices=PRUNERS,
        default="median",
        help="how hopeless trials are stopped early, on their validation error per epoch",
    )
    g.add_argument(
        "--timeout",
        type=_args.positive_float,
        metavar="S",
        default=None,
        help="start no trial after S seconds",
    )
    g.add_argument(
        "--out", metavar="DIR", default=None, help="where trials go (default: runs/NAME)"
    )
    g = p.add_argument_group("this worker")
    g.add_argument(
        "--seed",
        type=Integer(0).parse,
        default=None,
        help="seed the sampler, for a repeatable sweep with one worker (workers with the "
        "same seed repeat each other's draws)",
    )
    _args.add_threads(g)
    g.add_argument(
        "--heartbeat",
        type=_args.POSITIVE_INT.parse,
        metavar="S",
        default=10,
        help="seconds between a running trial's signs of life; a trial silent for three is "
        "failed and retried",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar, one line per trial")
    g.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="leave out the importances, sweep.html and its plots (one worker of many "
        "may draw them)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.best is not None:
        return _best(args)
    if args.study is None or args.trials is None:
        raise ConfigError("give --study NAME and --trials N (or --best NAME)")
    from deltanet.sweep import sweep

    log = (lambda line: print(line, flush=True)) if args.quiet else None
    result = sweep(
        args.study,
        args.trials,
        storage=args.storage,
        space=args.space,
        epochs=args.epochs,
        data=args.data,
        pruner=args.pruner,
        timeout=args.timeout,
        out=args.out,
        seed=args.seed,
        threads=args.threads,
        heartbeat=args.heartbeat,
        report=args.report,
        progress=not args.quiet,
        log=log,
    )
    print(result.table())
    if result.report:
        print(f"\nreport: {result.report[-1]}  ({result.seconds:.0f} s)")
    if result.best is not None:
        print(f"the best trial's flags: deltanet sweep --best {args.study}", end="")
        print(f" --storage {shlex.quote(args.storage)}" if args.storage else "")
    return 0


def _best(args: argparse.Namespace) -> int:
    given = [f"--{n}" for n in ("study", "trials", "space", "data", "out") if getattr(args, n)]
    if given:
        raise ConfigError(f"--best NAME only reads the study: {', '.join(given)} cannot be given")
    from deltanet.sweep import best

    found = best(args.best, args.storage)
    print(f"trial {found.number} of study {args.best}: validation error {100 * found.value:.2f}%")
    print(f"run directory: {found.run_dir}")
    if found.host and found.host != socket.gethostname():
        print(f"(the run directory is on {found.host})", file=sys.stderr)
    argv = _args.as_flags(found.config)
    print(" ".join(["deltanet", "train", *map(shlex.quote, argv)]))
    return 0
