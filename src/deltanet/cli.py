"""The ``deltanet`` command line.

Every user mistake (an unknown option value, a bad file, data of the wrong shape)
ends as one line on stderr and exit status 2; a failed gradient check exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # a None default says nothing; the help text explains what happens instead
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


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


def _number(kind: type, minimum: float, inclusive: bool, rule: str):
    """An argparse type: parse ``kind`` and require it finite and >= (or >) ``minimum``."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        ok = np.isfinite(value) and (value >= minimum if inclusive else value > minimum)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return parse


positive_int = _number(int, 1, True, "at least 1")
nonnegative_int = _number(int, 0, True, "0 or more")
positive_float = _number(float, 0, False, "a positive number")
nonnegative_float = _number(float, 0, True, "a number >= 0")


def add_data_dir(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str = "the embedded MNIST"
) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help=f"folder with the four MNIST-format IDX files (default: {default})",
    )


def add_network_args(p: argparse.ArgumentParser, layers: str = "784,300,10") -> None:
    g = p.add_argument_group("network")
    g.add_argument(
        "--layers",
        type=layers_arg,
        default=layers_arg(layers),
        metavar="D0,D1,...,K",
        help="layer widths, input first, comma-separated",
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


def network_from_args(args: argparse.Namespace, pixels: int):
    """The MLP the network flags describe, checked against the images' pixel count."""
    from deltanet.network import MLP

    if args.layers[0] != pixels:
        raise UsageError(
            f"--layers starts with {args.layers[0]} but the images have {pixels} pixels"
        )
    return MLP(
        args.layers,
        hidden=args.hidden,
        loss=args.loss,
        output=args.output,
        l2=args.l2,
        dtype=args.dtype,
        seed=args.seed,
        dropout=getattr(args, "dropout", 0.0),
        input_dropout=getattr(args, "input_dropout", 0.0),
    )


# ---------------------------------------------------------------------- gradcheck


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from deltanet.datasets import load_mnist

    data = load_mnist(args.data_dir)
    net = network_from_args(args, data.X_train.shape[1])
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
    if args.plot:
        from deltanet import plots

        plots.save_figure(plots.gradcheck(report), args.plot)
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
    add_data_dir(g)
    g.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="also draw the relative errors per block and per coordinate (PNG/SVG)",
    )
    p.set_defaults(func=cmd_gradcheck)


# ---------------------------------------------------------------------- train


def _threads(n: int | None):
    """Limit BLAS threads for the block (None: leave the library's choice)."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    return nullcontext() if n is None else threadpool_limits(limits=n, user_api="blas")


def make_optimizer_from_args(args: argparse.Namespace):
    from deltanet.optimizers import make_optimizer

    name = args.optimizer
    kwargs: dict = {"lr": args.lr}
    if name == "sgd":
        kwargs.update(momentum=args.momentum, nesterov=args.nesterov)
    if name in ("rmsprop", "rmsprop_gains"):
        kwargs.update(rho=args.rho, eps=args.eps)
    if name == "rmsprop_gains":
        kwargs.update(increment=args.increment, decrement=args.decrement)
    if name == "adam":
        kwargs.update(eps=args.eps)
    return make_optimizer(name, **kwargs)


TRAIN_KEYS = (
    "layers",
    "hidden",
    "loss",
    "output",
    "l2",
    "dtype",
    "seed",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "rho",
    "eps",
    "increment",
    "decrement",
    "schedule",
    "epochs",
    "batch_size",
    "val_size",
    "early_stopping",
    "average",
    "data_dir",
    "threads",
    "dropout",
    "input_dropout",
    "max_norm",
    "augment",
    "warmup",
    "preset",
)


# what `train --resume` may be told: more epochs, how many BLAS threads to use, and
# where the data is now
RESUME_MAY_CHANGE = {"epochs", "threads", "data_dir"}


def _jsonable(value: Any) -> Any:
    """``value`` as config.json stores it (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def _augments() -> dict:
    from deltanet.augment import Augment

    return {
        "none": lambda: None,
        "affine": lambda: Augment(),  # shift ±2 px, rotate ±10°, scale ±10%, shear ±0.1
        "elastic": lambda: Augment(elastic_alpha=1.0),  # the same, plus 1 px RMS warping
    }


AUGMENTS = _augments()


def _run_dir(out: str | None) -> Path:
    if out:
        return Path(out)
    from datetime import datetime

    return Path("runs") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def cmd_train(args: argparse.Namespace) -> int:
    import platform
    import time

    from deltanet import __version__
    from deltanet.datasets import load_mnist
    from deltanet.io import save, write_json
    from deltanet.optimizers import Schedule
    from deltanet.training import checkpoint_progress, fit, split_validation

    if args.resume:
        run_dir = Path(args.resume)
        config_path = run_dir / "config.json"
        if not (run_dir / "checkpoint.safetensors").is_file() or not config_path.is_file():
            raise UsageError(f"{run_dir}: no checkpoint.safetensors and config.json to resume from")
        try:
            saved = json.loads(config_path.read_text())["train"]
            if not isinstance(saved, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f"{config_path}: not a config.json written by deltanet train"
            ) from None
        given = getattr(args, "given", set()) & set(TRAIN_KEYS)
        changed = sorted(
            k for k in given - RESUME_MAY_CHANGE if _jsonable(getattr(args, k)) != saved.get(k)
        )
        if changed:
            flags = ", ".join("--" + k.replace("_", "-") for k in changed)
            raise UsageError(
                f"--resume continues {run_dir} with its own settings; {flags} cannot change "
                "(only --epochs, to extend the run, --threads and --data-dir can)"
            )
        for key in TRAIN_KEYS:
            if key in saved and key not in given:
                setattr(args, key, saved[key])
        done, stopped = checkpoint_progress(run_dir / "checkpoint.safetensors")
        if args.epochs < done:
            raise UsageError(
                f"{run_dir} has already trained {done} epochs, more than {args.epochs}"
            )
        if stopped and args.epochs > done:
            raise UsageError(
                f"{run_dir} stopped after {done} epochs and cannot be extended: {stopped}"
            )
        print(f"resuming {run_dir} from its checkpoint")
    else:
        run_dir = _run_dir(args.out)
    if args.average and not args.average < 1:
        raise UsageError(f"--average is a decay per step below 1 (e.g. 0.999), not {args.average}")
    if args.early_stopping and not args.val_size:
        raise UsageError("--early-stopping needs a validation split: give --val-size N > 0")
    if args.loss == "cross_entropy" and args.output not in (None, "softmax"):
        raise UsageError(f"--loss cross_entropy needs softmax outputs, not --output {args.output}")
    data = load_mnist(args.data_dir)
    net = network_from_args(args, data.X_train.shape[1])
    if args.val_size >= len(data.X_train):
        raise UsageError(
            f"--val-size {args.val_size} leaves no training images "
            f"(there are {len(data.X_train):,})"
        )
    optimizer = make_optimizer_from_args(args)
    X, y, X_val, y_val = split_validation(data.X_train, data.y_train, args.val_size)
    config = {
        "deltanet": __version__,
        "train": {k: getattr(args, k) for k in TRAIN_KEYS},
        "optimizer": repr(optimizer),
        "data": {
            "train": len(X),
            "validation": len(X_val),
            "test": len(data.X_test),
            "source": args.data_dir or "embedded MNIST",
        },
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
        },
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", config)
    print(
        f"{net}\n{optimizer}, batch {args.batch_size}, {args.epochs} epochs, "
        f"{len(X):,} training / {len(X_val):,} validation images -> {run_dir}"
    )
    t0 = time.perf_counter()
    with _threads(args.threads):
        history = fit(
            net,
            X,
            y,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer,
            schedule=Schedule(args.schedule, warmup=args.warmup),
            augment=AUGMENTS[args.augment](),
            max_norm=args.max_norm or None,
            validation=(X_val, y_val) if len(X_val) else None,
            seed=args.seed,
            early_stopping=args.early_stopping or None,
            average=args.average or None,
            checkpoint=run_dir / "checkpoint.safetensors",
            resume=bool(args.resume),
            progress=not args.quiet,
            log=(lambda line: print(line, flush=True)) if args.quiet else None,
        )
        seconds = time.perf_counter() - t0
        metrics = {
            "train_error": net.error_rate(X, y),
            "val_error": net.error_rate(X_val, y_val) if len(X_val) else None,
            "test_error": net.error_rate(data.X_test, data.y_test),
            "epochs": len(history),
            "best_epoch": history.best_epoch,
            "seconds_per_epoch": float(np.median(history["seconds"])) if len(history) else None,
            "seconds": seconds,
            "stop_reason": history.stop_reason,
        }
    from deltanet.io import atomic_write_text

    atomic_write_text(run_dir / "history.csv", history.to_csv())
    save(net, run_dir / "model.safetensors", training={**config["train"], "metrics": metrics})
    write_json(run_dir / "metrics.json", metrics)
    if history.stop_reason:
        print(history.stop_reason)
    print(final_table(metrics, run_dir))
    if getattr(args, "plots", False):
        from deltanet.report import draw_run

        for path in draw_run(run_dir, net=net, data=data):
            print(f"wrote {path}")
    return 1 if history.stop_reason.startswith("training diverged") else 0


def final_table(metrics: dict, run_dir: Path) -> str:
    rows = [
        ("train", metrics["train_error"]),
        ("validation", metrics["val_error"]),
        ("test", metrics["test_error"]),
    ]
    lines = ["", "  split       error", "  ----------  ------"]
    for name, err in rows:
        lines.append(f"  {name:<10}  {'-' if err is None else f'{100 * err:5.2f}%':>6}")
    spe = metrics["seconds_per_epoch"]
    spe_text = "–" if spe is None else f"{spe:.2f}"
    lines.append("")
    lines.append(
        f"  {metrics['epochs']} epochs, {spe_text} s per epoch (median), "
        f"{metrics['seconds']:.1f} s in all"
    )
    lines.append(f"  model, history, metrics: {run_dir}/")
    return "\n".join(lines)


def add_optimizer_args(p: argparse.ArgumentParser) -> None:
    from deltanet.optimizers import OPTIMIZERS, SCHEDULES

    g = p.add_argument_group("optimizer")
    g.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        default="rmsprop",
        help="rmsprop_gains is RMSprop with per-weight gains (Rprop-style ×1.3 / ×0.5)",
    )
    g.add_argument("--lr", type=positive_float, default=0.001, help="learning rate")
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="constant",
        help="learning-rate schedule over the epochs",
    )
    g.add_argument("--momentum", type=nonnegative_float, default=0.9, help="sgd momentum")
    g.add_argument("--nesterov", action="store_true", help="sgd with Nesterov momentum")
    g.add_argument(
        "--rho", type=nonnegative_float, default=0.9, help="RMSprop decay of the mean square"
    )
    g.add_argument(
        "--eps", type=positive_float, default=1e-8, help="added to √MS (RMSprop) or √v (Adam)"
    )
    g.add_argument(
        "--increment",
        type=positive_float,
        default=1.3,
        help="rmsprop_gains: gain factor when the gradient keeps its sign",
    )
    g.add_argument(
        "--decrement",
        type=positive_float,
        default=0.5,
        help="rmsprop_gains: gain factor when it flips",
    )


def _train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a network on MNIST (default: 784-300-10 sigmoid, softmax, RMSprop)",
        formatter_class=_Formatter,
        description=(
            "Train a fully connected network on MNIST and save it.\n\n"
            "With no flags: 784-300-10, sigmoid hidden units, softmax cross-entropy, RMSprop at\n"
            "lr 0.001, mini-batches of 100, 30 epochs, the last 10,000 training images held out\n"
            "for validation, and the weights averaged over the last steps (--average 0.999).\n"
            "The run directory receives model.safetensors, config.json,\n"
            "history.csv, metrics.json and checkpoint.safetensors (written every epoch).\n\n"
            "examples:\n"
            "  deltanet train\n"
            "  deltanet train --val-size 0                       # all 60,000 images\n"
            "  deltanet train --loss squared_error --l2 2e-6 --optimizer rmsprop_gains\n"
            "  deltanet train --resume runs/2026-11-27_10-00-00   # continue a stopped run\n"
            "  deltanet train --preset best   # the best MLP found: under 1% test error"
        ),
    )
    add_network_args(p)
    add_optimizer_args(p)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=30, help="passes over the data")
    g.add_argument("--batch-size", type=positive_int, default=100, help="mini-batch size")
    g.add_argument(
        "--val-size",
        type=nonnegative_int,
        default=10_000,
        help="hold out the last N training images for validation (0: train on all)",
    )
    g.add_argument(
        "--preset",
        choices=["best", "best-long"],
        default=None,
        help="start from a named configuration (docs/best.md); flags override it",
    )
    g.add_argument(
        "--dropout",
        type=nonnegative_float,
        default=0.0,
        help="probability of dropping each hidden unit while training",
    )
    g.add_argument(
        "--input-dropout",
        type=nonnegative_float,
        default=0.0,
        help="probability of dropping each input pixel while training",
    )
    g.add_argument(
        "--max-norm",
        type=nonnegative_float,
        default=0.0,
        help="cap each unit's incoming weight vector at this L2 norm (0: off)",
    )
    g.add_argument(
        "--augment",
        choices=["none", "affine", "elastic"],
        default="none",
        help="distort every mini-batch: affine (shift, rotate, scale, shear) or "
        "affine plus elastic warping",
    )
    g.add_argument(
        "--warmup", type=nonnegative_int, default=0, help="epochs of linear learning-rate warm-up"
    )
    g.add_argument(
        "--average",
        type=nonnegative_float,
        default=0.999,
        metavar="DECAY",
        help="evaluate and keep an exponential moving average of the weights (Polyak "
        "averaging) with this decay per step; 0 turns it off. 0.999 was chosen on the "
        "validation split (docs/accuracy.md)",
    )
    g.add_argument(
        "--early-stopping",
        type=nonnegative_int,
        default=0,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better validation error and "
        "restore the best weights (0: off)",
    )
    g.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="BLAS threads (default: the library's choice, usually every core)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar, one line per epoch")
    g = p.add_argument_group("files")
    g.add_argument(
        "--out", default=None, metavar="DIR", help="run directory (default: runs/<date-time>)"
    )
    g.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR from its checkpoint, with its own settings; "
        "--epochs N extends it to N epochs (a cosine or step schedule stretches to the new "
        "length)",
    )
    add_data_dir(g)
    g.add_argument(
        "--plots",
        action="store_true",
        help="draw learning curves and other pictures into the run directory",
    )
    p.set_defaults(func=cmd_train)
    return p


# ---------------------------------------------------------------------- evaluate, predict


def _load_model(path: str):
    from deltanet.io import load

    return load(path)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from deltanet.datasets import load_mnist
    from deltanet.metrics import confusion_matrix, format_confusion, format_per_class

    net = _load_model(args.model)
    data = load_mnist(args.data_dir)
    if data.X_test.shape[1] != net.layers[0]:
        raise UsageError(
            f"the model takes {net.layers[0]} inputs but the images have "
            f"{data.X_test.shape[1]} pixels"
        )
    pred = net.predict(data.X_test)
    k = net.layers[-1]
    if data.y_test.max() >= k:
        raise UsageError(f"the model has {k} classes but the labels go up to {data.y_test.max()}")
    cm = confusion_matrix(data.y_test, pred, k)
    err = float(np.mean(pred != data.y_test))
    print(
        f"{net}\n\ntest error {100 * err:.2f}% ({int((pred != data.y_test).sum()):,} of "
        f"{len(pred):,} test images)\n"
    )
    print(format_per_class(cm))
    print()
    print(format_confusion(cm))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from deltanet.images import load_inputs

    net = _load_model(args.model)
    if net.layers[0] != 784:
        raise UsageError(f"the model takes {net.layers[0]} inputs; predict reads 28×28 digits")
    for path in args.files:
        X = load_inputs(path)
        P = net.predict_proba(X)
        for i, p in enumerate(P):
            top = np.argsort(p)[::-1][: args.top]
            name = path if len(P) == 1 else f"{path}[{i}]"
            guesses = "  ".join(f"{c}: {p[c]:.3f}" for c in top)
            print(f"{name}: {top[0]}    ({guesses})")
    return 0


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="test error, per-class accuracy and confusion matrix",
        formatter_class=_Formatter,
        description="Evaluate a saved model on the MNIST test set.\n\n"
        "example:\n  deltanet evaluate runs/latest/model.safetensors",
    )
    p.add_argument("model", help="a model.safetensors written by deltanet train")
    add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser(
        "predict",
        help="classify digit images (PNG/JPEG) or .npy arrays",
        formatter_class=_Formatter,
        description=(
            "Print the top classes for each file. Pictures of any size work,\n"
            "dark ink on light paper or light on dark: the digit is cropped,\n"
            "scaled into a 20×20 box and centred by its centre of mass in 28×28,\n"
            "as MNIST was made. A .npy file holds (784,), (28, 28), (N, 784) or\n"
            "(N, 28, 28) values in [0, 1] or 0..255.\n\n"
            "example:\n  deltanet predict runs/latest/model.safetensors seven.png"
        ),
    )
    p.add_argument("model", help="a model.safetensors written by deltanet train")
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG/JPEG images or .npy arrays")
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to show")
    p.set_defaults(func=cmd_predict)


# ---------------------------------------------------------------------- reproduce


def cmd_reproduce(args: argparse.Namespace) -> int:
    import time

    from deltanet import reproduce
    from deltanet.datasets import load_mnist

    data = load_mnist(args.data_dir)
    print(
        f"784-300-10 sigmoid network, batch 100, lr 0.001, {args.epochs} epochs on all "
        f"{len(data.X_train):,} training images; {len(reproduce.CONFIGS)} runs"
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

    with _threads(args.threads):
        results = reproduce.run(
            data, epochs=args.epochs, seed=args.seed, progress=not args.quiet, on_result=done
        )
    print()
    print(reproduce.format_table(results))
    print()
    print(reproduce.summary(results))
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    if args.markdown:
        from deltanet.io import atomic_write_text

        atomic_write_text(args.markdown, reproduce.format_table(results, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    return 0


def _reproduce_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="rerun the 7%%-error experiment with exact gradients",
        formatter_class=_Formatter,
        description=(
            "A hand-written 784-300-10 sigmoid network with squared error and 'RMSprop with\n"
            "increments 1.3 and decrements 0.5' got 6.9% and 5.7% test error (λ = 0.001 and\n"
            "0.000002) because its backward pass was wrong. This trains the same two\n"
            "configurations with exact gradients, then with plain RMSprop, then with softmax\n"
            "cross-entropy, and prints them beside the original figures. Nine runs of 30\n"
            "epochs: a few minutes on two cores."
        ),
    )
    p.add_argument("--epochs", type=positive_int, default=30, help="epochs per run")
    p.add_argument("--seed", type=int, default=0, help="seed for every run")
    p.add_argument("--threads", type=positive_int, default=None, help="BLAS threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the table here")
    add_data_dir(p)
    p.set_defaults(func=cmd_reproduce)


# ---------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from deltanet import bench
    from deltanet.datasets import load_mnist

    data = load_mnist(args.data_dir)
    layers = tuple(args.layers)
    if data.X_train.shape[1] != layers[0]:
        raise UsageError(
            f"--layers starts with {layers[0]} but the images have {data.X_train.shape[1]} pixels"
        )
    n = len(data.X_train)
    print(
        f"{bench.machine()}\nmeasuring {'-'.join(map(str, layers))}, batch "
        f"{args.batch_size}: {args.epochs} epochs of {n:,} images per dtype, each beside "
        "its GEMM bound, round robin ...",
        flush=True,
    )
    runners = {}
    args.dtype = list(dict.fromkeys(args.dtype))  # `--dtype float32 float32` times it once
    for dtype in args.dtype:
        runners[dtype] = bench.deltanet_epochs(
            data.X_train, data.y_train, layers, dtype, args.batch_size
        )
        runners[f"bound {dtype}"] = bench.gemm_epochs(layers, n, args.batch_size, dtype)
    with (
        bench.blas_threads(args.threads),
        tqdm(total=args.epochs + 1, desc="rounds", unit="round", leave=False, disable=None) as bar,
    ):
        m = {x.name: x for x in bench.interleave(runners, args.epochs, progress=bar.update)}
    flops = bench.epoch_flops(layers, n, args.batch_size)
    print()
    print("  dtype    s/epoch: median  fastest  GEMM bound: median  fastest  ratio  GFLOP/s")
    print("  -------  ---------------  -------  ------------------  -------  -----  -------")
    for dtype in args.dtype:
        ours, bound = m[dtype], m[f"bound {dtype}"]
        print(
            f"  {dtype:<7}  {ours.median:15.3f}  {ours.fastest:7.3f}  {bound.median:18.3f}  "
            f"{bound.fastest:7.3f}  {ours.median / bound.median:5.2f}  "
            f"{flops / ours.median / 1e9:7.0f}"
        )
    print()
    print("  GEMM bound: the epoch's own matrix products, back to back, at this machine's BLAS")
    print("  rate; ratio = median epoch / median bound (1.0 would be nothing but matrix")
    print("  products). Timed round robin; the first round is a warm-up and not counted. On a")
    print("  shared machine, compare the fastest columns too: a slow spell moves medians.")
    return 0


def _bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="how fast an epoch is on this machine, against its matrix-product bound",
        formatter_class=_Formatter,
        description=(
            "Train the default network for a few epochs and report the median seconds per\n"
            "epoch beside the GEMM bound: the time the epoch's matrix products alone take at\n"
            "this machine's BLAS rate. benchmarks/epoch_time.py adds PyTorch and\n"
            "scikit-learn to the same measurement.\n\n"
            "example:\n  deltanet bench --epochs 5 --threads 2"
        ),
    )
    p.add_argument(
        "--layers",
        type=layers_arg,
        default=layers_arg("784,300,10"),
        metavar="D0,D1,...,K",
        help="layer widths",
    )
    p.add_argument("--batch-size", type=positive_int, default=100, help="mini-batch size")
    p.add_argument(
        "--epochs",
        type=positive_int,
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
    p.add_argument("--threads", type=positive_int, default=None, help="BLAS threads")
    add_data_dir(p)
    p.set_defaults(func=cmd_bench)


# ---------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from deltanet.report import draw_run

    run_dir = Path(args.run_dir)
    if not (run_dir / "model.safetensors").is_file():
        raise UsageError(
            f"{run_dir}: no model.safetensors here (is it a deltanet train --out directory?)"
        )
    for path in draw_run(run_dir, data_dir=args.data_dir):
        print(f"wrote {path}")
    return 0


def _report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="draw a run's pictures and write report.html",
        formatter_class=_Formatter,
        description=(
            "Draw the pictures of a training run into its directory (learning curves,\n"
            "confusion matrix, first-layer weights, most confident mistakes, gradient check)\n"
            "and write report.html: one self-contained page with the configuration, the final\n"
            "metrics, the per-class table and every picture, viewable offline.\n\n"
            "example:\n  deltanet report runs/2026-11-27_10-00-00"
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by deltanet train")
    add_data_dir(p, default="the run's own")
    p.set_defaults(func=cmd_report)


# ---------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deltanet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "deltanet: fully connected networks on MNIST in NumPy, with gradients you can trust.\n\n"
            "Start with:\n"
            "  deltanet train            train 784-300-10 on MNIST (about half a minute)\n"
            "  deltanet gradcheck        verify the backward pass of a network\n"
            "  deltanet evaluate MODEL   test error, per-class accuracy, confusion matrix\n"
            "  deltanet predict MODEL F  classify your own digit pictures\n"
            "  deltanet reproduce        the 7%-error experiment, done wrong and right\n"
            "  deltanet bench            seconds per epoch on this machine, against its bound\n"
            "  deltanet report RUN_DIR   pictures of a run and a one-file HTML report\n"
            "Each command has its own --help."
        ),
    )
    from deltanet import __version__

    parser.add_argument("--version", action="version", version=f"deltanet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.train_parser = _train_parser(sub)  # type: ignore[attr-defined]
    _evaluate_parser(sub)
    _gradcheck_parser(sub)
    _reproduce_parser(sub)
    _bench_parser(sub)
    _report_parser(sub)
    return parser


def _given(
    parser: argparse.ArgumentParser, sub: argparse.ArgumentParser, argv: Sequence[str] | None
) -> set[str]:
    """The destinations of the options of ``sub`` given explicitly on the command line."""
    saved = [(a, a.default) for a in sub._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv))) & {a.dest for a, _ in saved}
    finally:
        for action, default in saved:
            action.default = default


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = None
    if getattr(args, "command", None) == "train":
        # before a preset installs its defaults, which would look given
        given = _given(parser, parser.train_parser, argv)  # type: ignore[attr-defined]
    if getattr(args, "preset", None):
        from deltanet import presets

        # the preset's values become the defaults, so flags given explicitly still win
        parser.train_parser.set_defaults(**presets.get(args.preset))  # type: ignore[attr-defined]
        args = parser.parse_args(argv)
    if given is not None:
        args.given = given
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
