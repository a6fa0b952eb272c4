"""Finite-difference gradient checking that says *where* a gradient is wrong and *why*.

:func:`gradcheck` checks any flat-vector cost function, deltanet's or your own::

    report = gradcheck(cost, w, grad, shapes={"W1": (784, 30), "b1": (30,), ...})
    print(report)            # one row per block, the causes, what to fix
    report.causes            # {"b2": ("bias_delta",), ...}: codes from CAUSES
    report.raise_if_failed()

How it measures (:mod:`deltanet.finitediff`): central differences in float64 along
sampled coordinates of every block (every coordinate with ``full=True``), each with a
noise bar computed from the cost's *measured* rounding.  A coordinate passes when
``|a − n| ≤ max(rtol·max(|a|, |n|), noise)``.  A cost computed in float32 is detected
by that rounding, and checked with a step and tolerance that suit it.

How it explains (:mod:`deltanet.diagnosis`): per block, a constant factor, a flipped
sign, zeros, a few coordinates, or a part proportional to the block's own parameters (a
penalty whose gradient does not match its cost), separated from the rest; per layer,
whether a bias is built from the delta its weights use, and where a wrong delta enters.
Every failing block gets cause codes from :data:`CAUSES`; :attr:`GradCheckReport.summary`
is the one-line verdict derived from them.

Compared with ``torch.autograd.gradcheck``, the report names the worst coordinate of
every block (``W1[17, 3]``, not ``index 13331``) and the cause of each failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltanet import diagnosis, finitediff
from deltanet.diagnosis import CAUSES, Penalty
from deltanet.finitediff import Precision
from deltanet.layout import Block, Layout

DEFAULT_SAMPLE = 200  # coordinates checked per block unless full=True or max_coords
MORE_WHERE_WRONG = 2  # a sampled block that fails gets this many times more coordinates
PROGRESS_DELAY = 2.0  # seconds before a progress bar appears

__all__ = ["CAUSES", "BlockResult", "GradCheckReport", "GradientCheckError", "gradcheck"]


class GradientCheckError(AssertionError):
    """Raised by :meth:`GradCheckReport.raise_if_failed`; its message is the report."""


@dataclass
class BlockResult:
    """The check of one named block.

    ``indices`` are flat indices within the block; ``analytic``, ``numeric``, ``noise``
    (how far the cost's rounding alone can move each numeric value), ``kink`` and
    ``params`` are aligned with them.
    """

    name: str
    shape: tuple[int, ...]
    indices: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray
    params: np.ndarray
    rtol: float
    sampled: bool = False  # fewer coordinates checked than the block has
    causes: tuple[str, ...] = ()  # codes from CAUSES; empty for a passing block
    factor: float | None = None  # for "scale"/"sign": analytic ≈ factor × numeric
    penalty: Penalty | None = None  # the penalty component, when one was separated
    diagnosis: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_checked(self) -> int:
        return int(self.indices.size)

    @property
    def n_kinks(self) -> int:
        return int(self.kink.sum())

    @property
    def tol(self) -> np.ndarray:
        """Per coordinate, the largest ``|a − n|`` that passes."""
        return diagnosis.tolerance(self.analytic, self.numeric, self.noise, self.rtol)

    @property
    def failed(self) -> np.ndarray:
        """Mask of checked coordinates that fail (kinks never do; NaN always does)."""
        return ~(np.abs(self.analytic - self.numeric) <= self.tol) & ~self.kink

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def n_resolved(self) -> int:
        """Coordinates that stand out of the noise, or agree exactly."""
        a, n = self.analytic, self.numeric
        size = np.maximum(np.abs(a), np.abs(n))
        broken = ~(np.isfinite(a) & np.isfinite(n))  # wrong for sure: judged
        return int(np.sum((size > self.noise) | (a == n) | broken))

    @property
    def judged(self) -> bool:
        """Whether enough coordinates stand out of the noise to judge the block at all."""
        return self.n_resolved >= int(np.ceil(0.1 * self.n_checked))

    @property
    def ok(self) -> bool:
        return self.judged and not self.failed.any()

    @property
    def rel_error(self) -> np.ndarray:
        """``|a − n| / max(|a|, |n|, noise / rtol)``: a coordinate passes when ≤ rtol
        (infinite where either value is not finite)."""
        a, n = self.analytic, self.numeric
        floor = np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-300)
        with np.errstate(invalid="ignore"):
            rel = np.abs(a - n) / np.maximum(floor, self.noise / self.rtol)
        return np.where(np.isfinite(a) & np.isfinite(n), rel, np.inf)

    @property
    def max_rel_error(self) -> float:
        """Largest relative error (as :attr:`rel_error`) over non-kink coordinates."""
        errors = self.rel_error[~self.kink]
        return float(errors.max()) if errors.size else 0.0

    @property
    def _worst(self) -> int | None:
        if not self.indices.size:
            return None
        return int(np.argmax(np.where(self.kink, -1.0, self.rel_error)))

    @property
    def worst_index(self) -> tuple[int, ...] | None:
        """Index (within the block's shape) of the worst non-kink coordinate."""
        k = self._worst
        if k is None:
            return None
        return tuple(int(i) for i in np.unravel_index(int(self.indices[k]), self.shape))

    @property
    def worst_label(self) -> str:
        k = self._worst
        return "-" if k is None else Block(self.name, self.shape, 0).label(int(self.indices[k]))

    @property
    def worst_values(self) -> tuple[float, float]:
        """``(analytic, numeric)`` at the worst coordinate."""
        k = self._worst
        if k is None:
            return float("nan"), float("nan")
        return float(self.analytic[k]), float(self.numeric[k])

    @property
    def worst_noise(self) -> float | None:
        """The noise at the worst coordinate when it, not rtol, sets the tolerance there."""
        k = self._worst
        if k is None:
            return None
        size = max(abs(self.analytic[k]), abs(self.numeric[k]))
        return float(self.noise[k]) if self.noise[k] > self.rtol * size else None


@dataclass
class GradCheckReport:
    """Result of :func:`gradcheck`: one :class:`BlockResult` per block, causes, a verdict."""

    blocks: list[BlockResult]
    eps: float
    rtol: float
    cost: float
    n_params: int
    precision: Precision | None = None
    summary: str = ""  # the one-line verdict, derived from the blocks' causes
    diagnosis: list[str] = field(default_factory=list)  # what each layer's failures mean

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.blocks)

    @property
    def max_rel_error(self) -> float:
        return max((b.max_rel_error for b in self.blocks), default=0.0)

    @property
    def failed_blocks(self) -> list[str]:
        return [b.name for b in self.blocks if not b.ok]

    @property
    def causes(self) -> dict[str, tuple[str, ...]]:
        """``{block: cause codes}`` of the failing blocks (codes from :data:`CAUSES`)."""
        return {b.name: b.causes for b in self.blocks if not b.ok}

    def __getitem__(self, name: str) -> BlockResult:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    def raise_if_failed(self) -> None:
        """Raise :class:`GradientCheckError` (an ``AssertionError``) with this report if any block fails."""
        if not self.ok:
            raise GradientCheckError("\n" + str(self))

    def __str__(self) -> str:
        checked = sum(b.n_checked for b in self.blocks)
        how = ", sampled per block" if any(b.sampled for b in self.blocks) else ""
        lines = [
            f"gradient check {self.summary}",
            f"rtol {self.rtol:.2g}, eps {self.eps:.2g}; {checked:,} of {self.n_params:,} "
            f"coordinates checked{how}; cost {self.cost:.6g}",
        ]
        if self.precision is not None and self.precision.low:
            lines.append(self.precision.describe())
        lines += ["", *_table(self.blocks)]
        notes = [
            f"  {b.name} ({', '.join(b.causes)}): {b.diagnosis}" for b in self.blocks if b.diagnosis
        ]
        notes += [f"  {d}" for d in self.diagnosis]
        if notes:
            lines += ["", "diagnosis:", *notes]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the table
        p.text(str(self))


def _table(blocks: Sequence[BlockResult]) -> list[str]:
    """The block table; "rel err" is what the analytic and numeric columns give."""
    head = ("block", "shape", "checked", "worst at", "analytic", "numeric", "rel err", "noise")
    rows = [(*head, "kinks", "status")]
    for b in blocks:
        a, n = b.worst_values
        rel = abs(a - n) / max(abs(a), abs(n)) if max(abs(a), abs(n)) > 0 else 0.0
        noise = b.worst_noise
        status = "ok" if b.ok else ("FAIL (unjudged)" if not b.judged else f"FAIL ({b.n_failed:,})")
        rows.append(
            (
                b.name,
                "×".join(map(str, b.shape)) or "scalar",
                f"{b.n_checked:,}",
                b.worst_label,
                f"{a:+.6e}",
                f"{n:+.6e}",
                f"{rel:.2e}",
                "" if noise is None else f"{noise:.1e}",
                f"{b.n_kinks:,}",
                status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {2, 4, 5, 6, 7, 8}
    lines = []
    for j, r in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
        if j == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    if any(b.worst_noise is not None for b in blocks):
        lines.append(
            "  noise: how far the cost's own rounding can move the numeric value at this "
            "step; where it exceeds rtol·max(|a|, |n|), a difference below it passes"
        )
    return lines


# ---------------------------------------------------------------------- the check


class _Functions:
    """The user's cost and gradient, called as ``cost(w) -> float``, ``gradient(w)``.

    Each call gets its own copy of ``w`` and the gradient is copied out: code that
    changes its input, or returns the same buffer every time, cannot corrupt the check.
    """

    def __init__(self, f: Callable[..., Any], grad: Callable[..., Any] | None, n: int):
        self.f, self.grad, self.n = f, grad, n

    def cost(self, v: np.ndarray) -> float:
        if self.grad is not None:
            return _as_cost(self.f(v.copy()), both_given=True)
        return _as_cost(self.f(v.copy())[0])

    def gradient(self, v: np.ndarray) -> np.ndarray:
        g = self.grad(v.copy()) if self.grad is not None else self.f(v.copy())[1]
        return _as_gradient(g, self.n)

    def both(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        """The cost and gradient at ``v``; a cost that is not finite there is refused."""
        if self.grad is None:
            c, g = self.f(v.copy())
            cost, grad = _as_cost(c), _as_gradient(g, self.n)
        else:
            cost, grad = self.cost(v), self.gradient(v)
        if not np.isfinite(cost):
            raise ValueError(
                f"the cost at w is {cost}: nothing can be checked where it is not finite"
            )
        return cost, grad


def _as_float64_vector(w: Any) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 1:
        raise ValueError(f"w must be a flat 1-D parameter vector, got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise ValueError(f"w must hold real numbers, got dtype {w.dtype}")
    # perturbed in float64 whatever w was: a float32 step could not be taken exactly, and a
    # cost that works in float32 anyway is detected by its rounding and checked to suit
    return w.astype(np.float64, copy=True)


def _as_gradient(g: Any, n: int) -> np.ndarray:
    g = np.array(g, dtype=np.float64, copy=True)  # never a view of the caller's buffer
    if g.size != n:
        raise ValueError(
            f"the gradient has {g.size} values (shape {g.shape}) but w has {n}: "
            "return one value per parameter, in the same order as w"
        )
    return g.reshape(n)


def _as_cost(value: Any, both_given: bool = False) -> float:
    if both_given and isinstance(value, tuple):
        raise ValueError(
            "f returned a tuple although grad was given: with grad, f returns the cost "
            "alone; without it, f returns (cost, gradient)"
        )
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"the cost must be a scalar, got an array of shape {value.shape}")
    return float(value.reshape(()))


def _choose(
    block: Block, count: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Up to ``count`` coordinates of ``block`` (local, sorted), not in ``exclude``."""
    pool = np.arange(block.size)
    if exclude is not None:
        pool = np.setdiff1d(pool, exclude, assume_unique=True)
    if count >= pool.size:
        return pool
    return np.sort(rng.choice(pool, size=max(1, count), replace=False))


def gradcheck(
    f: Callable[[np.ndarray], Any],
    w: Any,
    grad: Callable[[np.ndarray], Any] | None = None,
    *,
    shapes: Mapping[str, Sequence[int] | int] | None = None,
    eps: float | None = None,
    rtol: float | None = None,
    max_coords: int | None = None,
    full: bool = False,
    seed: int = 0,
    progress: bool | None = None,
) -> GradCheckReport:
    """Compare an analytic gradient with central differences, block by block, and explain.

    Args:
        f: ``f(w) -> cost``, or ``f(w) -> (cost, gradient)`` when ``grad`` is None.
        w: flat 1-D parameter vector ``(P,)``; it is perturbed in float64 (a copy).
        grad: ``grad(w) -> gradient`` with ``P`` values, or None (see ``f``).
        shapes: ordered ``{name: shape}`` over consecutive slices of ``w``, e.g.
            ``{"W1": (784, 30), "b1": (30,), "W2": (30, 10), "b2": (10,)}`` (weights
            ``(fan_in, fan_out)`` or ``(fan_out, fan_in)``); their sizes must add up to
            ``P``.  Weight/bias pairs in this form get per-layer reasoning.  None: one
            block called "w".
        eps: finite-difference step; None picks 1e-6, or a larger step for a cost that
            rounds like float32.
        rtol: a coordinate fails when ``|a − n|`` exceeds ``rtol·max(|a|, |n|)`` and its
            noise; None picks 1e-6, or looser for a cost that rounds like float32.
        max_coords: coordinates checked per block (every block gets at least one); None
            checks up to 200 per block, and more in a sampled block that fails.
        full: check every coordinate (slow for large networks).
        seed: seeds the sampling of coordinates and the probes.
        progress: a progress bar; None shows one on a terminal once a check has taken
            two seconds.

    Returns:
        A :class:`GradCheckReport`; ``print`` it for the table and the diagnosis.
    """
    for name, value in (("eps", eps), ("rtol", rtol)):
        if value is not None and not (value > 0 and np.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value}")
    if max_coords is not None and (isinstance(max_coords, bool) or int(max_coords) < 1):
        raise ValueError(f"max_coords must be a whole number >= 1, got {max_coords!r}")
    w = _as_float64_vector(w)
    layout = Layout(shapes if shapes is not None else {"w": (w.size,)})
    if layout.size != w.size:
        raise ValueError(f"shapes cover {layout.size} parameters but w has {w.size}")
    user = _Functions(f, grad, w.size)
    f0, analytic = user.both(w)
    work = w.copy()
    rounding, fmt = finitediff.measure_rounding(
        user.cost, work, layout, f0, np.random.default_rng(seed + 1)
    )
    precision = finitediff.choose_precision(rounding, f0, fmt, eps, rtol)
    rng = np.random.default_rng(seed)
    count = max(b.size for b in layout) if full else (max_coords or DEFAULT_SAMPLE)
    plan = {block.name: _choose(block, count, rng) for block in layout}
    check = _BlockCheck(user.cost, work, w, analytic, f0, precision)
    with _progress(sum(p.size for p in plan.values()), progress) as tick:
        blocks = [check(block, plan[block.name], tick) for block in layout]
        if max_coords is None and not full:
            blocks = [
                check.more_if_wrong(block, b, rng, tick)
                for block, b in zip(layout, blocks, strict=True)
            ]
    report = GradCheckReport(
        blocks,
        eps=precision.eps,
        rtol=precision.rtol,
        cost=f0,
        n_params=w.size,
        precision=precision,
    )
    prober = diagnosis.Prober(
        w, user.gradient, check.numeric_at, precision.rtol, np.random.default_rng(seed + 2)
    )
    diagnosis.diagnose(report, prober)
    return report


@contextmanager
def _progress(total: int, enabled: bool | None) -> Iterator[Callable[[int], None] | None]:
    if enabled is False:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        desc="gradcheck",
        unit="coord",
        delay=PROGRESS_DELAY,
        disable=None if enabled is None else False,
        leave=False,
        dynamic_ncols=True,
    )
    try:
        yield bar.update
    finally:
        bar.close()


@dataclass
class _BlockCheck:
    """Measures and judges coordinates of one block at a time."""

    cost: Callable[[np.ndarray], float]
    work: np.ndarray
    w: np.ndarray
    analytic: np.ndarray
    f0: float
    precision: Precision

    def __call__(
        self, block: Block, local: np.ndarray, tick: Callable[[int], None] | None
    ) -> BlockResult:
        p = self.precision
        idx = local + block.offset
        d = finitediff.central(self.cost, self.work, idx, p.eps, self.f0, p.rounding, tick)
        a = self.analytic[idx]
        # a second look at coordinates that fail by less than larger steps could change,
        # and (in float64) at those that pass only because the noise is nearly as large as
        # they are; an error a hundred times the tolerance is no rounding or curvature
        size = np.maximum(np.abs(a), np.abs(d.numeric))
        tol = diagnosis.tolerance(a, d.numeric, d.noise, p.rtol)
        loose = self._fails(a, d) & (np.abs(a - d.numeric) <= 100 * tol)
        if not p.low:
            loose |= (d.noise > p.rtol * size) & (d.noise > 1e-3 * size)
        # kinks first: the second look's larger steps would only cross more of them
        kink = finitediff.kinks(
            self.cost, self.work, idx, a, self.f0, d, self._fails(a, d), p.rounding, p.rtol
        )
        finitediff.remeasure(self.cost, self.work, idx, d, p.eps, loose & ~kink, p.low)
        return BlockResult(
            name=block.name,
            shape=block.shape,
            indices=local,
            analytic=a,
            numeric=d.numeric,
            noise=d.noise,
            kink=kink,
            params=self.w[idx],
            rtol=p.rtol,
            sampled=local.size < block.size,
        )

    def _fails(self, a: np.ndarray, d: finitediff.Differences) -> np.ndarray:
        tol = diagnosis.tolerance(a, d.numeric, d.noise, self.precision.rtol)
        return ~(np.abs(a - d.numeric) <= tol)

    def more_if_wrong(
        self,
        block: Block,
        b: BlockResult,
        rng: np.random.Generator,
        tick: Callable[[int], None] | None,
    ) -> BlockResult:
        """A sampled block that fails gets more coordinates, to tell its pattern apart."""
        if b.ok or not b.sampled:
            return b
        extra = self(block, _choose(block, MORE_WHERE_WRONG * b.n_checked, rng, b.indices), tick)
        order = np.argsort(np.concatenate([b.indices, extra.indices]), kind="stable")
        merged = {
            key: np.concatenate([getattr(b, key), getattr(extra, key)])[order]
            for key in ("indices", "analytic", "numeric", "noise", "kink", "params")
        }
        return BlockResult(
            name=b.name,
            shape=b.shape,
            rtol=b.rtol,
            sampled=merged["indices"].size < block.size,
            **merged,
        )

    def numeric_at(self, v: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Central differences at another point ``v`` (for the probes): values, noise."""
        p = self.precision
        d = finitediff.central(self.cost, v.copy(), idx, p.eps, self.cost(v), p.rounding)
        return d.numeric, d.noise


# dn.gradcheck is this function, so the codes are reachable from it as well
gradcheck.CAUSES = CAUSES  # type: ignore[attr-defined]
