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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deltanet.io import load_checkpoint, save_checkpoint
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
        if self.enabled:
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
    X = net.check_X(X)
    Y, labels = _labels(net, y, len(X))
    if validation is not None and val_size:
        raise ValueError("give either validation=(X_val, y_val) or val_size, not both")
    X_val = labels_val = None
    if validation is not None:
        X_val = net.check_X(validation[0])
        labels_val = _labels(net, validation[1], len(X_val))[1]
    elif val_size:
        X, Y, X_val, Y_val = split_validation(X, Y, val_size)
        labels, labels_val = labels[: len(X)], Y_val.argmax(axis=1)
    X_test = labels_test = None
    if test is not None:
        X_test = net.check_X(test[0])
        labels_test = _labels(net, test[1], len(X_test))[1]
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None and X_val is None:
        raise ValueError("early stopping needs a validation set (validation= or val_size=)")
    opt = _optimizer(optimizer, lr)
    lr0 = opt.lr
    schedule = Schedule(schedule) if isinstance(schedule, str) else (schedule or Schedule())
    rng = np.random.default_rng(seed)
    history = History()
    best_val, best_params, bad_epochs, start = math.inf, None, 0, 0

    if resume and checkpoint is not None and Path(checkpoint).exists():
        saved, arrays, state = load_checkpoint(checkpoint)
        if saved.config() != net.config():
            raise ValueError(f"{checkpoint}: the checkpoint is for {saved}, not {net}")
        net.params = saved.params
        opt.load_state_dict(
            {
                "arrays": {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")},
                "scalars": state["optimizer"],
            }
        )
        rng.bit_generator.state = state["rng"]
        history = History.from_state(state["history"])
        best_val, bad_epochs = state["best_val"], state["bad_epochs"]
        best_params = arrays.get("best_params")
        start = len(history)
        lr0 = state["lr0"]

    n = len(X)
    n_batches = -(-n // batch_size)
    Xb = np.empty((min(batch_size, n), X.shape[1]), net.dtype)
    Yb = np.empty((min(batch_size, n), Y.shape[1]), net.dtype)
    lb = np.empty(min(batch_size, n), labels.dtype)
    snapshot = np.empty_like(net.params)
    bar = _Progress(progress, log)
    order = np.arange(n)

    for epoch in range(start, epochs):
        if history.stop_reason:
            break
        t0 = time.perf_counter()
        opt.lr = schedule(lr0, epoch, epochs)
        perm = rng.permutation(n) if shuffle else order
        np.copyto(snapshot, net.params)
        bar.start(epoch, epochs, n_batches)
        loss_sum, wrong, diverged = 0.0, 0, ""
        for b in range(n_batches):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            m = len(idx)
            xb, yb, lbb = Xb[:m], Yb[:m], lb[:m]
            np.take(X, idx, axis=0, out=xb)
            np.take(Y, idx, axis=0, out=yb)
            np.take(labels, idx, out=lbb)
            J = net._step_loss_and_grad(xb, yb)
            if not math.isfinite(J):
                diverged = f"loss is {J} at epoch {epoch + 1}, batch {b + 1} of {n_batches}"
                break
            loss_sum += J * m
            wrong += int(np.count_nonzero(net._workspace(m).out.argmax(axis=1) != lbb))
            opt.step(net.params, net.grad)
            if progress and (b % 20 == 19 or b == n_batches - 1):
                bar.update(20 if b % 20 == 19 else (b % 20) + 1, loss_sum / ((b + 1) * batch_size))
        if not diverged and not np.isfinite(net.params).all():
            diverged = f"parameters became non-finite during epoch {epoch + 1}"
        if diverged:
            net.params = snapshot
            history.stop_reason = (
                f"training diverged: {diverged}; parameters rolled back to the end of epoch "
                f"{epoch} (try a smaller learning rate)"
            )
            bar.end(history.stop_reason)
            warnings.warn(history.stop_reason, TrainingDiverged, stacklevel=2)
            break
        record = {
            "epoch": epoch + 1,
            "lr": opt.lr,
            "loss": loss_sum / n,
            "train_error": wrong / n,
            "val_error": _error(net, X_val, labels_val) if X_val is not None else math.nan,
            "test_error": _error(net, X_test, labels_test) if X_test is not None else math.nan,
            "seconds": time.perf_counter() - t0,
        }
        history.records.append(record)
        improved = False
        if X_val is not None and record["val_error"] < best_val - (
            early_stopping.min_delta if early_stopping else 0.0
        ):
            best_val, bad_epochs, improved = record["val_error"], 0, True
            history.best_epoch = epoch + 1
            if early_stopping is not None and early_stopping.restore_best:
                best_params = net.params.copy()
        elif X_val is not None:
            bad_epochs += 1
        if early_stopping is not None and bad_epochs >= early_stopping.patience:
            history.stop_reason = (
                f"early stopping: validation error has not improved for {bad_epochs} epochs "
                f"(best {100 * best_val:.2f}% at epoch {history.best_epoch})"
            )
        bar.end(epoch_line(record, epochs, improved))
        if checkpoint is not None:
            arrays = {f"opt.{k}": v for k, v in opt.state.items()}
            if best_params is not None:
                arrays["best_params"] = best_params
            save_checkpoint(
                checkpoint,
                net,
                arrays,
                {
                    "optimizer": opt.state_dict()["scalars"],
                    "rng": rng.bit_generator.state,
                    "history": history.state(),
                    "best_val": best_val,
                    "bad_epochs": bad_epochs,
                    "lr0": lr0,
                },
            )
        if any(cb(record, net) for cb in callbacks):
            history.stop_reason = (
                history.stop_reason or f"stopped by a callback after epoch {epoch + 1}"
            )
            break

    if (
        early_stopping is not None
        and early_stopping.restore_best
        and best_params is not None
        and history.best_epoch != len(history)
    ):
        net.params = best_params
        if progress:
            (log or _tqdm_write)(f"restored the weights of epoch {history.best_epoch}")
    return history


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
