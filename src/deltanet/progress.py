"""What a run shows while it trains: a progress bar per epoch and one line per epoch."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    """A tqdm bar per epoch and one summary line per epoch (or silence)."""

    enabled: bool
    log: Callable[[str], None] | None = None
    bar: Any = None
    stream: Any = None  # where the bar is drawn (None: stderr); a benchmark draws it nowhere

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
            file=self.stream,
        )

    def update(self, n: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

    def end(self, line: str | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if line is not None:
            self.say(line)

    def say(self, line: str) -> None:
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
