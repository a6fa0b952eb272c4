"""Central differences whose error bars are measured, not assumed.

For a coordinate ``i`` of a flat parameter vector ``w`` (float64 throughout):

* the numeric derivative ``n = (f(w + h e_i) − f(w − h e_i)) / 2h``, with ``h`` the
  exactly representable step nearest ``eps``;
* its noise: ``NOISE_FACTOR · r / h``, where ``r`` is the cost's own rounding error,
  *measured* by :func:`measure_rounding` (a cost summed from large terms, or computed in
  float32, rounds far above ``ε_mach·|f|``);
* a second look at loose coordinates (:func:`remeasure`): larger steps cut the rounding
  part of the error, and their spread is an error bar;
* kinks: a kink within the step but not at ``w`` (a ReLU input crossing zero nearby) is
  stepped around by a smaller window (:func:`through_kinks`); one at ``w`` is recognised
  by one-sided slopes whose jump does not grow with the step, with the analytic value
  between them: a valid subgradient, not an error (:func:`kinks`).

:func:`choose_precision` turns the measured rounding into the step and tolerance of a
check: ``eps = 1e-6``, ``rtol = 1e-6`` for a cost computed in float64, and for a cost
that rounds like float32 (or worse) the step that balances rounding against curvature,
``h ≈ ρ^{1/3}`` for a relative rounding ``ρ``, with a tolerance to match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deltanet.layout import Layout

Cost = Callable[[np.ndarray], float]

EPS_MACH = float(np.finfo(np.float64).eps)
NOISE_FACTOR = 8.0  # rounding of the cost, in ulps, allowed before a difference counts
# relative rounding of the cost above which it was not computed in float64: float64 sums
# of a few thousand terms stay below ~1e-13; float32 rounds at ~6e-8
LOW_PRECISION = 1e-10


@dataclass(frozen=True)
class Precision:
    """How precisely the cost is computed, and the step and tolerance that suit it."""

    rounding: float  # measured rounding error of the cost, absolute (cost units)
    relative: float  # rounding / |cost|
    eps: float  # finite-difference step used
    rtol: float  # relative tolerance used
    low: bool  # True when the cost rounds far above float64's precision
    format: str | None = None  # "float32"/"float16": every value returned was one exactly

    @property
    def name(self) -> str:
        """ "float64", the narrow type the cost's values are, or "reduced"."""
        if self.format is not None:
            return self.format
        return "reduced" if self.low else "float64"

    def describe(self) -> str:
        """One line for a low-precision cost (empty in float64)."""
        if not self.low:
            return ""
        step = f"checked with eps {self.eps:.2g} and rtol {self.rtol:.2g} to suit it"
        if self.format is not None:
            return (
                f"the cost is computed in {self.format} (every value it returned is a "
                f"{self.format} number; relative rounding {self.relative:.1e}): {step}; "
                "compute the cost in float64 to check strictly"
            )
        return (
            f"the cost rounds at {self.relative:.1e} of its value (a small difference of large "
            f"terms, or arithmetic below float64): {step}; compute it in float64, from "
            "terms of its own size where you can, to check strictly"
        )


def measure_rounding(
    cost: Cost,
    work: np.ndarray,
    layout: Layout,
    f0: float,
    rng: np.random.Generator,
    step: float = 1e-6,
    per_block: int = 2,
) -> tuple[float, str | None]:
    """The cost's own rounding error, measured rather than assumed, and its number format.

    Along two random coordinates of each block, and along three random directions of the
    whole vector, the cost is evaluated at nine points ``w + t·s·u`` (t = −4..4) and a
    parabola is fitted through each half (t ≤ 0 and t ≥ 0); at such small steps the true
    function *is* that parabola, so what is left over is rounding.  Where the nine
    values barely differ (a float32 cost does not move at all along one coordinate at
    1e-6), the step grows tenfold until they do, up to 1e-3.  Returns the largest of the
    two medians (absolute, cost units), and "float32"/"float16" when every value seen is
    exactly such a number (then the rounding is at least half of its last place).
    ``work`` is restored.
    """
    directions = []
    for block in layout:
        for local in rng.choice(block.size, size=min(per_block, block.size), replace=False):
            u = np.zeros(work.size)
            u[block.offset + int(local)] = 1.0
            directions.append(u)
    seen: list[float] = [f0]
    coordinate = _median_residual(cost, work, directions, step, seen)
    u = rng.standard_normal((3, work.size))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    directional = _median_residual(cost, work, list(u), step, seen)
    fmt, floor = _narrow_format(seen)
    return max(coordinate, directional, floor), fmt


def _median_residual(
    cost: Cost, work: np.ndarray, directions: list[np.ndarray], step: float, seen: list[float]
) -> float:
    """Median over ``directions`` of the smaller residual of two half-parabola fits."""
    t = np.arange(-4, 5, dtype=float)
    base = work.copy()
    residuals = []
    for u in directions:
        s = step
        while True:
            values = np.empty(t.size)
            for j, tj in enumerate(t):
                np.add(base, (tj * s) * u, out=work)
                values[j] = cost(work)
            seen.extend(values.tolist())
            # fewer than three distinct values: the cost did not move at this step, and
            # a parabola through steps would show no rounding at all
            if np.unique(values).size >= 3 or s >= 1e-3:
                break
            s *= 10
        values -= values[4]
        # one parabola per side of w: a kink sitting at w (a ReLU input at exactly 0)
        # bends the whole window but neither half of it
        sides = []
        for half in (slice(0, 5), slice(4, 9)):
            fit = np.polyval(np.polyfit(t[half], values[half], 2), t[half])
            sides.append(float(np.max(np.abs(values[half] - fit))))
        residuals.append(min(sides))
    work[...] = base
    # the median: a sample that straddles a kink (a ReLU input at 0) is not rounding
    return float(np.median(residuals)) if residuals else 0.0


def _narrow_format(values: list[float]) -> tuple[str | None, float]:
    """The narrowest float type holding every value exactly, and half its last place."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v != 0)]
    if v.size < 8:
        return None, 0.0
    for narrow, name in ((np.float16, "float16"), (np.float32, "float32")):
        with np.errstate(over="ignore"):
            if np.array_equal(v.astype(narrow).astype(np.float64), v):
                return name, float(np.max(np.abs(v)) * np.finfo(narrow).eps / 2)
    return None, 0.0


def choose_precision(
    rounding: float,
    f0: float,
    fmt: str | None = None,
    eps: float | None = None,
    rtol: float | None = None,
) -> Precision:
    """The step and tolerance for a cost that rounds by ``rounding`` at value ``f0``.

    In float64: ``eps = rtol = 1e-6``.  Below it, the central difference's rounding
    error ``r/h`` and its truncation error ``~h²`` balance at ``h ≈ ρ^{1/3}`` (ρ the
    relative rounding); the tolerance is of the same order, since neither error can be
    pushed below it.  Steps and tolerances given explicitly are kept.
    """
    relative = rounding / max(abs(f0), EPS_MACH)
    low = relative > LOW_PRECISION or fmt is not None
    cube = float(np.clip(np.cbrt(relative), 1e-6, 0.1))
    return Precision(
        rounding=rounding,
        relative=relative,
        eps=eps if eps is not None else (cube if low else 1e-6),
        rtol=rtol if rtol is not None else (max(1e-6, cube) if low else 1e-6),
        low=low,
        format=fmt,
    )


@dataclass
class Differences:
    """Central differences at coordinates ``idx``, with what is needed to judge them."""

    numeric: np.ndarray  # (n,) the derivative estimates
    noise: np.ndarray  # (n,) how far rounding alone can move each estimate
    fp: np.ndarray  # f(w + h⁺ e_i)
    fm: np.ndarray  # f(w − h⁻ e_i)
    hp: np.ndarray  # the steps actually taken (exactly representable)
    hm: np.ndarray


def perturbed(cost: Cost, work: np.ndarray, i: int, step: float) -> tuple[float, float]:
    """``(f(w + step·e_i), the step actually taken)``; ``work`` is restored."""
    wi = work[i]
    work[i] = wi + step
    taken = work[i] - wi  # exactly representable, unlike step itself
    value = cost(work)
    work[i] = wi
    return value, taken


def central(
    cost: Cost,
    work: np.ndarray,
    idx: np.ndarray,
    eps: float,
    f0: float,
    rounding: float,
    tick: Callable[[int], None] | None = None,
) -> Differences:
    """Central differences of ``cost`` at ``work`` along every coordinate in ``idx``."""
    fp, fm, hp, hm = (np.empty(idx.size) for _ in range(4))
    for k, i in enumerate(idx):
        fp[k], hp[k] = perturbed(cost, work, int(i), eps)
        fm[k], minus = perturbed(cost, work, int(i), -eps)
        hm[k] = -minus
        if tick is not None and k % 64 == 63:
            tick(64)
    if tick is not None:
        tick(idx.size % 64)
    numeric = (fp - fm) / (hp + hm)
    scale = np.maximum(np.maximum(np.abs(fp), np.abs(fm)), abs(f0))
    noise = NOISE_FACTOR * np.maximum(EPS_MACH * scale, rounding) / np.minimum(hp, hm)
    return Differences(numeric, noise, fp, fm, hp, hm)


def step_derivative(cost: Cost, work: np.ndarray, i: int, step: float) -> float:
    """One central difference of ``cost`` along coordinate ``i`` (``work`` is restored)."""
    fp, hp = perturbed(cost, work, i, step)
    fm, hm = perturbed(cost, work, i, -step)
    return (fp - fm) / (hp - hm)


def remeasure(
    cost: Cost,
    work: np.ndarray,
    idx: np.ndarray,
    d: Differences,
    eps: float,
    which: np.ndarray,
    low: bool,
) -> None:
    """Measure coordinates (``which``) again with larger steps and an error bar, in place.

    Float64 cost: a cost that is a small difference of large terms (the cross-entropy
    of a confident network: ``lse(z) − z_y`` with ``z ~ 20``) rounds to ~1e−14
    absolute, which at eps = 1e−6 swamps a gradient of 1e−7.  Each tenfold step cuts
    that rounding tenfold while curvature grows a hundredfold: estimates at 10, 100 and
    1000 × eps show both.  The one of the first two that moves least to its neighbour
    replaces the first measurement, and that movement becomes its noise.  A real bug
    survives this: the estimates agree with each other far more closely than with the
    analytic value.

    Low-precision cost: the step already balances rounding and curvature, so the second
    look doubles it to estimate the truncation error, ``|n(h) − n(2h)| / 3``, and adds
    that to the noise.  (Extrapolating instead would carry any kink between h and 2h
    into the value.)
    """
    for k in np.flatnonzero(which):
        i = int(idx[k])
        if low:
            d.noise[k] += abs(d.numeric[k] - step_derivative(cost, work, i, 2 * eps)) / 3
            continue
        n = {f: step_derivative(cost, work, i, f * eps) for f in (10, 100, 1000)}
        bars = {10: abs(n[10] - n[100]), 100: abs(n[100] - n[1000])}
        best = min(bars, key=bars.get)
        if bars[best] >= abs(d.numeric[k] - n[best]):
            continue  # the larger steps are no steadier than the first: keep it
        d.numeric[k] = n[best]
        d.noise[k] = max(d.noise[k] / best, bars[best])


def kinks(
    cost: Cost,
    work: np.ndarray,
    idx: np.ndarray,
    analytic: np.ndarray,
    f0: float,
    d: Differences,
    failing: np.ndarray,
    rounding: float,
    rtol: float,
) -> np.ndarray:
    """Mask of failing coordinates whose disagreement a kink explains.

    A kink (a ReLU input crossing zero) within the step spoils a central difference.
    One-sided slopes at ``h/4``, ``h`` and ``2h`` show it, four more evaluations:

    * a side whose slopes change linearly with the step has no kink: extrapolated to a
      zero step (Richardson) they give that side's derivative, and an analytic value
      equal to it is right, the kink being on the other side;
    * otherwise the kink may sit at ``w`` itself (the jump between the sides stays the
      same as the step doubles, where curvature would double it) or near it (the
      central differences at ``h`` and ``h/4``, equal to O(h²) for a smooth function,
      differ beyond rounding); an analytic value between the slopes seen is then a valid
      subgradient.
    """
    right, left = (d.fp - f0) / d.hp, (f0 - d.fm) / d.hm
    kink = np.zeros(idx.size, dtype=bool)
    for k in np.flatnonzero(failing):
        i, h, noise = int(idx[k]), float(min(d.hp[k], d.hm[k])), float(d.noise[k])
        rq, lq = _one_sided(cost, work, i, f0, h / 4)
        r2, l2 = _one_sided(cost, work, i, f0, 2 * h)
        a = float(analytic[k])
        sides = [_side(rq, right[k], r2, noise), _side(lq, left[k], l2, noise)]
        found = [e for e in sides if e is not None]
        apart = len(found) < 2 or abs(found[0] - found[1]) > 2 * noise
        if apart and any(abs(a - e) <= 1.5 * noise + rtol * abs(a) for e in found):
            kink[k] = True
            continue
        central = (d.fp[k] - d.fm[k]) / (d.hp[k] + d.hm[k])
        # rounding moves a central difference at step s by about r/s, so those at h and h/4
        # differ by 5r/h at most; half as much again covers r being a typical, not the
        # largest, rounding (no more: this decides whether to *excuse* a coordinate)
        near = abs((rq + lq) / 2 - central) > 1.5 * rounding * 5 / h
        jump = right[k] - left[k]
        at_w = abs(jump) > noise and abs((r2 - l2) - jump) <= 0.25 * abs(jump) + 0.5 * noise
        if near:
            # kinks on both sides: the slopes of the smallest window come closest to the
            # derivative of the side w is on (one-sided noise at h/4 is about the noise)
            kink[k] = min(abs(a - lq), abs(a - rq)) <= 1.5 * noise + rtol * abs(a)
        elif at_w:
            # any value between the slopes is a subgradient; slopes extrapolated to a zero
            # step (Richardson) are exact at a kink at w
            slopes = (left[k], right[k], l2, r2, 2 * left[k] - l2, 2 * right[k] - r2)
            kink[k] = min(slopes) - 4 * noise <= a <= max(slopes) + 4 * noise
    return kink


def _side(quarter: float, one: float, double: float, noise: float) -> float | None:
    """The derivative on one side from its slopes at ``h/4``, ``h`` and ``2h``, or None.

    A smooth side's slope is linear in the step, ``s(t) = f′ ± f″t/2``, so the slope at
    2h follows from those at h/4 and h; the rounding of the three allows about twice the
    central difference's noise.  Its derivative is the slope extrapolated to a zero step.
    """
    predicted = one + (one - quarter) * 4 / 3
    if abs(double - predicted) > 2 * noise + 0.1 * abs(double - quarter):
        return None
    return quarter + (quarter - one) / 3


def _one_sided(cost: Cost, work: np.ndarray, i: int, f0: float, step: float) -> tuple[float, float]:
    """``(right, left)`` one-sided slopes of ``cost`` along coordinate ``i`` at ``step``."""
    fp, hp = perturbed(cost, work, i, step)
    fm, minus = perturbed(cost, work, i, -step)
    return (fp - f0) / hp, (f0 - fm) / -minus
