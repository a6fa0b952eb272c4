"""The record of a training run: one row per epoch, and how the run ended.

``history.csv`` in a run directory is :meth:`History.to_csv`; a checkpoint holds
:meth:`History.state`.
"""

from __future__ import annotations

import csv
import enum
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from deltanet.errors import DataError, ModelFileError

COLUMNS = ("epoch", "lr", "loss", "train_error", "val_error", "test_error", "seconds")


class Outcome(enum.Enum):
    """How a run ended."""

    COMPLETED = "completed"  # every epoch asked for
    EARLY_STOPPED = "early_stopped"  # the validation error stopped improving
    DIVERGED = "diverged"  # the loss became non-finite or exploded; rolled back
    STOPPED = "stopped"  # a callback asked to stop


@dataclass
class History:
    """Per-epoch records (dicts with the keys of :data:`COLUMNS`) and how training ended.

    A sequence of records: ``len(history)`` epochs, ``history[-1]`` the last record,
    ``for record in history``.  ``history.column("loss")`` (or ``history["loss"]``)
    is one column.  ``loss`` and ``train_error`` are running means over the epoch's
    mini-batches (the weights change during the epoch); ``val_error`` and
    ``test_error`` are measured with the weights at the end of the epoch.
    ``outcome`` is None while the run has not ended.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""
    best_epoch: int | None = None
    outcome: Outcome | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            return self.column(key)
        return self.records[key]

    def column(self, key: str) -> list[float]:
        """One value per epoch: ``key`` is one of :data:`COLUMNS`."""
        return [r[key] for r in self.records]

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1] if self.records else {}

    def stop(self, outcome: Outcome, reason: str) -> None:
        self.outcome, self.stop_reason = outcome, reason

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
            raise DataError(f"history.csv lacks columns {sorted(set(COLUMNS) - set(rows[0]))}")
        records = [{k: float(r[k]) if r[k] != "" else math.nan for k in COLUMNS} for r in rows]
        for r in records:
            r["epoch"] = int(r["epoch"])
        return cls(records, "", best_epoch)

    def state(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
            "outcome": None if self.outcome is None else self.outcome.value,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        outcome = state.get("outcome")
        return cls(
            list(state["records"]),
            state.get("stop_reason", ""),
            state.get("best_epoch"),
            None if outcome is None else Outcome(outcome),
        )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def history_of(source: str, state: dict[str, Any]) -> History:
    """The history in a checkpoint's ``state``, or a ModelFileError naming ``source``."""
    try:
        return History.from_state(state["history"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{source}: the checkpoint state is incomplete or damaged ({exc!r})"
        ) from None
