"""``deltanet reproduce``: the 7%-error experiment, with its bugs and without."""

from __future__ import annotations

import argparse
import time

from deltanet.cli import _args
from deltanet.datasets import load_mnist

DESCRIPTION = """\
A hand-written 784-300-10 sigmoid network with squared error and 'RMSprop with
increments 1.3 and decrements 0.5' got 6.9% and 5.7% test error (λ = 0.001 and
0.000002) because its backward pass was wrong. This trains the same two
configurations with exact gradients, then with plain RMSprop, then with softmax
cross-entropy, and prints them beside the original figures. Nine runs of 30
epochs: a few minutes on two cores."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "reproduce",
        help="rerun the 7%%-error experiment with exact gradients",
        description=DESCRIPTION,
    )
    p.add_argument("--epochs", type=_args.POSITIVE_INT.parse, default=30, help="epochs per run")
    _args.add_setting(p, "seed", "seed for every run", 0)
    _args.add_threads(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the table here")
    _args.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet import reproduce
    from deltanet.limits import blas_threads

    data = load_mnist(args.data)
    print(
        f"784-300-10 sigmoid network, batch 100, lr 0.001, {_args.plural(args.epochs, 'epoch')} "
        f"on all {len(data.X_train):,} training images; {len(reproduce.CONFIGS)} runs"
    )
    t0 = time.perf_counter()

    def done(r: reproduce.Result) -> None:
        c = r.config
        print(
            f"  {c.name:<22} {c.loss:<14} {c.optimizer:<14} λ={c.l2:<8g} "
            f"train {100 * r.train_error:5.2f}%  test {100 * r.test_error:5.2f}%  "
            f"{r.seconds:4.0f} s",
            flush=True,
        )

    with blas_threads(args.threads):
        results = reproduce.run(
            data, epochs=args.epochs, seed=args.seed, progress=not args.quiet, on_result=done
        )
    print()
    print(reproduce.format_table(results))
    print()
    print(reproduce.summary(results))
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    if args.markdown:
        from deltanet.files import atomic_write_text

        atomic_write_text(args.markdown, reproduce.format_table(results, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    return 0
