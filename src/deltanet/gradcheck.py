"""Finite-difference gradient checking that says *where* a gradient is wrong and *how*.

:func:`gradcheck` checks any flat-vector cost function, deltanet's or your own::

    report = gradcheck(cost, w, grad, shapes={"W1": (784, 30), "b1": (30,), ...})
    print(report)            # one row per block: worst coordinate, values, diagnosis
    report.raise_if_failed()

How it measures, for each checked coordinate ``i`` (all in float64):

* numeric derivative ``n = (f(w + h e_i) − f(w − h e_i)) / 2h`` (central differences,
  with ``h`` the exactly representable step nearest ``eps``);
* relative error ``|a − n| / max(|a|, |n|, tiny)``, where ``a`` is the analytic value and
  ``tiny = noise / rtol``.  ``noise = 8 r / h`` is how far rounding the cost alone can
  move ``n``, with ``r`` the larger of ``ε_mach·max|f|`` and the cost's rounding error
  measured by fitting parabolas through nine nearby evaluations (``_rounding``): a
  gradient entry smaller than ``tiny`` cannot be measured to relative precision ``rtol``
  at this ``eps``, so it is compared absolutely instead.  A coordinate passes when its
  relative error is at most ``rtol``;
* a second look: a coordinate that fails, or passes only because the noise is nearly
  as large as it is, is measured again at 10, 100 and 1000 × eps; the steadiest of
  these estimates replaces the first, with the distance to its neighbour as its error
  bar (rounding in the cost, not the gradient, can make a tiny gradient fail at eps;
  see ``_remeasure``).  Where most of a block stays below the noise even then, those
  coordinates are judged by their plain relative error: "within the noise" is no pass;
* kinks: the one-sided differences ``(f(w + h e_i) − f(w)) / h`` and
  ``(f(w) − f(w − h e_i)) / h`` disagree (a ReLU unit crossing zero), their gap does not
  grow with the step as a smooth function's would, and ``a`` lies between them: ``a``
  is a valid subgradient, reported as a kink, not a failure.

Compared with ``torch.autograd.gradcheck``, the report names the worst coordinate of
every block (``W1[17, 3]``, not ``index 13331``) and diagnoses the pattern of a
failure: a constant factor (2, 1/2, the batch size), a sign flip, analytic zeros, an
error proportional to the weights (a regularization gradient that does not match its
cost), only the biases, or an error that starts at the output layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltanet.layout import Block, Layout

EPS_MACH = float(np.finfo(np.float64).eps)
NOISE_FACTOR = 8.0  # rounding of the cost, in ulps, allowed before a difference counts
CHECK_ALL_UP_TO = 30_000  # with max_coords=None, check every coordinate up to this many
DEFAULT_SAMPLE = 300  # ... and beyond it this many per block


class GradientCheckError(AssertionError):
    """Raised by :meth:`GradCheckReport.raise_if_failed`; its message is the report."""


@dataclass
class BlockResult:
    """The check of one named block.

    ``indices`` are flat indices within the block; ``analytic``, ``numeric``,
    ``rel_error`` and ``kink`` are aligned with them.
    """

    name: str
    shape: tuple[int, ...]
    indices: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    kink: np.ndarray
    params: np.ndarray
    rtol: float
    tiny: float
    unmeasurable: int = 0  # coordinates lost in the cost's rounding, judged strictly
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
    def failed(self) -> np.ndarray:
        """Mask of checked coordinates that fail (kinks never do)."""
        return (self.rel_error > self.rtol) & ~self.kink

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def ok(self) -> bool:
        return not self.failed.any()

    @property
    def max_rel_error(self) -> float:
        """Largest relative error over checked coordinates that are not kinks."""
        errors = self.rel_error[~self.kink]
        return float(errors.max()) if errors.size else 0.0

    @property
    def _worst(self) -> int | None:
        if not self.indices.size:
            return None
        errors = np.where(self.kink, -1.0, self.rel_error)
        return int(np.argmax(errors))

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
        if k is None:
            return "-"
        return Block(self.name, self.shape, 0).label(int(self.indices[k]))

    @property
    def worst_values(self) -> tuple[float, float]:
        """``(analytic, numeric)`` at the worst coordinate."""
        k = self._worst
        return (
            (float("nan"), float("nan"))
            if k is None
            else (
                float(self.analytic[k]),
                float(self.numeric[k]),
            )
        )


@dataclass
class GradCheckReport:
    """Result of :func:`gradcheck`: one :class:`BlockResult` per block, and a diagnosis."""

    blocks: list[BlockResult]
    eps: float
    rtol: float
    cost: float
    n_params: int
    diagnosis: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.blocks)

    @property
    def max_rel_error(self) -> float:
        return max((b.max_rel_error for b in self.blocks), default=0.0)

    @property
    def failed_blocks(self) -> list[str]:
        return [b.name for b in self.blocks if not b.ok]

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
        status = "passed" if self.ok else f"FAILED in {', '.join(self.failed_blocks)}"
        head = (
            f"gradient check {status}: max relative error {self.max_rel_error:.2e} "
            f"(rtol {self.rtol:g}, eps {self.eps:g}, {checked:,} of {self.n_params:,} "
            f"coordinates, cost {self.cost:.6g})"
        )
        rows = [
            (
                "block",
                "shape",
                "checked",
                "max rel err",
                "worst at",
                "analytic",
                "numeric",
                "kinks",
                "status",
            )
        ]
        for b in self.blocks:
            a, n = b.worst_values
            rows.append(
                (
                    b.name,
                    "×".join(map(str, b.shape)) or "scalar",
                    f"{b.n_checked:,}",
                    f"{b.max_rel_error:.2e}",
                    b.worst_label,
                    f"{a:+.6e}",
                    f"{n:+.6e}",
                    f"{b.n_kinks:,}",
                    "ok" if b.ok else f"FAIL ({b.n_failed:,})",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        right = {2, 3, 5, 6, 7}
        lines = [head, ""]
        for j, r in enumerate(rows):
            cells = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
            if j == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        notes = [f"  {b.name}: {b.diagnosis}" for b in self.blocks if b.diagnosis]
        notes += [f"  {d}" for d in self.diagnosis]
        if notes:
            lines += ["", "diagnosis:", *notes]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the table
        p.text(str(self))


# ---------------------------------------------------------------------- the check


def _as_float64_vector(w: Any) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 1:
        raise ValueError(f"w must be a flat 1-D parameter vector, got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.floating) or w.dtype != np.float64:
        if np.issubdtype(w.dtype, np.floating) and np.finfo(w.dtype).bits < 64:
            warnings.warn(
                f"gradcheck: w is {w.dtype}; checking in float64 (finite differences in "
                f"{w.dtype} are dominated by round-off)",
                stacklevel=3,
            )
        w = w.astype(np.float64)
    return w.copy()


def _as_gradient(g: Any, n: int) -> np.ndarray:
    g = np.asarray(g, dtype=np.float64)
    if g.size != n:
        raise ValueError(
            f"the gradient has {g.size} values (shape {g.shape}) but w has {n}: "
            "return one value per parameter, in the same order as w"
        )
    return g.reshape(n)


def _as_cost(value: Any) -> float:
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"the cost must be a scalar, got an array of shape {value.shape}")
    return float(value.reshape(()))


def _choose(block: Block, max_coords: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_coords is None or block.size <= max_coords:
        return np.arange(block.size)
    return np.sort(rng.choice(block.size, size=max(1, max_coords), replace=False))


def gradcheck(
    f: Callable[[np.ndarray], Any],
    w: Any,
    grad: Callable[[np.ndarray], Any] | None = None,
    *,
    shapes: Mapping[str, Sequence[int] | int] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    max_coords: int | None = None,
    seed: int = 0,
) -> GradCheckReport:
    """Compare an analytic gradient with central differences, block by block.

    Args:
        f: ``f(w) -> cost``, or ``f(w) -> (cost, gradient)`` when ``grad`` is None.
        w: flat 1-D parameter vector ``(P,)``; float32 is upcast to float64 (with a warning).
        grad: ``grad(w) -> gradient`` with ``P`` values, or None (see ``f``).
        shapes: ordered ``{name: shape}`` over consecutive slices of ``w``, e.g.
            ``{"W1": (784, 30), "b1": (30,), "W2": (30, 10), "b2": (10,)}``; their sizes
            must add up to ``P``.  None: one block called "w".
        eps: finite-difference step.
        rtol: a coordinate fails when its relative error exceeds this.
        max_coords: coordinates sampled per block (every block gets at least one);
            None checks all of them when ``P ≤ 30,000`` and 300 per block beyond.
        seed: seeds the sampling of coordinates.

    Returns:
        A :class:`GradCheckReport`; ``print`` it for the table and the diagnosis.
    """
    if not (eps > 0 and np.isfinite(eps)):
        raise ValueError(f"eps must be a positive number, got {eps}")
    if not (rtol > 0 and np.isfinite(rtol)):
        raise ValueError(f"rtol must be a positive number, got {rtol}")
    w = _as_float64_vector(w)
    layout = Layout(shapes if shapes is not None else {"w": (w.size,)})
    if layout.size != w.size:
        raise ValueError(f"shapes cover {layout.size} parameters but w has {w.size}")
    if max_coords is None and w.size > CHECK_ALL_UP_TO:
        max_coords = DEFAULT_SAMPLE

    def cost(v: np.ndarray) -> float:
        return _as_cost(f(v) if grad is not None else f(v)[0])

    if grad is None:
        c0, g = f(w.copy())
        f0 = _as_cost(c0)
    else:
        f0 = _as_cost(f(w.copy()))
        g = grad(w.copy())
    analytic_all = _as_gradient(g, w.size)

    rng = np.random.default_rng(seed)
    work = w.copy()
    rounding = _rounding(cost, work, layout, f0, eps, np.random.default_rng(seed + 1))
    blocks = []
    for block in layout:
        local = _choose(block, max_coords, rng)
        idx = local + block.offset
        fp, fm, hp, hm = (np.empty(idx.size) for _ in range(4))
        for k, i in enumerate(idx):
            wi = w[i]
            work[i] = wi + eps
            hp[k] = work[i] - wi  # the step actually taken, exactly representable
            fp[k] = cost(work)
            work[i] = wi - eps
            hm[k] = wi - work[i]
            fm[k] = cost(work)
            work[i] = wi
        numeric = (fp - fm) / (hp + hm)
        scale = np.maximum(np.maximum(np.abs(fp), np.abs(fm)), abs(f0))
        noise = NOISE_FACTOR * np.maximum(EPS_MACH * scale, rounding) / np.minimum(hp, hm)
        tiny = noise / rtol
        a = analytic_all[idx]
        rel = np.abs(a - numeric) / np.maximum(np.maximum(np.abs(a), np.abs(numeric)), tiny)
        # coordinates that fail, and those that pass only because the noise is nearly as
        # large as they are, get measured again with larger steps
        size = np.maximum(np.abs(a), np.abs(numeric))
        loose = (rel > rtol) | ((tiny > size) & (noise > 1e-3 * size))
        _remeasure(cost, work, idx, a, numeric, rel, noise, tiny, eps, rtol, loose)
        kink = _kinks(cost, work, idx, a, f0, fp, fm, hp, hm, noise, rel > rtol)
        # Below the noise, "agrees within the noise" says nothing.  When that is most of a
        # block (a cost computed in float32, say), it is not a pass: judge those
        # coordinates by their plain relative error instead.
        unresolved = (noise >= np.maximum(np.abs(a), np.abs(numeric))) & (a != numeric)
        if unresolved.mean() > 0.5:
            both = np.maximum(np.abs(a), np.abs(numeric))
            rel = np.where(unresolved, np.abs(a - numeric) / both, rel)
            unmeasurable = int(unresolved.sum())
        else:
            unmeasurable = 0
        blocks.append(
            BlockResult(
                name=block.name,
                shape=block.shape,
                indices=local,
                analytic=a,
                numeric=numeric,
                rel_error=rel,
                kink=kink,
                params=w[idx],
                rtol=rtol,
                tiny=float(np.median(tiny)) if tiny.size else 0.0,
                unmeasurable=unmeasurable,
            )
        )
    report = GradCheckReport(blocks, eps=eps, rtol=rtol, cost=f0, n_params=w.size)
    _diagnose(report)
    return report


def _rounding(
    cost: Callable[[np.ndarray], float],
    work: np.ndarray,
    layout: Layout,
    f0: float,
    eps: float,
    rng: np.random.Generator,
    per_block: int = 2,
) -> float:
    """The cost's own rounding error, measured rather than assumed.

    Along two random coordinates of each block the cost is evaluated at nine points
    ``w_i + t·eps`` (t = −4..4) and a parabola is fitted through each half (t ≤ 0 and
    t ≥ 0); at such small steps the true function *is* that parabola, so what is left
    over is rounding.  A
    cost summed from large terms (``lse(z) − z_y`` with ``z ~ 20``) rounds far above
    ``ε_mach·|f|``, and assuming otherwise turns correct tiny gradients into failures.
    Returns the median over the samples of the largest residual (absolute, cost units).
    """
    t = np.arange(-4, 5, dtype=float)
    residuals = []
    for block in layout:
        for local in rng.choice(block.size, size=min(per_block, block.size), replace=False):
            i = block.offset + int(local)
            wi = work[i]
            values = np.empty(t.size)
            for j, tj in enumerate(t):
                work[i] = wi + tj * eps
                values[j] = cost(work) - f0
            work[i] = wi
            # one parabola per side of w: a kink sitting at w (a ReLU input at exactly 0)
            # bends the whole window but neither half of it
            sides = []
            for half in (slice(0, 5), slice(4, 9)):
                fit = np.polyval(np.polyfit(t[half], values[half], 2), t[half])
                sides.append(float(np.max(np.abs(values[half] - fit))))
            residuals.append(min(sides))
    # the median: a sample that straddles a kink (a ReLU input at 0) is not rounding
    return float(np.median(residuals)) if residuals else 0.0


def _central(cost: Callable[[np.ndarray], float], work: np.ndarray, i: int, step: float) -> float:
    wi = work[i]
    work[i] = wi + step
    hp = work[i] - wi
    fp = cost(work)
    work[i] = wi - step
    hm = wi - work[i]
    fm = cost(work)
    work[i] = wi
    return (fp - fm) / (hp + hm)


def _remeasure(
    cost: Callable[[np.ndarray], float],
    work: np.ndarray,
    idx: np.ndarray,
    a: np.ndarray,
    numeric: np.ndarray,
    rel: np.ndarray,
    noise: np.ndarray,
    tiny: np.ndarray,
    eps: float,
    rtol: float,
    which: np.ndarray,
) -> None:
    """Measure coordinates (``which``) again with larger steps, with an error bar, in place.

    A cost that is a small difference of large terms (the cross-entropy of a confident,
    trained network: ``lse(z) − z_y`` with ``z ~ 20``) rounds to ~1e−14 absolute, which at
    eps = 1e−6 swamps a gradient of 1e−7.  Each tenfold step cuts that rounding error
    tenfold, while curvature grows a hundredfold: estimates at 10, 100 and 1000 × eps show
    both.  The one of the first two that moves least to its neighbour replaces the first
    measurement, and that movement is its error bar: the coordinate's ``tiny`` becomes
    ``error bar / rtol``, so a difference from the analytic value within the error bar is
    not counted against it.  A real bug survives this: the estimates agree with each other
    far more closely than with the analytic value.
    """
    for k in np.flatnonzero(which):
        i = int(idx[k])
        n = {f: _central(cost, work, i, f * eps) for f in (10, 100, 1000)}
        bars = {10: abs(n[10] - n[100]), 100: abs(n[100] - n[1000])}
        best = min(bars, key=bars.get)
        if bars[best] >= abs(numeric[k] - n[best]):
            continue  # the larger steps are no steadier than the first: keep it
        numeric[k] = n[best]
        noise[k] = max(noise[k] / best, bars[best])
        tiny[k] = noise[k] / rtol
        rel[k] = abs(a[k] - n[best]) / max(abs(a[k]), abs(n[best]), tiny[k])


def _kinks(
    cost: Callable[[np.ndarray], float],
    work: np.ndarray,
    idx: np.ndarray,
    a: np.ndarray,
    f0: float,
    fp: np.ndarray,
    fm: np.ndarray,
    hp: np.ndarray,
    hm: np.ndarray,
    noise: np.ndarray,
    failing: np.ndarray,
) -> np.ndarray:
    """Mask of failing coordinates that are kinks, not errors.

    A kink: the one-sided slopes differ by more than rounding, the difference does not
    double when the step doubles (smooth curvature would make it grow linearly with the
    step; a kink's jump stays), and the analytic value lies between the slopes, so it is
    a valid subgradient.  Costs two more evaluations per failing coordinate only.
    """
    right, left = (fp - f0) / hp, (f0 - fm) / hm
    kink = np.zeros(idx.size, dtype=bool)
    for k in np.flatnonzero(failing & (np.abs(right - left) > 2 * noise)):
        i = idx[k]
        wi = work[i]
        work[i] = wi + 2 * hp[k]
        right2 = (cost(work) - f0) / (work[i] - wi)
        work[i] = wi - 2 * hm[k]
        left2 = (f0 - cost(work)) / (wi - work[i])
        work[i] = wi
        jump, jump2 = right[k] - left[k], right2 - left2
        if abs(jump2 - 2 * jump) <= 0.25 * abs(jump):
            continue  # the slopes part like a smooth function's: no kink
        # slopes extrapolated to a zero step (Richardson) are exact at a kink sitting at w
        slopes = (left[k], right[k], left2, right2, 2 * left[k] - left2, 2 * right[k] - right2)
        tol = 4 * noise[k]
        kink[k] = min(slopes) - tol <= a[k] <= max(slopes) + tol
    return kink


# ---------------------------------------------------------------------- diagnosis


def _describe_factor(k: float) -> str:
    """Words for ``analytic ≈ k × numeric``."""
    if abs(k - 2) < 0.02:
        return (
            "an extra factor of 2 (e.g. 2·λ·W in the gradient of (λ/2)‖W‖², or d/dx x² left as 2x)"
        )
    if abs(k - 0.5) < 0.005:
        return "a missing factor of 2 (e.g. λ·W where the cost has λ‖W‖², or a ½ too many)"
    if k > 1 and abs(k - round(k)) < 0.02 * k:
        return f"a missing division by {round(k)} (a sum where a mean over the batch was meant?)"
    if k < 1 and abs(1 / k - round(1 / k)) < 0.02 / k:
        return f"an extra division by {round(1 / k)} (a mean where a sum was meant?)"
    return "a constant factor that should not be there (a missing 1/N, λ or ½?)"


def _diagnose_block(b: BlockResult) -> str:
    """One sentence on the pattern of a failing block's errors."""
    if b.unmeasurable:
        return (
            f"{b.unmeasurable:,} of {b.n_checked:,} gradient entries are smaller than the "
            f"cost's own rounding at this eps, so they cannot be checked loosely; compute "
            f"the cost in float64, or use a larger eps"
        )
    a, n = b.analytic, b.numeric
    usable = ~b.kink
    a, n, params = a[usable], n[usable], b.params[usable]
    frac = b.n_failed / max(b.n_checked, 1)
    where = f"{b.n_failed:,} of {b.n_checked:,} coordinates fail"
    zero_a = (np.abs(a) <= 1e-3 * b.tiny) & (np.abs(n) > b.tiny)
    if zero_a.sum() >= 0.9 * b.n_failed:
        return f"{where}; the analytic gradient is zero where the numeric one is not (a term left out?)"
    nn = float(np.dot(n, n))
    if nn > 0:
        k = float(np.dot(a, n) / nn)
        resid = np.linalg.norm(a - k * n) / max(np.linalg.norm(a), 1e-300)
        if resid < 1e-3:
            if abs(k + 1) < 1e-2:
                return f"{where}; analytic = −numeric: the sign is flipped"
            if k < 0:
                return f"{where}; analytic ≈ {k:.4g} × numeric: the sign is flipped and the scale is off"
            return f"{where}; analytic ≈ {k:.4g} × numeric: {_describe_factor(k)}"
    # error proportional to the parameters themselves: the penalty's gradient does not match
    e = a - n
    pp = float(np.dot(params, params))
    if pp > 0 and np.linalg.norm(e) > 0:
        mu = float(np.dot(e, params) / pp)
        resid = np.linalg.norm(e - mu * params) / np.linalg.norm(e)
        if resid < 1e-3:
            return (
                f"{where}; analytic − numeric ≈ {mu:.3g} × {b.name} itself: the regularization "
                f"gradient does not match the regularization cost (check λ vs λ/2, and whether "
                f"this block is penalised in one but not the other)"
            )
    corr = _correlation(a, n)
    if corr > 0.9:
        return (
            f"{where}; analytic correlates with numeric (r = {corr:.3f}) but is not a constant "
            f"multiple: a factor that varies per unit is wrong or missing, such as a derivative "
            f"evaluated on the wrong quantity (f'(a) instead of f'(z)) or left out"
        )
    if frac > 0.5:
        return (
            f"{where}; analytic and numeric are barely related (r = {corr:.2f}): a transposed or "
            f"misindexed product, or the wrong layer's activations?"
        )
    return f"{where}; the errors are scattered, with no simple pattern"


def _correlation(a: np.ndarray, n: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(n) == 0:
        return 0.0
    return float(np.corrcoef(a, n)[0, 1])


def _diagnose(report: GradCheckReport) -> None:
    failing = [b for b in report.blocks if not b.ok]
    for b in failing:
        b.diagnosis = _diagnose_block(b)
    if not failing:
        kinks = sum(b.n_kinks for b in report.blocks)
        if kinks:
            report.diagnosis.append(
                f"{kinks:,} coordinates sit on a kink (e.g. a ReLU input at 0), where "
                "left and right slopes differ; the analytic value lies between them."
            )
        return
    names = [b.name for b in report.blocks]
    bad = {b.name for b in failing}
    weights = [n for n in names if n.startswith("W")]
    biases = [n for n in names if n.startswith("b")]
    if biases and bad <= set(biases):
        report.diagnosis.append(
            "only bias blocks fail: look at the bias gradient (summed over the batch, "
            "divided by N like the weights?) and at whether the cost penalises biases"
        )
    elif weights and biases and bad <= set(weights):
        report.diagnosis.append(
            "only weight blocks fail: the biases are right, so the deltas are "
            "right; look at the weight-specific terms (the penalty, a^T δ)"
        )
    if weights and weights[-1] in bad and len(bad) == len(names):
        report.diagnosis.append(
            "every block fails, the top layer's included: the error starts at the output. "
            "Check the top-layer delta: the loss derivative and the output non-linearity's "
            "derivative (squared error with sigmoid outputs needs (h − y)·h·(1 − h))"
        )
    elif weights and weights[-1] not in bad and any(n in bad for n in weights[:-1]):
        report.diagnosis.append(
            "the top layer is right but a lower layer is not: the error enters while propagating "
            "the delta down (the hidden activation's derivative, or the product δ W^T)"
        )
