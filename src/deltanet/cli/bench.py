"""``deltanet bench``: seconds per epoch on this machine, beside its matrix-product bound."""

from __future__ import annotations

import argparse

from deltanet.cli import _args

DESCRIPTION = """\
Train the default network for a few epochs and report the median seconds per
epoch beside the GEMM bound: the time the epoch's matrix products alone take at
this machine's BLAS rate. benchmarks/epoch_time.py adds PyTorch and
scikit-learn to the same measurement.

example:
  deltanet bench --epochs 5 --threads 2"""

FOOTNOTE = """
  GEMM bound: the epoch's own matrix products, back to back, at this machine's BLAS
  rate; ratio = median epoch / median bound (1.0 would be nothing but matrix
  products). Timed round robin; the first round is a warm-up and not counted. On a
  shared machine, compare the fastest columns too: a slow spell moves medians."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "bench",
        help="how fast an epoch is on this machine, against its matrix-product bound",
        description=DESCRIPTION,
    )
    _args.add_layers(p, _args.DEFAULTS.layers)
    p.add_argument(
        "--batch-size", type=_args.POSITIVE_INT.parse, default=100, help="mini-batch size"
    )
    p.add_argument(
        "--epochs",
        type=_args.POSITIVE_INT.parse,
        default=5,
        help="epochs timed per dtype, after one warm-up epoch",
    )
    p.add_argument(
        "--dtype",
        nargs="+",
        choices=["float32", "float64"],
        default=["float32", "float64"],
        help="which dtypes to time",
    )
    _args.add_threads(p)
    _args.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from deltanet import bench
    from deltanet.limits import blas_threads
    from deltanet.sources.idx import load_idx
    from deltanet.sources.settings import check_fits

    data = load_idx(args.data)
    layers = tuple(args.layers)
    check_fits(layers, data, f"--layers {','.join(map(str, layers))}")
    n = len(data.X_train)
    print(
        f"{bench.machine()}\nmeasuring {'-'.join(map(str, layers))}, batch "
        f"{args.batch_size}: {_args.plural(args.epochs, 'epoch')} of {n:,} images per dtype, "
        "each beside its GEMM bound, round robin ...",
        flush=True,
    )
    dtypes = list(dict.fromkeys(args.dtype))  # `--dtype float32 float32` times it once
    runners = {}
    for dtype in dtypes:
        runners[dtype] = bench.deltanet_epochs(
            data.X_train, data.y_train, layers, dtype, args.batch_size
        )
        runners[f"bound {dtype}"] = bench.gemm_epochs(layers, n, args.batch_size, dtype)
    with (
        blas_threads(args.threads),
        tqdm(total=args.epochs + 1, desc="rounds", unit="round", leave=False, disable=None) as bar,
    ):
        m = {x.name: x for x in bench.interleave(runners, args.epochs, progress=bar.update)}
    flops = bench.epoch_flops(layers, n, args.batch_size)
    print()
    print("  dtype    s/epoch: median  fastest  GEMM bound: median  fastest  ratio  GFLOP/s")
    print("  -------  ---------------  -------  ------------------  -------  -----  -------")
    for dtype in dtypes:
        ours, bound = m[dtype], m[f"bound {dtype}"]
        print(
            f"  {dtype:<7}  {ours.median:15.3f}  {ours.fastest:7.3f}  {bound.median:18.3f}  "
            f"{bound.fastest:7.3f}  {ours.median / bound.median:5.2f}  "
            f"{flops / ours.median / 1e9:7.0f}"
        )
    print(FOOTNOTE)
    return 0
