"""``deltanet gradcheck``: a network's backward pass against finite differences."""

from __future__ import annotations

import argparse

import numpy as np

from deltanet.cli import _args

DESCRIPTION = """\
Build a network, take a few MNIST training images, and compare its analytic
gradient with central differences in float64, block by block (W1, b1, W2, ...).
Prints one row per block with the worst coordinate, and for a failure its causes
and what they mean layer by layer; exits 0 if every block passes and 1 if one
fails. Up to 200 coordinates per block are checked (more where a block fails);
--full checks every one. To check your own flat-vector cost and gradient, use
dn.gradcheck from Python (docs/gradcheck.md).

example:
  deltanet gradcheck --layers 784,30,10 --hidden sigmoid --loss squared_error \\
      --l2 0.001 --samples 20 --dtype float64"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "gradcheck",
        help="check a network's backward pass against finite differences",
        description=DESCRIPTION,
    )
    _args.add_network_args(p, _args.DEFAULTS.replace(layers=(784, 30, 10)))
    g = p.add_argument_group("check")
    g.add_argument(
        "--samples", type=_args.POSITIVE_INT.parse, default=20, help="training images in the batch"
    )
    g.add_argument(
        "--eps",
        type=_args.positive_float,
        default=None,
        help="finite-difference step (default: 1e-6, or larger for a cost that rounds "
        "like float32)",
    )
    g.add_argument(
        "--rtol",
        type=_args.positive_float,
        default=None,
        help="largest relative error that passes (default: 1e-6, or looser for a cost "
        "that rounds like float32)",
    )
    g.add_argument(
        "--max-coords",
        type=_args.POSITIVE_INT.parse,
        default=None,
        help="coordinates checked per block (default: up to 200, more where a block fails)",
    )
    g.add_argument("--full", action="store_true", help="check every coordinate of every block")
    _args.add_data_dir(g)
    g.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="also draw the relative errors per block and per coordinate (PNG/SVG)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet.network import CONSTRAINTS, MLP
    from deltanet.sources.idx import load_idx
    from deltanet.sources.settings import check_fits

    data = load_idx(args.data)
    check_fits(args.layers, data, f"--layers {','.join(map(str, args.layers))}")
    net = MLP.from_config(_args.settings_given(args, (*CONSTRAINTS, "seed")))
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(data.X_train), size=min(args.samples, len(data.X_train)), replace=False)
    print(f"checking {net} on {len(pick)} training images, in float64")
    report = net.gradcheck(
        data.X_train[pick],
        data.y_train[pick],
        eps=args.eps,
        rtol=args.rtol,
        max_coords=args.max_coords,
        full=args.full,
        seed=args.seed,
    )
    print(report)
    if args.plot:
        from deltanet import plots

        plots.save_figure(plots.gradcheck(report), args.plot)
        print(f"wrote {args.plot}")
    return 0 if report.ok else 1
