"""How fast an epoch is, and how fast it could be: the measurements behind ``deltanet bench``.

The bound: an epoch of mini-batch training performs, per batch of ``m`` samples and
for each layer ``l`` with weights ``(D_{l-1}, D_l)``,

* forward ``a_{l-1} @ W_l``: an ``(m, D_{l-1}) × (D_{l-1}, D_l)`` product,
* backward ``a_{l-1}ᵀ @ δ_l``: ``(D_{l-1}, m) × (m, D_l)``,
* and, above the first layer, ``δ_l @ W_lᵀ``: ``(m, D_l) × (D_l, D_{l-1})``,

each costing ``2·m·k·n`` floating-point operations; an epoch that evaluates a
validation split adds the forward products of its rows, in the network's evaluation
batches.  :func:`gemm_epochs` times exactly these products, with the same shapes,
layouts and dtype, back to back: an epoch cannot be faster than that on this machine
unless its matrix products get faster.  :func:`train_path_epochs` times the epochs a
user runs: ``deltanet train``'s, for any :class:`~deltanet.config.TrainConfig`.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deltanet.network import EVAL_BATCH, MLP
from deltanet.optimizers import RMSprop
from deltanet.progress import Progress
from deltanet.training import CheckpointFile, Trainer

if TYPE_CHECKING:
    from deltanet.config import TrainConfig


def blas_info() -> str:
    """E.g. "openblas 0.3.30 (SkylakeX, 2 threads)"."""
    from threadpoolctl import threadpool_info

    seen = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        text = (
            f"{lib.get('internal_api')} {lib.get('version')} "
            f"({lib.get('architecture')}, {lib.get('num_threads')} threads)"
        )
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "unknown BLAS"


def _chunks(n: int, size: int) -> list[int]:
    return [min(size, n - s) for s in range(0, n, size)]


def epoch_flops(layers: Sequence[int], n: int, batch_size: int, evaluated: int = 0) -> float:
    """Floating-point operations of an epoch's matrix products: training on ``n`` rows
    in batches, then the forward products of ``evaluated`` rows (validation)."""
    flops = 0.0
    for m in _chunks(n, batch_size):
        for i, (d_in, d_out) in enumerate(itertools.pairwise(layers)):
            flops += 2 * m * d_in * d_out * (3 if i > 0 else 2)
    for m in _chunks(evaluated, EVAL_BATCH):
        flops += sum(2 * m * d_in * d_out for d_in, d_out in itertools.pairwise(layers))
    return flops


def gemm_epochs(
    layers: Sequence[int],
    n: int,
    batch_size: int,
    dtype: str = "float32",
    seed: int = 0,
    evaluated: int = 0,
) -> Iterator[float]:
    """Endless: each ``next`` times one epoch's matrix products, back to back, in seconds.

    Training on ``n`` rows in batches of ``batch_size``; then, with ``evaluated``, the
    forward products of that many rows in the network's evaluation batches.
    """
    rng = np.random.default_rng(seed)

    def operand(*shape: int) -> np.ndarray:
        return rng.random(shape, dtype=np.float64).astype(dtype)

    steps = []
    sizes = _chunks(n, batch_size)
    for m in sorted(set(sizes)):
        ops = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(layers)):
            a, W, d = operand(m, d_in), operand(d_in, d_out), operand(m, d_out)
            ops.append((a, W, np.empty((m, d_out), dtype)))
            ops.append((a.T, d, np.empty((d_in, d_out), dtype)))
            if i > 0:
                ops.append((d, W.T, np.empty((m, d_in), dtype)))
        steps.append((ops, sizes.count(m)))
    chunks = _chunks(evaluated, EVAL_BATCH)
    for m in sorted(set(chunks)):
        ops = [
            (operand(m, d_in), operand(d_in, d_out), np.empty((m, d_out), dtype))
            for d_in, d_out in itertools.pairwise(layers)
        ]
        steps.append((ops, chunks.count(m)))
    while True:
        t0 = time.perf_counter()
        for ops, count in steps:
            for _ in range(count):
                for A, B, C in ops:
                    np.matmul(A, B, out=C)
        yield time.perf_counter() - t0


@dataclass
class Measurement:
    name: str
    epoch_seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.epoch_seconds)

    @property
    def fastest(self) -> float:
        return min(self.epoch_seconds)


def train_path_epochs(
    config: TrainConfig, X: np.ndarray, y: np.ndarray, directory: str | os.PathLike[str]
) -> Iterator[float]:
    """Endless: each ``next`` runs one epoch the way ``deltanet train`` does, and returns
    its wall-clock seconds.

    The run ``config`` describes, on ``X, y`` (split for validation as it says), through
    the public :class:`~deltanet.training.Trainer`: augmentation, dropout, the weight
    average, the validation pass, the progress bar (drawn nowhere) and the checkpoint
    written into ``directory`` after every epoch, as ``deltanet train`` writes it.
    """
    net = config.make_network()
    quiet = Progress(True, log=lambda line: None, stream=open(os.devnull, "w"))
    trainer = Trainer.from_config(net, X, y, config, progress=quiet)
    store = CheckpointFile(Path(directory) / "checkpoint.safetensors")
    try:
        while True:
            t0 = time.perf_counter()
            if trainer.advance(checkpoint=store) is None:
                raise RuntimeError(trainer.history.stop_reason)
            yield time.perf_counter() - t0
    finally:
        quiet.stream.close()


def deltanet_epochs(
    X: np.ndarray,
    y: np.ndarray,
    layers: Sequence[int] = (784, 300, 10),
    dtype: str = "float32",
    batch_size: int = 100,
    seed: int = 0,
) -> Iterator[float]:
    """Endless: each ``next`` trains one epoch of the default configuration (sigmoid,
    softmax cross-entropy, RMSprop 0.001) with the trainer ``fit`` uses; its seconds."""
    net = MLP(layers, hidden="sigmoid", loss="cross_entropy", dtype=dtype, seed=seed)
    # as many epochs as anyone will time: the constant schedule never looks at the number
    trainer = Trainer(
        net, X, y, optimizer=RMSprop(lr=0.001), epochs=2**31, batch_size=batch_size, seed=seed
    )
    while True:
        record = trainer.epoch()
        if record is None:  # diverged: cannot happen at this learning rate
            raise RuntimeError(trainer.history.stop_reason)
        yield record["seconds"]


def interleave(
    runners: dict[str, Iterator[float]],
    rounds: int,
    warmup: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Measurement]:
    """Time ``rounds`` epochs of every runner, round robin: one epoch of each per round,
    the order rotated by one each round.

    A slow spell of a shared machine then falls on every system alike instead of on
    whichever happened to run at the time, so ratios of the medians stay comparable.
    The first ``warmup`` rounds (compilation, caches, page faults) are not counted.
    """
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(warmup + rounds):
        # each round starts one further along, so no runner always follows the same one
        # (threads left spinning, or caches left full, by a runner then bias no neighbour)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds = next(runners[name])
            if r >= warmup:
                times[name].append(seconds)
        if progress is not None:
            progress(r + 1)
    return [Measurement(name, t) for name, t in times.items()]


def machine() -> str:
    import os

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {blas_info()}"
    )
