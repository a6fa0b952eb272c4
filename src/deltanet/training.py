"""Mini-batch training: validation, early stopping, divergence handling, checkpoints, resume.

:func:`fit` (also ``net.fit``) runs epochs of shuffled mini-batches.  What it promises:

* reproducible: one ``numpy.random.Generator`` seeded by ``seed`` shuffles the data, so
  the same seed gives bit-identical weights on the same machine;
* model selection on the validation split only; a test set passed as ``test=`` is
  evaluated each epoch for monitoring and never used to decide anything;
* a non-finite loss stops training, names the epoch and batch, and rolls the
  parameters back to the end of the last good epoch: nothing NaN is ever saved;
* with ``checkpoint=PATH`` the full state (weights, optimizer state, RNG state,
  history, early-stopping state) is written atomically after every epoch, and
  ``resume=True`` continues it to the same bytes an uninterrupted run ends with.
"""

from __future__ import annotations

import csv
import io
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deltanet import kernels
from deltanet.augment import Augment
from deltanet.batches import Batches
from deltanet.io import ModelFileError, load_checkpoint, save_checkpoint
from deltanet.network import MLP
from deltanet.optimizers import Optimizer, RMSprop, Schedule, make_optimizer

COLUMNS = ("epoch", "lr", "loss", "train_error", "val_error", "test_error", "seconds")


class TrainingDiverged(RuntimeWarning):
    """Warned when a non-finite loss stops training (the parameters are rolled back)."""


@dataclass
class EarlyStopping:
    """Stop when the validation error has not improved by ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the weights of the best epoch are put back at the end."""

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1, got {self.patience}")


@dataclass
class History:
    """Per-epoch records (dicts with the keys of :data:`COLUMNS`) and how training ended.

    ``loss`` and ``train_error`` are running means over the epoch's mini-batches (the
    weights change during the epoch); ``val_error`` and ``test_error`` are measured with
    the weights at the end of the epoch.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""
    best_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list[float]:
        return [r[key] for r in self.records]

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1] if self.records else {}

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in self.records:
            writer.writerow({k: _fmt(r.get(k)) for k in COLUMNS})
        return buf.getvalue()

    @classmethod
    def from_csv(cls, text: str, best_epoch: int | None = None) -> History:
        """Read back what :meth:`to_csv` wrote (empty cells become NaN)."""
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and set(COLUMNS) - set(rows[0]):
            raise ValueError(f"history.csv lacks columns {sorted(set(COLUMNS) - set(rows[0]))}")
        records = [{k: float(r[k]) if r[k] != "" else math.nan for k in COLUMNS} for r in rows]
        for r in records:
            r["epoch"] = int(r["epoch"])
        return cls(records, "", best_epoch)

    def state(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        return cls(list(state["records"]), state.get("stop_reason", ""), state.get("best_epoch"))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _history(checkpoint: str | Path, state: dict[str, Any]) -> History:
    try:
        return History.from_state(state["history"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{checkpoint}: the checkpoint state is incomplete or damaged ({exc!r})"
        ) from None


def checkpoint_progress(checkpoint: str | Path) -> tuple[int, str | None]:
    """``(epochs trained, why the run stopped early or None)`` of a checkpoint."""
    _, _, state = load_checkpoint(checkpoint)
    history = _history(checkpoint, state)
    return len(history), history.stop_reason or None


def split_validation(
    X: np.ndarray, y: np.ndarray, val_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the *last* ``val_size`` samples (for MNIST: the last 10,000 training images)."""
    if not 0 <= val_size < len(X):
        raise ValueError(f"val_size must be in 0..{len(X) - 1}, got {val_size}")
    cut = len(X) - val_size
    return X[:cut], y[:cut], X[cut:], y[cut:]


def _labels(net: MLP, y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    Y = net.targets(y, n)
    return Y, Y.argmax(axis=1)


def _error(net: MLP, X: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(net._outputs(X).argmax(axis=1) != labels))


@dataclass
class _Progress:
    """A tqdm bar per epoch and one summary line per epoch (or silence)."""

    enabled: bool
    log: Callable[[str], None] | None = None
    bar: Any = None

    def start(self, epoch: int, epochs: int, n_batches: int) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=n_batches,
            desc=f"epoch {epoch + 1}/{epochs}",
            unit="batch",
            leave=False,
            dynamic_ncols=True,
            mininterval=0.2,
        )

    def update(self, n: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

    def end(self, line: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.enabled or self.log is not None:  # --quiet: no bar, still a line per epoch
            (self.log or _tqdm_write)(line)


def _tqdm_write(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line)


def epoch_line(record: dict[str, float], epochs: int, best: bool = False) -> str:
    parts = [
        f"epoch {int(record['epoch']):>3}/{epochs}",
        f"loss {record['loss']:.4f}",
        f"train {100 * record['train_error']:5.2f}%",
    ]
    for key, name in (("val_error", "val"), ("test_error", "test")):
        if not math.isnan(record[key]):
            parts.append(f"{name} {100 * record[key]:5.2f}%")
    parts += [f"lr {record['lr']:.3g}", f"{record['seconds']:.2f}s"]
    return "  ".join(parts) + ("  *" if best else "")


def fit(
    net: MLP,
    X: Any,
    y: Any,
    *,
    epochs: int = 30,
    batch_size: int = 100,
    optimizer: Optimizer | str | None = None,
    lr: float | None = None,
    schedule: Schedule | str | None = None,
    validation: tuple[Any, Any] | None = None,
    val_size: int | None = None,
    test: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    seed: int = 0,
    early_stopping: EarlyStopping | int | None = None,
    average: float | None = None,
    augment: Augment | None = None,
    max_norm: float | None = None,
    callbacks: Sequence[Callable[[dict[str, float], MLP], bool | None]] = (),
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> History:
    """Train ``net`` in place on ``X: (N, D)``, ``y: (N,)`` labels or ``(N, K)`` targets.

    Args:
        optimizer: an :class:`~deltanet.optimizers.Optimizer`, a name ("rmsprop", "adam",
            ...), or None for RMSprop(lr=0.001, ρ=0.9).
        lr: the initial learning rate (overrides the optimizer's).
        schedule: learning-rate schedule per epoch ("constant", "step", "cosine" or a
            :class:`~deltanet.optimizers.Schedule`).
        validation: ``(X_val, y_val)``; or ``val_size``: hold out the last ``val_size``
            samples of ``X``.  Validation error drives early stopping and nothing else.
        test: ``(X_test, y_test)`` evaluated each epoch for monitoring only.
        early_stopping: an :class:`EarlyStopping` or a patience; needs a validation set.
        average: evaluate and keep an exponential moving average of the weights
            (Polyak averaging) with this decay per step, e.g. 0.999; None: off.
            The average starts at the initial weights with decay ``min(average,
            (1 + t) / (10 + t))`` at step ``t`` so early steps are not over-weighted.
        augment: an :class:`~deltanet.augment.Augment` applied to every mini-batch.
        max_norm: after every step, scale each unit's incoming weight vector (a column
            of ``W``) down to this L2 norm if it is longer (Srivastava et al. 2014).
        callbacks: ``cb(record, net)`` after each epoch; returning True stops training.
        checkpoint: path of a checkpoint written atomically after every epoch.
        resume: continue from ``checkpoint`` if it exists.
        progress: show a progress bar per epoch and a summary line per epoch.
        log: where summary lines go (default: printed above the progress bar).

    Returns:
        The :class:`History`.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if average is not None and not 0 < average < 1:
        raise ValueError(f"average must be a decay in (0, 1), got {average}")
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    trainer = _Trainer(net, _optimizer(optimizer, lr), seed, early_stopping, average)
    trainer.augment, trainer.max_norm = augment, max_norm
    trainer.data(X, y, validation, val_size, test)
    if early_stopping is not None and trainer.X_val is None:
        raise ValueError("early stopping needs a validation set (validation= or val_size=)")
    if resume and checkpoint is not None and Path(checkpoint).exists():
        trainer.resume(checkpoint, epochs)
    schedule = Schedule(schedule) if isinstance(schedule, str) else (schedule or Schedule())
    bar = _Progress(progress, log)
    history = trainer.history
    for epoch in range(len(history), epochs):
        if history.stop_reason:
            break
        trainer.opt.lr = schedule(trainer.lr0, epoch, epochs)
        record = trainer.epoch(epoch, epochs, batch_size, shuffle, bar)
        if record is None:  # diverged
            bar.end(history.stop_reason)
            warnings.warn(history.stop_reason, TrainingDiverged, stacklevel=2)
            break
        improved = trainer.select(record)
        bar.end(epoch_line(record, epochs, improved))
        if checkpoint is not None:
            trainer.save(checkpoint)
        if any(cb(record, net) for cb in callbacks):
            history.stop_reason = (
                history.stop_reason or f"stopped by a callback after epoch {epoch + 1}"
            )
            break
    restored = trainer.finish()
    if restored and progress:
        (log or _tqdm_write)(f"restored the weights of epoch {history.best_epoch}")
    return history


class _Trainer:
    """The state of one training run, and the steps of an epoch."""

    def __init__(
        self,
        net: MLP,
        opt: Optimizer,
        seed: int,
        early_stopping: EarlyStopping | None,
        average: float | None,
    ):
        self.net, self.opt, self.early_stopping, self.average = net, opt, early_stopping, average
        self.lr0 = opt.lr
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self.best_val, self.best_params, self.bad_epochs = math.inf, None, 0
        self.ema = net.params.copy() if average is not None else None
        self.steps = 0
        self.X_val = self.labels_val = self.X_test = self.labels_test = None
        self.augment: Augment | None = None
        self.max_norm: float | None = None

    # ------------------------------------------------------------------ set-up
    def data(
        self,
        X: Any,
        y: Any,
        validation: tuple[Any, Any] | None,
        val_size: int | None,
        test: tuple[Any, Any] | None,
    ) -> None:
        net = self.net
        X = net.check_X(X)
        Y, labels = _labels(net, y, len(X))
        if validation is not None and val_size:
            raise ValueError("give either validation=(X_val, y_val) or val_size, not both")
        if validation is not None:
            self.X_val = net.check_X(validation[0])
            self.labels_val = _labels(net, validation[1], len(self.X_val))[1]
        elif val_size:
            X, Y, self.X_val, Y_val = split_validation(X, Y, val_size)
            labels, self.labels_val = labels[: len(X)], Y_val.argmax(axis=1)
        if test is not None:
            self.X_test = net.check_X(test[0])
            self.labels_test = _labels(net, test[1], len(self.X_test))[1]
        self.X, self.Y, self.labels = X, Y, labels
        self.batches: Batches | None = None  # built by the first epoch, which knows the size

    def resume(self, checkpoint: str | Path, epochs: int) -> None:
        """Continue from ``checkpoint``, to ``epochs`` in all; nothing changes if it refuses."""
        saved, arrays, state = load_checkpoint(checkpoint)
        history = _history(checkpoint, state)
        done = len(history)
        if done > epochs:
            raise ValueError(
                f"{checkpoint}: the run has already trained {done} epochs, "
                f"more than the {epochs} asked for"
            )
        if saved.config() != self.net.config():
            raise ValueError(f"{checkpoint}: the checkpoint is for {saved}, not {self.net}")
        # every array must fit the network: the compiled updates trust their sizes
        for name, arr in arrays.items():
            if arr.shape != self.net.params.shape or arr.dtype != self.net.params.dtype:
                raise ModelFileError(
                    f"{checkpoint}: state array {name} has shape {arr.shape} and dtype "
                    f"{arr.dtype}; the network needs {self.net.params.shape} {self.net.dtype}"
                )
        self.net.params = saved.params
        try:
            self.opt.load_state_dict(
                {
                    "arrays": {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")},
                    "scalars": state["optimizer"],
                }
            )
            self.rng.bit_generator.state = state["rng"]
            self.history = history
            self.best_val, self.bad_epochs = float(state["best_val"]), int(state["bad_epochs"])
            self.lr0, self.steps = float(state["lr0"]), int(state.get("steps", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{checkpoint}: the checkpoint state is incomplete or damaged ({exc!r})"
            ) from None
        self.best_params = arrays.get("best_params")
        if self.ema is not None:
            if "ema" not in arrays:
                raise ValueError(f"{checkpoint}: the checkpoint has no weight average to resume")
            self.ema = arrays["ema"].copy()

    # ------------------------------------------------------------------ one epoch
    def epoch(
        self, epoch: int, epochs: int, batch_size: int, shuffle: bool, bar: _Progress
    ) -> dict[str, float] | None:
        """Train one epoch; its record, or None when it diverged (and was rolled back)."""
        net, opt, X = self.net, self.opt, self.X
        n = len(X)
        n_batches = -(-n // batch_size)
        if self.batches is None or len(self.batches.xb) < min(batch_size, n):
            # before the clock starts: checking X for bytes is set-up, not training
            self.batches = Batches(X, self.Y, self.labels, batch_size)
        t0 = time.perf_counter()
        perm = self.rng.permutation(n) if shuffle else np.arange(n)
        snapshot = net.params.copy()
        ema_snapshot = None if self.ema is None else self.ema.copy()
        opt_snapshot, steps_snapshot = opt.state_dict(), self.steps
        bar.start(epoch, epochs, n_batches)
        loss_sum, wrong, diverged = 0.0, 0, ""
        dropout = net.dropout or net.input_dropout
        for b in range(n_batches):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            m = len(idx)
            xb, yb, lbb = self.batches.gather(idx)
            if self.augment is not None:
                self.augment(xb, self.rng, out=xb)
            J = net._step_loss_and_grad(xb, yb, self.rng if dropout else None)
            if not math.isfinite(J):
                diverged = f"loss is {J} at epoch {epoch + 1}, batch {b + 1} of {n_batches}"
                break
            loss_sum += J * m
            wrong += int(np.count_nonzero(net._workspace(m).out.argmax(axis=1) != lbb))
            opt.step(net.params, net.grad)
            if self.max_norm:
                _max_norm(net, self.max_norm)
            self._average()
            if bar.enabled and (b % 20 == 19 or b == n_batches - 1):
                bar.update(b % 20 + 1, loss_sum / ((b + 1) * batch_size))
        if not diverged and not np.isfinite(net.params).all():
            diverged = f"parameters became non-finite during epoch {epoch + 1}"
        if diverged:
            net.params = snapshot
            self.ema = ema_snapshot
            opt.load_state_dict(opt_snapshot)  # its moments saw the bad steps too
            self.steps = steps_snapshot
            self.history.stop_reason = (
                f"training diverged: {diverged}; parameters rolled back to the end of epoch "
                f"{epoch} (try a smaller learning rate)"
            )
            return None
        with self.evaluated_weights():
            val = _error(net, self.X_val, self.labels_val) if self.X_val is not None else math.nan
            test = (
                _error(net, self.X_test, self.labels_test) if self.X_test is not None else math.nan
            )
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

    def _average(self) -> None:
        if self.ema is None:
            return
        self.steps += 1
        decay = min(self.average, (1 + self.steps) / (10 + self.steps))
        kernels.ema(self.ema, self.net.params, 1 - decay)  # ema ← decay·ema + (1 − decay)·w

    @contextmanager
    def evaluated_weights(self) -> Iterator[None]:
        """Within the block the network holds the weights that are evaluated (the average)."""
        if self.ema is None:
            yield
            return
        raw = self.net.params.copy()
        self.net.params = self.ema
        try:
            yield
        finally:
            self.net.params = raw

    # ------------------------------------------------------------------ selection, files
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
            self.history.stop_reason = (
                f"early stopping: validation error has not improved for {self.bad_epochs} "
                f"epochs (best {100 * self.best_val:.2f}% at epoch {self.history.best_epoch})"
            )
        return False

    def save(self, checkpoint: str | Path) -> None:
        arrays = {f"opt.{k}": v for k, v in self.opt.state.items()}
        if self.best_params is not None:
            arrays["best_params"] = self.best_params
        if self.ema is not None:
            arrays["ema"] = self.ema
        save_checkpoint(
            checkpoint,
            self.net,
            arrays,
            {
                "optimizer": self.opt.state_dict()["scalars"],
                "rng": self.rng.bit_generator.state,
                "history": self.history.state(),
                "best_val": self.best_val,
                "bad_epochs": self.bad_epochs,
                "lr0": self.lr0,
                "steps": self.steps,
            },
        )

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
        if self.ema is not None:
            self.net.params = self.ema
        return False


def _max_norm(net: MLP, c: float) -> None:
    """Scale every column of every ``W`` (a unit's incoming weights) to L2 norm ≤ ``c``."""
    for W in net.W:
        norms = np.sqrt(np.einsum("ij,ij->j", W, W))
        np.maximum(norms, c, out=norms)
        W *= (c / norms).astype(W.dtype, copy=False)


def _optimizer(optimizer: Optimizer | str | None, lr: float | None) -> Optimizer:
    if optimizer is None:
        opt: Optimizer = RMSprop(lr=0.001, rho=0.9)
    elif isinstance(optimizer, str):
        opt = make_optimizer(optimizer)
    else:
        opt = optimizer
    if lr is not None:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be a positive number, got {lr}")
        opt.lr = float(lr)
    return opt
