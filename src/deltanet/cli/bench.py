"""``deltanet bench``: seconds per epoch of ``deltanet train``, beside its matrix-product bound."""

from __future__ import annotations

import argparse
import tempfile

from deltanet.cli import _args
from deltanet.presets import RULE as PRESET

DESCRIPTION = """\
Time the epochs `deltanet train` runs (its defaults, or a --preset: augmentation,
dropout, the weight average, the validation pass, the progress bar and the
checkpoint written after every epoch) and report the median seconds per epoch
beside the GEMM bound: the time that configuration's own matrix products alone
take at this machine's BLAS rate. benchmarks/epoch_time.py adds PyTorch and
scikit-learn to the same measurement.

examples:
  deltanet bench --epochs 5 --threads 2
  deltanet bench --preset best --epochs 3"""

FOOTNOTE = """
  GEMM bound: the epoch's own matrix products (training, and the validation split's
  forward pass), back to back, at this machine's BLAS rate; ratio = median epoch /
  median bound (1.0 would be nothing but matrix products). Timed round robin; the
  first round is a warm-up and not counted. On a shared machine, compare the fastest
  columns too: a slow spell moves medians."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "bench",
        help="how fast deltanet train's epochs are here, against their matrix-product bound",
        description=DESCRIPTION,
    )
    p.add_argument(
        "--preset",
        choices=PRESET.choices,
        default=None,
        help="time this preset's run instead of the default one",
    )
    _args.add_layers(p)
    p.add_argument(
        "--batch-size",
        type=_args.POSITIVE_INT.parse,
        default=argparse.SUPPRESS,
        help="mini-batch size (default: the run's, 100)",
    )
    p.add_argument(
        "--val-size",
        type=_args.NONNEGATIVE_INT.parse,
        default=argparse.SUPPRESS,
        help="validation images evaluated after every epoch (default: the run's, 10,000)",
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
        default=None,
        help="which dtypes to time (default: float32 and float64; a preset's own)",
    )
    _args.add_threads(p)
    _args.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet import bench, presets
    from deltanet.config import TrainConfig
    from deltanet.sources.idx import load_idx
    from deltanet.sources.settings import check_fits

    base = presets.get(args.preset) if args.preset else TrainConfig()
    config = base.replace(**_args.settings_given(args, ("layers", "batch_size", "val_size")))
    data = load_idx(args.data)
    check_fits(config.layers, data, f"--layers {','.join(map(str, config.layers))}")
    dtypes = args.dtype or ([config.dtype] if args.preset else ["float32", "float64"])
    dtypes = list(dict.fromkeys(dtypes))  # `--dtype float32 float32` times it once
    n, evaluated = len(data.X_train) - config.val_size, config.val_size
    print(
        f"{bench.machine()}\nmeasuring `deltanet train{' --preset ' + args.preset if args.preset else ''}`"
        f": {describe(config)}; {_args.plural(args.epochs, 'epoch')} of {n:,} images "
        f"(and {evaluated:,} validated) per dtype, each beside its GEMM bound, round robin ...",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="deltanet-bench-") as tmp:
        measured = _measure(args, config, data, dtypes, tmp)
    flops = bench.epoch_flops(config.layers, n, config.batch_size, evaluated)
    print()
    print("  dtype    s/epoch: median  fastest  GEMM bound: median  fastest  ratio  GFLOP/s")
    print("  -------  ---------------  -------  ------------------  -------  -----  -------")
    for dtype in dtypes:
        ours, bound = measured[dtype], measured[f"bound {dtype}"]
        print(
            f"  {dtype:<7}  {ours.median:15.3f}  {ours.fastest:7.3f}  {bound.median:18.3f}  "
            f"{bound.fastest:7.3f}  {ours.median / bound.median:5.2f}  "
            f"{flops / ours.median / 1e9:7.0f}"
        )
    print(FOOTNOTE)
    return 0


def _measure(args: argparse.Namespace, config, data, dtypes: list[str], tmp: str) -> dict:
    """Every dtype's train path and bound, round robin: ``{name: Measurement}``."""
    from pathlib import Path

    from tqdm.auto import tqdm

    from deltanet import bench
    from deltanet.limits import blas_threads

    runners = {}
    n = len(data.X_train) - config.val_size
    for dtype in dtypes:
        one = config.replace(dtype=dtype)
        folder = Path(tmp) / dtype
        folder.mkdir()
        runners[dtype] = bench.train_path_epochs(one, data.X_train, data.y_train, folder)
        runners[f"bound {dtype}"] = bench.gemm_epochs(
            config.layers, n, config.batch_size, dtype, evaluated=config.val_size
        )
    with (
        blas_threads(args.threads),
        tqdm(total=args.epochs + 1, desc="rounds", unit="round", leave=False, disable=None) as bar,
    ):
        return {x.name: x for x in bench.interleave(runners, args.epochs, progress=bar.update)}


def describe(config) -> str:
    """A run's settings that change what an epoch costs, in one line."""
    parts = ["-".join(map(str, config.layers)), config.hidden, config.optimizer]
    parts.append(f"batch {config.batch_size}")
    if config.dropout or config.input_dropout:
        parts.append(f"dropout {config.dropout:g}/{config.input_dropout:g}")
    if config.augment != "none":
        parts.append(f"{config.augment} augmentation")
    if config.average:
        parts.append(f"average {config.average:g}")
    return ", ".join(parts)
