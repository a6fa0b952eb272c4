"""``deltanet train``: a run from flags (over a preset), into a run directory; or resume one."""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np

from deltanet.cli import _args
from deltanet.config import RESUMABLE, TrainConfig
from deltanet.errors import ConfigError
from deltanet.metrics import percent

# what `train --resume` may be told: more epochs, and where the data is now (and, not
# being settings, --threads, --quiet and --plots)

DESCRIPTION = """\
Train a fully connected network on MNIST, or on your own data (--data), and save it.

With no flags: 784-300-10, sigmoid hidden units, softmax cross-entropy, RMSprop at
lr 0.001, mini-batches of 100, 30 epochs, the last 10,000 training images held out
for validation, and the weights averaged over the last steps (--average 0.999).
With --data PATH (a CSV, TSV, Parquet or .npz file, or a folder of pictures in class
folders) the input width and the classes come from the data, the hidden widths stay
(D-300-K), a fifth of each class is held out for testing (--test-size), a sixth of
the rest, at most 10,000, validates, and small data trains for more epochs (1,500
weight updates at least); table and .npz features are standardized, and the class
names and standardization go into the model file (docs/data.md).
The run directory (--out, default runs/<date-time>; runs/latest points at the newest)
receives config.json, checkpoint.safetensors (written every epoch), history.csv,
model.safetensors and metrics.json. A new run never goes into a directory that holds
one: --resume continues it, --overwrite replaces it.

examples:
  deltanet train
  deltanet train --val-size 0                       # all 60,000 images
  deltanet train --loss squared_error --l2 2e-6 --optimizer rmsprop_gains
  deltanet train --resume runs/latest               # continue a stopped run
  deltanet train --resume runs/latest --epochs 60   # ... or extend a finished one
  deltanet train --preset best   # the best MLP found: under 1% test error
  deltanet train --data iris.csv --target species
  deltanet train --data pictures/ --image-size 32 --channels 3"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "train",
        help="train a network on MNIST (default: 784-300-10 sigmoid, softmax, RMSprop)",
        description=DESCRIPTION,
    )
    _args.add_network_args(p)
    _args.add_optimizer_args(p)
    g = _args.add_training_args(p)
    _args.add_threads(g)
    g.add_argument("--quiet", action="store_true", help="no progress bar, one line per epoch")
    g = p.add_argument_group("files")
    g.add_argument(
        "--out", default=None, metavar="DIR", help="run directory (default: runs/<date-time>)"
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run --out holds instead of refusing to touch it",
    )
    g.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR from its checkpoint, with its own settings; "
        "--epochs N extends it to N epochs (a cosine or step schedule stretches to the new "
        "length)",
    )
    g.add_argument(
        "--plots",
        action="store_true",
        help="draw learning curves and other pictures into the run directory",
    )
    _args.add_data(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return _resume(args) if args.resume else _new(args)


# ---------------------------------------------------------------------- a new run


def _new(args: argparse.Namespace) -> int:
    from deltanet import presets
    from deltanet.rundir import RunDir

    base = presets.get(args.preset) if args.preset else TrainConfig()
    given = _args.settings_given(args)
    config = base.replace(**given)
    RunDir.refuse_taken(args.out, args.overwrite)  # early, and writing nothing
    job = _Job(config, args, fit=given)  # every check of the data against the run
    with RunDir.create(args.out, job.config, job.info(), overwrite=args.overwrite) as rd:
        print(job.header(rd.path))
        return job.train(rd)


# ---------------------------------------------------------------------- resuming


def _resume(args: argparse.Namespace) -> int:
    from deltanet.rundir import RunDir

    for name in ("out", "overwrite"):
        if getattr(args, name):
            raise ConfigError(f"--resume DIR names the run directory; --{name} cannot be given")
    with RunDir.open(args.resume) as rd:
        if args.threads is None:  # the run's own thread count: the same bytes as unbroken
            args.threads = rd.info().get("machine", {}).get("threads")
        saved = rd.config()
        config = _resumed_config(saved, args, str(rd.path))
        progress = rd.progress()
        if progress is None:
            raise ConfigError(
                f"{rd.path}: no {rd.CHECKPOINT} to resume from (the run ended before its "
                f"first epoch did: start it again with --out {rd.path} --overwrite)"
            )
        done = len(progress)
        if config.epochs < done:
            raise ConfigError(
                f"{rd.path} has already trained {_args.plural(done, 'epoch')}, "
                f"more than {config.epochs}"
            )
        if progress.outcome is not None and config.epochs not in (saved.epochs, done):
            raise ConfigError(
                f"{rd.path} stopped after {_args.plural(done, 'epoch')} and cannot be "
                f"extended: {progress.stop_reason}"
            )
        if (done == config.epochs or progress.outcome is not None) and rd.has_results():
            if progress.outcome is not None:  # stopped early or diverged: not extendable
                print(
                    f"{rd.path}: nothing left to do, the run stopped after "
                    f"{_args.plural(done, 'epoch')} ({progress.stop_reason})"
                )
            else:
                print(
                    f"{rd.path} has trained {_args.plural(done, 'epoch')} of {config.epochs}: "
                    "nothing left to do (--epochs N extends it)"
                )
            return 0
        job = _Job(config, args)
        job.trainer.resume(rd)
        if config != saved:
            rd.write_config(config, {**rd.info(), **job.info()})
        print(f"resuming {rd.path} from its checkpoint (epoch {done} of {config.epochs})")
        print(job.header(rd.path))
        return job.train(rd)


def _resumed_config(saved: TrainConfig, args: argparse.Namespace, where: str) -> TrainConfig:
    """The run's own config, with only what may change on resume changed; a flag asking
    for anything else is refused (repeating a setting the run has is accepted)."""
    from deltanet import presets

    given = _args.settings_given(args)
    requested = (presets.get(args.preset) if args.preset else saved).replace(**given)
    changed = [name for name in saved.diff(requested) if name not in RESUMABLE]
    if changed:
        flags = sorted({_args.flag(n) if n in given else "--preset" for n in changed})
        raise ConfigError(
            f"--resume continues {where} with its own settings; {', '.join(flags)} cannot "
            "change (only --epochs, to extend the run, --threads, and where the data is: "
            "--data, --test)"
        )
    return saved.replace(**{k: v for k, v in given.items() if k in RESUMABLE})


# ---------------------------------------------------------------------- training


class _Job:
    """A run's data, network and trainer, every check done: nothing is written yet.

    ``fit``: for a new run, the settings given explicitly; the others that depend on
    the data (the widths, the validation split, the epochs) are fitted to it.  None: a resumed run,
    whose config is kept as it is.
    """

    def __init__(
        self, config: TrainConfig, args: argparse.Namespace, fit: dict[str, Any] | None = None
    ):
        from deltanet import sources
        from deltanet.sources import settings
        from deltanet.training import Trainer

        self.data = sources.from_config(config)
        if fit is not None:
            config = settings.fit_config(config, self.data, fit)
        settings.check_config(config, self.data)
        self.config, self.args = config, args
        self.net = config.make_network()
        self.scaler = settings.standardizer(config, self.data)
        self.X_test = self._inputs(self.data.X_test)
        log = (lambda line: print(line, flush=True)) if args.quiet else None
        self.trainer = Trainer.from_config(
            self.net,
            self._inputs(self.data.X_train),
            self.data.y_train,
            config,
            progress=not args.quiet,
            log=log,
        )
        self.model = settings.model_of(self.net, self.data, self.scaler)

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        """Rows as the network takes them: standardized if the run is, in its dtype."""
        if self.scaler is None:
            return X
        return self.scaler.transform(X, self.net.dtype)

    def info(self) -> dict[str, Any]:
        """What config.json records beside the config."""
        from deltanet.sources import settings
        from deltanet.training import run_info

        info = run_info(
            self.trainer,
            self.config,
            len(self.data.X_test),
            self.args.threads,
            preset=self.args.preset,
        )
        info["data"].update(settings.describe(self.data, self.scaler))
        return info

    def header(self, where: Any) -> str:
        t, c = self.trainer, self.config
        n_val = 0 if t.X_val is None else len(t.X_val)
        return (
            f"{self.net}\n{t.opt}, batch {c.batch_size}, {_args.plural(c.epochs, 'epoch')}, "
            f"{len(t.X):,} training / {n_val:,} validation / {len(self.X_test):,} test "
            f"{'images' if self.data.kind in ('idx', 'pictures') else 'rows'} -> {where}"
        )

    def train(self, rd: Any) -> int:
        """Train into the run directory ``rd``; the exit status (1: diverged)."""
        from deltanet.history import Outcome
        from deltanet.limits import blas_threads
        from deltanet.training import TrainingDiverged

        t0 = time.perf_counter()
        with blas_threads(self.args.threads), warnings.catch_warnings():
            # the reason a run diverged is printed below, as every stop reason is
            warnings.simplefilter("ignore", TrainingDiverged)
            history = self.trainer.run(checkpoint=rd)
            metrics = self.metrics(history, time.perf_counter() - t0)
        rd.save_results(self.model, history, metrics, self.config.to_dict())
        if history.stop_reason:
            print(history.stop_reason)
        print(final_table(metrics, rd.path))
        if self.args.plots:
            from deltanet.report import draw_run

            for path in draw_run(rd, model=self.model, data=self.data):
                print(f"wrote {path}")
        return 1 if history.outcome is Outcome.DIVERGED else 0

    def metrics(self, history: Any, seconds: float) -> dict[str, Any]:
        """The final errors, with the weights kept (the best or averaged ones)."""
        from deltanet.training import final_metrics

        # the test rows as the network takes them (standardized if the run is)
        return final_metrics(self.trainer, history, seconds, (self.X_test, self.data.y_test))


def final_table(metrics: dict[str, Any], run_dir: Any) -> str:
    rows = [
        ("train", metrics["train_error"]),
        ("validation", metrics["val_error"]),
        ("test", metrics["test_error"]),
    ]
    lines = ["", "  split       error", "  ----------  ------"]
    for name, err in rows:
        lines.append(f"  {name:<10}  {percent(err, missing='-'):>6}")
    spe = metrics["seconds_per_epoch"]
    spe_text = "–" if spe is None else f"{spe:.2f}"
    lines += [
        "  (errors of the weights kept, measured at the end; each epoch line's train",
        "  error is the running one, while the weights still changed during that epoch)",
        "",
        f"  {_args.plural(metrics['epochs'], 'epoch')}, {spe_text} s per epoch (median), "
        f"{metrics['seconds']:.1f} s in all",
        f"  model, history, metrics: {run_dir}/",
    ]
    return "\n".join(lines)
