"""Central differences whose error bars are measured, not assumed.

For a coordinate ``i`` of a flat parameter vector ``w`` (float64 throughout):

* the numeric derivative ``n = (f(w + h e_i) − f(w − h e_i)) / 2h``, with ``h`` the
  exactly representable step nearest ``eps``;
* its noise: ``NOISE_FACTOR · r / h``, where ``r`` is the cost's own rounding error,
  *measured* by :func:`measure_rounding` (a cost summed from large terms, or computed in
  float32, rounds far above ``ε_mach·|f|``);
* a second look at loose coordinates (:func:`remeasure`): larger steps cut the rounding
  part of the error, and their spread is an error bar;
* kinks (:func:`kinks`): one-sided slopes that differ by a jump that does not grow with
  the step, with the analytic value between them: a valid subgradient, not an error.

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
    low: bool  # True when the cost is computed in less than float64 precision

    @property
    def name(self) -> str:
        """The floating-point type the cost rounds like."""
        if not self.low:
            return "float64"
        return "float32" if self.relative < 1e-5 else "float16 or coarser"

    def describe(self) -> str:
        """One line for a low-precision cost (empty in float64)."""
        if not self.low:
            return ""
        return (
            f"the cost rounds like {self.name} (relative rounding {self.relative:.1e}): "
            f"checked with eps {self.eps:.2g} and rtol {self.rtol:.2g} to suit it; "
            "compute the cost in float64 to check strictly"
        )


def measure_rounding(
    cost: Cost,
    work: np.ndarray,
    layout: Layout,
    f0: float,
    rng: np.random.Generator,
    step: float = 1e-6,
    per_block: int = 2,
) -> float:
    """The cost's own rounding error, measured rather than assumed.

    Along two random coordinates of each block, and along three random directions of the
    whole vector, the cost is evaluated at nine points ``w + t·step·u`` (t = −4..4) and
    a parabola is fitted through each half (t ≤ 0 and t ≥ 0); at such small steps the
    true function *is* that parabola, so what is left over is rounding.  Directions
    matter for a cost computed in float32: along one coordinate its value may not move
    at all at this step (every value equal, nothing left over), along a direction it
    moves by about one unit in the last place per step.  Values that are all exactly
    float32 (or float16) numbers say so too, and the rounding is at least half of such a
    number's last place.  Returns the largest of these estimates (absolute, cost units);
    ``work`` is restored.
    """
    directions = []
    for block in layout:
        for local in rng.choice(block.size, size=min(per_block, block.size), replace=False):
            u = np.zeros(work.size)
            u[block.offset + int(local)] = 1.0
            directions.append(u)
    coordinate = _median_residual(cost, work, directions, step)
    u = rng.standard_normal((3, work.size))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    seen: list[float] = [f0]
    directional = _median_residual(cost, work, list(u), step, seen)
    return max(coordinate, directional, _representable_rounding(seen))


def _median_residual(
    cost: Cost,
    work: np.ndarray,
    directions: list[np.ndarray],
    step: float,
    seen: list[float] | None = None,
) -> float:
    """Median over ``directions`` of the largest residual of two half-parabola fits."""
    t = np.arange(-4, 5, dtype=float)
    base = work.copy()
    residuals = []
    for u in directions:
        values = np.empty(t.size)
        for j, tj in enumerate(t):
            np.add(base, (tj * step) * u, out=work)
            values[j] = cost(work)
        if seen is not None:
            seen.extend(values.tolist())
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


def _representable_rounding(values: list[float]) -> float:
    """Half a last place of the narrowest float type that holds every value exactly."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v != 0)]
    if v.size < 8:
        return 0.0
    for narrow in (np.float16, np.float32):
        with np.errstate(over="ignore"):
            if np.array_equal(v.astype(narrow).astype(np.float64), v):
                return float(np.max(np.abs(v)) * np.finfo(narrow).eps / 2)
    return 0.0


def choose_precision(
    rounding: float, f0: float, eps: float | None = None, rtol: float | None = None
) -> Precision:
    """The step and tolerance for a cost that rounds by ``rounding`` at value ``f0``.

    In float64: ``eps = rtol = 1e-6``.  Below it, the central difference's rounding
    error ``r/h`` and its truncation error ``~h²`` balance at ``h ≈ ρ^{1/3}`` (ρ the
    relative rounding); the tolerance is of the same order, since neither error can be
    pushed below it.  Steps and tolerances given explicitly are kept.
    """
    relative = rounding / max(abs(f0), EPS_MACH)
    low = relative > LOW_PRECISION
    cube = float(np.clip(np.cbrt(relative), 1e-6, 0.1))
    return Precision(
        rounding=rounding,
        relative=relative,
        eps=eps if eps is not None else (cube if low else 1e-6),
        rtol=rtol if rtol is not None else (max(1e-6, cube) if low else 1e-6),
        low=low,
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
        wi = work[i]
        work[i] = wi + eps
        hp[k] = work[i] - wi  # the step actually taken, exactly representable
        fp[k] = cost(work)
        work[i] = wi - eps
        hm[k] = wi - work[i]
        fm[k] = cost(work)
        work[i] = wi
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
    wi = work[i]
    work[i] = wi + step
    hp = work[i] - wi
    fp = cost(work)
    work[i] = wi - step
    hm = wi - work[i]
    fm = cost(work)
    work[i] = wi
    return (fp - fm) / (hp + hm)


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
    look doubles it and extrapolates (Richardson): ``(4 n(h) − n(2h)) / 3``, with
    ``|n(h) − n(2h)| / 3`` (the truncation error) added to the noise.
    """
    for k in np.flatnonzero(which):
        i = int(idx[k])
        if low:
            n2 = step_derivative(cost, work, i, 2 * eps)
            bar = abs(d.numeric[k] - n2) / 3
            d.numeric[k] = (4 * d.numeric[k] - n2) / 3
            d.noise[k] = d.noise[k] + bar
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
) -> np.ndarray:
    """Mask of failing coordinates that are kinks, not errors.

    A kink: the one-sided slopes differ by a jump well above the rounding noise, the
    jump stays the same when the step doubles (smooth curvature would double it; noise
    would move it at random), and the analytic value lies between the slopes, so it is a
    valid subgradient.  Costs two more evaluations per failing coordinate with a jump.
    """
    right, left = (d.fp - f0) / d.hp, (f0 - d.fm) / d.hm
    kink = np.zeros(idx.size, dtype=bool)
    for k in np.flatnonzero(failing & (np.abs(right - left) > d.noise)):
        i = idx[k]
        wi = work[i]
        work[i] = wi + 2 * d.hp[k]
        right2 = (cost(work) - f0) / (work[i] - wi)
        work[i] = wi - 2 * d.hm[k]
        left2 = (f0 - cost(work)) / (wi - work[i])
        work[i] = wi
        jump, jump2 = right[k] - left[k], right2 - left2
        if abs(jump2 - jump) > 0.25 * abs(jump) + 0.5 * d.noise[k]:
            continue  # the slopes part like a smooth function's (or like noise): no kink
        # slopes extrapolated to a zero step (Richardson) are exact at a kink sitting at w
        slopes = (left[k], right[k], left2, right2, 2 * left[k] - left2, 2 * right[k] - right2)
        tol = 4 * d.noise[k]
        kink[k] = min(slopes) - tol <= analytic[k] <= max(slopes) + tol
    return kink
