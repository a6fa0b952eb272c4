"""Mini-batch training: the :class:`Trainer`, and :func:`fit` / :func:`train` to call it once.

A :class:`Trainer` is one training run, complete when it is made: the network, the data
and its validation split, the optimizer (which owns the weight average), the schedule
and the random generator.  :meth:`Trainer.run` trains epoch after epoch;
:func:`fit` (also ``net.fit``) builds a trainer from keyword arguments or a
:class:`~deltanet.config.TrainConfig` and runs it.  What they promise:

* reproducible: one ``numpy.random.Generator`` seeded by ``seed`` shuffles, augments
  and drops out, so the same seed gives bit-identical weights on the same machine;
* model selection on the validation split only; a test set passed as ``test=`` is
  evaluated each epoch for monitoring and never used to decide anything;
* a non-finite loss, or one that explodes far above where training started, stops
  training (``History.outcome`` is :attr:`Outcome.DIVERGED`), names the epoch and
  batch, and rolls the parameters back to the end of the last good epoch: nothing NaN
  is ever saved;
* with ``checkpoint=`` the full state (weights, optimizer state and weight average, RNG
  state, history, early-stopping state) is written atomically after every epoch, and
  ``resume=True`` continues it to the same bytes an uninterrupted run ends with.

The trainer touches the network only through its public interface: ``params``,
``grad``, ``W``, ``dropout``, ``input_dropout``, ``check_X``, ``targets``, ``labels``,
``train_step``, ``error_rate`` and ``to_config`` (``tests/test_training.py`` holds it
to that).  A ``max_norm`` constraint is :func:`cap_norms` on ``W``.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deltanet import modelfile
from deltanet.augment import Augment
from deltanet.batches import Batches
from deltanet.config import CONSTRAINTS, RESUMABLE, TrainConfig
from deltanet.constraints import Integer
from deltanet.errors import ConfigError, DataError, ModelFileError
from deltanet.history import History, Outcome, history_of
from deltanet.limits import check_memory
from deltanet.network import MLP, architecture
from deltanet.optimizers import Optimizer, RMSprop, Schedule, make_optimizer
from deltanet.progress import Progress, epoch_line

__all__ = [
    "CheckpointFile",
    "CheckpointStore",
    "EarlyStopping",
    "History",
    "Outcome",
    "Trainer",
    "TrainingDiverged",
    "fit",
    "split_validation",
    "train",
]

# a batch loss this many times the run's first one means training has blown up
EXPLODED = 1000.0


class TrainingDiverged(RuntimeWarning):
    """Warned when training diverges (the parameters are rolled back)."""


@dataclass
class EarlyStopping:
    """Stop when the validation error has not improved by ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the weights of the best epoch are put back at the end."""

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        Integer(1).check("patience", self.patience)  # a whole number of epochs, at least 1


def split_validation(
    X: np.ndarray, y: np.ndarray, val_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the *last* ``val_size`` samples (for MNIST: the last 10,000 training images)."""
    CONSTRAINTS["val_size"].check("val_size", val_size)
    if val_size >= len(X):
        raise ConfigError(f"val_size {val_size} leaves no training samples (there are {len(X):,})")
    cut = len(X) - val_size
    return X[:cut], y[:cut], X[cut:], y[cut:]


# ---------------------------------------------------------------------- checkpoints


class CheckpointStore(Protocol):
    """Where a trainer's checkpoints go: a file (:class:`CheckpointFile`) or a run
    directory (:class:`deltanet.rundir.RunDir`)."""

    def save_checkpoint(
        self, net: MLP, arrays: dict[str, np.ndarray], state: dict[str, Any]
    ) -> None: ...

    def load_checkpoint(
        self,
    ) -> tuple[MLP, dict[str, np.ndarray], dict[str, Any]] | None: ...


class CheckpointFile:
    """A checkpoint at ``path``, written atomically (see :mod:`deltanet.modelfile`)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def save_checkpoint(self, net: MLP, arrays: dict[str, np.ndarray], state: dict) -> None:
        modelfile.save_checkpoint(self.path, net, arrays, state)

    def load_checkpoint(self) -> tuple[MLP, dict[str, np.ndarray], dict[str, Any]] | None:
        """The checkpoint, or None if there is none yet."""
        return modelfile.load_checkpoint(self.path) if self.path.exists() else None


def _store(checkpoint: str | Path | CheckpointStore | None) -> CheckpointStore | None:
    if checkpoint is None or hasattr(checkpoint, "save_checkpoint"):
        return checkpoint  # type: ignore[return-value]
    return CheckpointFile(checkpoint)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the trainer


def cap_norms(W: Sequence[np.ndarray], c: float) -> None:
    """Scale every column of every ``W`` (a unit's incoming weights) to L2 norm ≤ ``c``."""
    for w in W:
        norms = np.sqrt(np.einsum("ij,ij->j", w, w))
        np.maximum(norms, c, out=norms)
        w *= (c / norms).astype(w.dtype, copy=False)


class Trainer:
    """One training run of ``net`` on ``X: (N, D)``, ``y: (N,)`` labels or ``(N, K)``
    targets, complete once made.

    Args:
        optimizer: steps the weights; it also keeps the weight average if it was made
            with ``average=`` (None: RMSprop(lr=0.001, ρ=0.9)).
        schedule: learning rate per epoch (None: constant).
        epochs, batch_size: how long, and how many samples per step.
        validation: ``(X_val, y_val)``; or ``val_size``: hold out the last ``val_size``
            samples of ``X``.  Validation error drives early stopping and nothing else.
        test: ``(X_test, y_test)`` evaluated each epoch for monitoring only.
        shuffle: visit the samples in a new random order every epoch.
        seed: seeds the one generator for shuffling, augmentation and dropout.
        early_stopping: an :class:`EarlyStopping`; needs a validation set.
        augment: an :class:`~deltanet.augment.Augment` applied to every mini-batch.
        max_norm: after every step, scale each unit's incoming weight vector (a column
            of ``W``) down to this L2 norm if it is longer (Srivastava et al. 2014).
        progress: show a progress bar and a summary line per epoch (or a
            :class:`~deltanet.progress.Progress` that says where).
        log: where summary lines go (default: printed above the progress bar).
    """

    def __init__(
        self,
        net: MLP,
        X: Any,
        y: Any,
        *,
        optimizer: Optimizer | None = None,
        schedule: Schedule | None = None,
        epochs: int = 30,
        batch_size: int = 100,
        validation: tuple[Any, Any] | None = None,
        val_size: int = 0,
        test: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        early_stopping: EarlyStopping | None = None,
        augment: Augment | None = None,
        max_norm: float | None = None,
        progress: bool | Progress = False,
        log: Callable[[str], None] | None = None,
    ):
        for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed)):
            CONSTRAINTS[name].check(name, value)
        if max_norm is not None:
            CONSTRAINTS["max_norm"].check("max_norm", max_norm)
        self.net, self.epochs, self.batch_size, self.shuffle = net, epochs, batch_size, shuffle
        self.opt = RMSprop(lr=0.001, rho=0.9) if optimizer is None else optimizer
        self.schedule = Schedule() if schedule is None else schedule
        self.early_stopping, self.augment = early_stopping, augment
        self._constrain = functools.partial(_cap_norms_of, net, max_norm) if max_norm else None
        self._data(X, y, validation, val_size, test)
        if augment is not None and self.X.shape[1] != augment.side**2:
            raise ConfigError(
                f"augmentation distorts {augment.side}×{augment.side} pictures, but the inputs "
                f"have {self.X.shape[1]} values each"
            )
        if early_stopping is not None and self.X_val is None:
            raise ConfigError("early stopping needs a validation set (validation= or val_size=)")
        self._check_memory()
        self.lr0 = self.opt.lr
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self.best_val, self.best_params, self.bad_epochs = math.inf, None, 0
        self.start_loss: float | None = None  # the run's first batch loss
        # before any clock starts: checking X for bytes is set-up, not training
        self.batches = Batches(self.X, self.Y, self.labels, batch_size)
        self.progress = progress if isinstance(progress, Progress) else Progress(progress, log)
        self.config: TrainConfig | None = None  # the run's, when it was made from one

    @classmethod
    def from_config(cls, net: MLP, X: Any, y: Any, config: TrainConfig, **options: Any) -> Trainer:
        """The run ``config`` describes, for ``net`` (which must have its architecture);
        ``options``: ``validation``, ``test``, ``shuffle``, ``progress``, ``log``."""
        mine, theirs = net.to_config(), architecture(config)
        differ = [k for k in mine if mine[k] != theirs[k]]
        if differ:
            raise ConfigError(
                f"the network is {net}, the config describes another: {', '.join(differ)} differ"
            )
        trainer = cls(
            net,
            X,
            y,
            optimizer=config.make_optimizer(),
            schedule=config.make_schedule(),
            epochs=config.epochs,
            batch_size=config.batch_size,
            val_size=config.val_size,
            seed=config.seed,
            early_stopping=EarlyStopping(config.early_stopping) if config.early_stopping else None,
            augment=config.make_augment(),
            max_norm=config.max_norm or None,
            **options,
        )
        trainer.config = config  # its checkpoints record it, and a resume compares it
        return trainer

    def _data(
        self,
        X: Any,
        y: Any,
        validation: tuple[Any, Any] | None,
        val_size: int,
        test: tuple[Any, Any] | None,
    ) -> None:
        net = self.net
        X = net.check_X(X)
        Y = net.targets(y, len(X))
        labels = Y.argmax(axis=1)
        if validation is not None and val_size:
            raise ConfigError("give either validation=(X_val, y_val) or val_size, not both")
        self.X_val = self.labels_val = self.X_test = self.labels_test = None
        if validation is not None:
            self.X_val = net.check_X(validation[0])
            self.labels_val = net.labels(validation[1], len(self.X_val))
        elif val_size:
            X, Y, self.X_val, Y_val = split_validation(X, Y, val_size)
            labels, self.labels_val = labels[: len(X)], Y_val.argmax(axis=1)
        if test is not None:
            self.X_test = net.check_X(test[0])
            self.labels_test = net.labels(test[1], len(self.X_test))
        if not len(X):
            raise DataError("there is nothing to train on: X has no samples")
        self.X, self.Y, self.labels = X, Y, labels

    def _check_memory(self) -> None:
        # beside the parameters and their gradient: the optimizer's state and weight
        # average, the best weights, and the epoch's snapshot of all of it
        kept = len(self.opt.state_names) + (1 if self.opt.average else 0)
        copies = 2 + kept + 1 + (1 + kept)
        check_memory(self.net.params.nbytes * copies, f"training {self.net}", ConfigError)

    # ------------------------------------------------------------------ the run
    def run(
        self,
        callbacks: Sequence[Callable[[dict[str, float], MLP], bool | None]] = (),
        checkpoint: CheckpointStore | None = None,
    ) -> History:
        """Train up to :attr:`epochs` epochs in all; leave the weights to keep in the
        network (the best epoch's, the average, or the last) and return the history.

        ``callbacks``: ``cb(record, net)`` after each epoch; returning True stops.
        ``checkpoint``: saved after every epoch (see :meth:`state_dict`).
        """
        history = self.history
        while len(history) < self.epochs and history.outcome is None:
            self.advance(callbacks, checkpoint)
        if history.outcome is None:
            history.outcome = Outcome.COMPLETED
        if self.finish():
            self.progress.say(f"restored the weights of epoch {history.best_epoch}")
        return history

    def advance(
        self,
        callbacks: Sequence[Callable[[dict[str, float], MLP], bool | None]] = (),
        checkpoint: CheckpointStore | None = None,
    ) -> dict[str, float] | None:
        """One turn of :meth:`run`: the next epoch, the choice of the best one, its line,
        its checkpoint and the callbacks.  The epoch's record, or None if it diverged."""
        history, bar = self.history, self.progress

        def save() -> None:
            if checkpoint is not None:
                checkpoint.save_checkpoint(self.net, *self.state_dict())

        record = self.epoch()
        if record is None:
            bar.end()
            warnings.warn(history.stop_reason, TrainingDiverged, stacklevel=3)
            save()  # the rolled-back state, and the outcome: a resume will not retry
            return None
        best = self.select(record)
        save()  # before the line: a closed pipe or a ^C while printing loses no epoch
        bar.end(epoch_line(record, self.epochs, best))
        if any(cb(record, self.net) for cb in callbacks):
            history.stop(Outcome.STOPPED, f"stopped by a callback after epoch {len(history)}")
            save()
        return record

    def epoch(self) -> dict[str, float] | None:
        """Train the next epoch; its record, or None when it diverged (and was rolled back)."""
        net, opt = self.net, self.opt
        epoch = len(self.history)
        opt.lr = self.schedule(self.lr0, epoch, self.epochs)
        t0 = time.perf_counter()
        n = len(self.X)
        perm = self.rng.permutation(n) if self.shuffle else np.arange(n)
        snapshot = net.params.copy(), opt.state_dict()
        loss_sum, wrong, failure = self._train_batches(perm, epoch)
        if not failure and not np.isfinite(net.params).all():
            failure = f"parameters became non-finite during epoch {epoch + 1}"
        if failure:
            self._roll_back(snapshot, epoch, failure)
            return None
        val, test = self._evaluate()
        record = {
            "epoch": epoch + 1,
            "lr": opt.lr,
            "loss": loss_sum / n,
            "train_error": wrong / n,
            "val_error": val,
            "test_error": test,
            "seconds": time.perf_counter() - t0,
        }
        self.history.records.append(record)
        return record

    def _train_batches(self, perm: np.ndarray, epoch: int) -> tuple[float, int, str]:
        """One pass over ``perm`` in mini-batches: ``(Σ loss · batch size, wrong, failure)``,
        ``failure`` saying why training diverged ("" if it did not)."""
        net, opt, size = self.net, self.opt, self.batch_size
        n_batches = -(-len(perm) // size)
        dropout = self.rng if (net.dropout or net.input_dropout) else None
        self.progress.start(epoch, self.epochs, n_batches)
        loss_sum, wrong = 0.0, 0
        for b in range(n_batches):
            xb, yb, lbb = self.batches.gather(perm[b * size : (b + 1) * size])
            if self.augment is not None:
                self.augment(xb, self.rng, out=xb)
            J, w = net.train_step(xb, yb, lbb, dropout)
            failure = self._failure(J, epoch, b, n_batches)
            if failure:
                return loss_sum, wrong, failure
            loss_sum += J * len(xb)
            wrong += w
            opt.step(net.params, net.grad, self._constrain)
            if self.progress.enabled and (b % 20 == 19 or b == n_batches - 1):
                self.progress.update(b % 20 + 1, loss_sum / ((b + 1) * size))
        return loss_sum, wrong, ""

    def _failure(self, J: float, epoch: int, b: int, n_batches: int) -> str:
        """Why the batch loss ``J`` means training diverged, or ""."""
        where = f"at epoch {epoch + 1}, batch {b + 1} of {n_batches}"
        if not math.isfinite(J):
            return f"loss is {J} {where}"
        if self.start_loss is None:
            self.start_loss = J
        elif J > EXPLODED * self.start_loss and J > self.start_loss + 1.0:
            return (
                f"loss exploded to {J:.4g} {where}, over {EXPLODED:g} times its "
                f"first value {self.start_loss:.4g}"
            )
        return ""

    def _roll_back(self, snapshot: tuple[np.ndarray, dict], epoch: int, failure: str) -> None:
        self.net.params = snapshot[0]
        self.opt.load_state_dict(snapshot[1])  # its moments and average saw the bad steps too
        self.history.stop(
            Outcome.DIVERGED,
            f"training diverged: {failure}; parameters rolled back to the end of epoch "
            f"{epoch} (try a smaller learning rate)",
        )

    def _evaluate(self) -> tuple[float, float]:
        """Validation and test error (NaN without them), with the evaluated weights."""
        with self.evaluated_weights():
            val = (
                math.nan if self.X_val is None else self.net.error_rate(self.X_val, self.labels_val)
            )
            test = (
                math.nan
                if self.X_test is None
                else self.net.error_rate(self.X_test, self.labels_test)
            )
        return val, test

    @contextmanager
    def evaluated_weights(self) -> Iterator[None]:
        """Within the block the network holds the weights that are evaluated (the average)."""
        averages = self.opt.averages
        if averages is None:
            yield
            return
        raw = self.net.params.copy()
        self.net.params = averages
        try:
            yield
        finally:
            self.net.params = raw

    def select(self, record: dict[str, float]) -> bool:
        """Track the best validation epoch; True if this one is the best so far."""
        if self.X_val is None:
            return False
        es = self.early_stopping
        if record["val_error"] < self.best_val - (es.min_delta if es else 0.0):
            self.best_val, self.bad_epochs = record["val_error"], 0
            self.history.best_epoch = int(record["epoch"])
            if es is not None and es.restore_best:
                with self.evaluated_weights():
                    self.best_params = self.net.params.copy()
            return True
        self.bad_epochs += 1
        if es is not None and self.bad_epochs >= es.patience:
            self.history.stop(
                Outcome.EARLY_STOPPED,
                f"early stopping: validation error has not improved for {self.bad_epochs} "
                f"epoch{'s' if self.bad_epochs != 1 else ''} (best {100 * self.best_val:.2f}% "
                f"at epoch {self.history.best_epoch})",
            )
        return False

    def finish(self) -> bool:
        """Leave the weights to keep in the network; True if an earlier epoch's were restored."""
        es, h = self.early_stopping, self.history
        if (
            es is not None
            and es.restore_best
            and self.best_params is not None
            and h.best_epoch != len(h)
        ):
            self.net.params = self.best_params
            return True
        if self.opt.averages is not None:
            self.net.params = self.opt.averages
        return False

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, state)``: everything but the weights that the run needs to go on."""
        opt = self.opt.state_dict()
        arrays = {f"opt.{k}": v for k, v in opt["arrays"].items()}
        if self.best_params is not None:
            arrays["best_params"] = self.best_params
        state = {
            "optimizer": opt["scalars"],
            "rng": self.rng.bit_generator.state,
            "history": self.history.state(),
            "best_val": self.best_val,
            "bad_epochs": self.bad_epochs,
            "lr0": self.lr0,
            "start_loss": self.start_loss,
        }
        if self.config is not None:
            state["config"] = self.config.to_dict()
        return arrays, state

    def resume(self, checkpoint: CheckpointStore) -> bool:
        """Continue from ``checkpoint`` if it holds one (True); nothing changes if it refuses."""
        loaded = checkpoint.load_checkpoint()
        if loaded is None:
            return False
        saved, arrays, state = loaded
        source = str(getattr(checkpoint, "path", checkpoint))
        history = history_of(source, state)
        if len(history) > self.epochs:
            raise ConfigError(
                f"{source}: the run has already trained {len(history)} epochs, "
                f"more than the {self.epochs} asked for"
            )
        if saved.to_config() != self.net.to_config():
            raise ConfigError(f"{source}: the checkpoint is for {saved}, not {self.net}")
        self._same_run(source, state.get("config"))
        # every array must fit the network: the compiled updates trust their sizes
        params = self.net.params
        for name, arr in arrays.items():
            if arr.shape != params.shape or arr.dtype != params.dtype:
                raise ModelFileError(
                    f"{source}: state array {name} has shape {arr.shape} and dtype "
                    f"{arr.dtype}; the network needs {params.shape} {params.dtype}"
                )
        self._load_state(source, arrays, state)
        self.net.params = saved.params
        self.history = history
        return True

    def _same_run(self, source: str, settings: Any) -> None:
        """Refuse a checkpoint that another run's settings wrote: the checkpoint, which
        its digest covers, is the truth about a run; what may change on resume may."""
        if self.config is None or settings is None:
            return
        try:
            written = TrainConfig.from_dict(settings)
        except ConfigError as exc:
            raise ModelFileError(f"{source}: its run's settings are unreadable ({exc})") from None
        differ = [name for name in written.diff(self.config) if name not in RESUMABLE]
        if differ:
            raise ConfigError(
                f"{source}: the checkpoint is of a run whose {', '.join(differ)} differ from "
                "the settings asked for (was the run's config.json edited?)"
            )

    def _load_state(self, source: str, arrays: dict[str, np.ndarray], state: dict) -> None:
        """Take the trainer's state from a checkpoint; all of it is read and checked
        before any of it is kept."""
        opt = type(self.opt)(lr=self.opt.lr, ops=self.opt.ops)
        rng = np.random.default_rng()
        try:
            opt.load_state_dict(
                {
                    "arrays": {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")},
                    "scalars": state["optimizer"],
                }
            )
            rng.bit_generator.state = state["rng"]
            best_val, bad_epochs = float(state["best_val"]), int(state["bad_epochs"])
            lr0, start_loss = float(state["lr0"]), state.get("start_loss")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{source}: the checkpoint state is incomplete or damaged ({exc!r})"
            ) from None
        self.opt.load_state_dict(opt.state_dict())
        self.rng.bit_generator.state = rng.bit_generator.state
        self.best_val, self.bad_epochs, self.lr0, self.start_loss = (
            best_val,
            bad_epochs,
            lr0,
            start_loss,
        )
        self.best_params = arrays.get("best_params")


def _cap_norms_of(net: MLP, c: float, params: np.ndarray) -> None:
    cap_norms(net.W, c)  # net.W are views into params


# ---------------------------------------------------------------------- one call


def _keyword_run(
    *,
    epochs: int | None,
    batch_size: int | None,
    optimizer: Optimizer | str | None,
    lr: float | None,
    schedule: Schedule | str | None,
    val_size: int | None,
    seed: int | None,
    early_stopping: EarlyStopping | int | None,
    average: float | None,
    augment: Augment | None,
    max_norm: float | None,
) -> dict[str, Any]:
    """:class:`Trainer`'s arguments from :func:`fit`'s keywords, None meaning the default."""
    if isinstance(early_stopping, bool) or not isinstance(early_stopping, EarlyStopping | None):
        # a patience, as TrainConfig takes it: 0 turns it off
        patience = CONSTRAINTS["early_stopping"].check("early_stopping", early_stopping)
        early_stopping = EarlyStopping(patience=patience) if patience else None
    return {
        "optimizer": _optimizer(optimizer, lr, average),
        "schedule": Schedule(schedule) if isinstance(schedule, str) else schedule,
        "epochs": 30 if epochs is None else epochs,
        "batch_size": 100 if batch_size is None else batch_size,
        "val_size": val_size or 0,
        "seed": 0 if seed is None else seed,
        "early_stopping": early_stopping,
        "augment": augment,
        "max_norm": max_norm,
    }


def _optimizer(
    optimizer: Optimizer | str | None, lr: float | None, average: float | None
) -> Optimizer:
    if optimizer is None:
        opt: Optimizer = RMSprop(lr=0.001, rho=0.9)
    elif isinstance(optimizer, str):
        opt = make_optimizer(optimizer)
    else:
        opt = optimizer
    if lr is not None:
        opt.lr = CONSTRAINTS["lr"].check("lr", lr)
    if average is not None:
        opt.average = CONSTRAINTS["average"].check("average", average) or None
    return opt


def fit(
    net: MLP,
    X: Any,
    y: Any,
    *,
    config: TrainConfig | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    optimizer: Optimizer | str | None = None,
    lr: float | None = None,
    schedule: Schedule | str | None = None,
    validation: tuple[Any, Any] | None = None,
    val_size: int | None = None,
    test: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    early_stopping: EarlyStopping | int | None = None,
    average: float | None = None,
    augment: Augment | None = None,
    max_norm: float | None = None,
    callbacks: Sequence[Callable[[dict[str, float], MLP], bool | None]] = (),
    checkpoint: str | Path | CheckpointStore | None = None,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> History:
    """Train ``net`` in place on ``X: (N, D)``, ``y: (N,)`` labels or ``(N, K)`` targets.

    Either ``config``, a :class:`~deltanet.config.TrainConfig` (``net`` must have its
    architecture), or the keywords below describe the run; not both.

    Args:
        epochs: passes over the data (default 30); ``batch_size`` (default 100).
        optimizer: an :class:`~deltanet.optimizers.Optimizer`, a name ("rmsprop", "adam",
            ...), or None for RMSprop(lr=0.001, ρ=0.9).
        lr: the initial learning rate (overrides the optimizer's).
        schedule: learning-rate schedule per epoch ("constant", "step", "cosine" or a
            :class:`~deltanet.optimizers.Schedule`).
        validation: ``(X_val, y_val)``; or ``val_size``: hold out the last ``val_size``
            samples of ``X``.  Validation error drives early stopping and nothing else.
        test: ``(X_test, y_test)`` evaluated each epoch for monitoring only.
        seed: seeds shuffling, augmentation and dropout (default 0).
        early_stopping: an :class:`EarlyStopping` or a patience; needs a validation set.
        average: evaluate and keep an exponential moving average of the weights
            (Polyak averaging) with this decay per step, e.g. 0.999; None: the
            optimizer's own choice (off unless it was made with ``average=``).
        augment: an :class:`~deltanet.augment.Augment` applied to every mini-batch.
        max_norm: cap each unit's incoming weight vector at this L2 norm after every step.
        callbacks: ``cb(record, net)`` after each epoch; returning True stops training.
        checkpoint: a path, or a :class:`CheckpointStore`, written after every epoch.
        resume: continue from ``checkpoint`` if it holds one.
        progress: show a progress bar per epoch and a summary line per epoch.
        log: where summary lines go (default: printed above the progress bar).

    Returns:
        The :class:`History`; ``history.outcome`` says how training ended.
    """
    options = {"validation": validation, "test": test, "shuffle": shuffle}
    options.update(progress=progress, log=log)
    run = {"epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr}
    run.update(schedule=schedule, val_size=val_size, seed=seed, early_stopping=early_stopping)
    run.update(average=average, augment=augment, max_norm=max_norm)
    if config is None:
        trainer = Trainer(net, X, y, **_keyword_run(**run), **options)
    elif given := [k for k, v in run.items() if v is not None]:
        raise TypeError(
            f"fit(config=...) takes {', '.join(given)} from the config; "
            "pass config.replace(...) instead"
        )
    else:
        trainer = Trainer.from_config(net, X, y, config, **options)
    store = _store(checkpoint)
    if resume and store is not None:
        trainer.resume(store)
    return trainer.run(callbacks, store)


def train(config: TrainConfig, X: Any, y: Any, **options: Any) -> tuple[MLP, History]:
    """A new network trained as ``config`` says: ``(net, history)``.

    ``X, y``: the training data (``config.val_size`` of it is held out for
    validation); ``options``: the other keywords of :func:`fit` (``test``,
    ``callbacks``, ``checkpoint``, ``progress``, ...).
    """
    net = config.make_network()
    return net, fit(net, X, y, config=config, **options)
