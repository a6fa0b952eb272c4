"""What a failing gradient check means: causes per block, reasoned per layer.

A fully connected network's gradient has a structure a checker can use.  For layer
``l`` with input activations ``a_{l−1}`` and delta ``δ_l``::

    ∂J/∂W_l = a_{l−1}ᵀ δ_l / N  (+ the penalty's term)      ∂J/∂b_l = Σ_n δ_l / N
    δ_{l−1} = (δ_l W_lᵀ) ⊙ f′(z_{l−1})                       δ_L = ∂loss/∂z_L

so the weight and bias blocks of one layer share their delta, and a delta is built
from the one above.  Read per layer, the blocks that fail say where the error is:

* W_l passes, b_l fails: b_l is not built from the delta W_l uses (``bias_delta``);
* W_l and b_l fail alike while the layer above passes: δ_l goes wrong on its way down
  (``propagation``); at the top layer, δ_L itself is wrong (``output_derivative``);
* a part of ``analytic − numeric`` proportional to the block's own parameters is a
  penalty whose gradient does not match its cost (``penalty``); it is separated from
  the rest, so a bug under it is named in the same run.

Two probes make this exact where the values at ``w`` cannot (:class:`Prober`):

* the *penalty probe* cuts a hidden unit's outgoing weights, so the data no longer
  depends on its incoming weights and bias: whatever gradient and cost still give
  them is the penalty alone, on each side;
* the *bias probe* makes a hidden unit's input constant (``z = c`` for every sample)
  and its outgoing weights ``±ε v``: then ``δ_l`` of that unit is ``f′(c)`` times a
  vector that does not depend on ``c``, and a correct weight column and bias must both
  scale with ``f′(c)``.  A bias that does not (the ``f′`` left out) is named.

Block-level patterns need no structure: a constant factor (``scale``), a flipped sign
(``sign``), zeros (``zero``), a few coordinates (``isolated``), a cost too imprecise to
judge (``precision``).  Anything else is ``other``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deltanet.layout import Block, Layout

if TYPE_CHECKING:
    from deltanet.finitediff import Precision
    from deltanet.gradcheck import BlockResult, GradCheckReport

CAUSES = (
    "scale",
    "sign",
    "zero",
    "penalty",
    "bias_delta",
    "output_derivative",
    "propagation",
    "isolated",
    "precision",
    "other",
)

# status of a block's error once any penalty component is set aside
PASS, PATTERN = "pass", "pattern"
CONSTANT = ("scale", "sign", "zero", "isolated")  # patterns that leave the delta intact


# ---------------------------------------------------------------------- block patterns


def tolerance(a: np.ndarray, n: np.ndarray, noise: np.ndarray, rtol: float) -> np.ndarray:
    """Per coordinate, the largest ``|a − n|`` that passes: ``max(rtol·max(|a|, |n|), noise)``.

    NaN where either value is not finite, so that no comparison with it passes.
    """
    with np.errstate(invalid="ignore"):
        tol = np.maximum(rtol * np.maximum(np.abs(a), np.abs(n)), noise)
    return np.where(np.isfinite(a) & np.isfinite(n), tol, np.nan)


def describe_factor(k: float) -> str:
    """Words for ``analytic ≈ k × numeric``, ``k > 0``."""
    if abs(k - 2) < 0.02:
        return "an extra factor of 2 (2·λ·W for (λ/2)‖W‖², or d/dx x² left as 2x?)"
    if abs(k - 0.5) < 0.005:
        return "a missing factor of 2 (λ·W where the cost has λ‖W‖², or a ½ too many?)"
    if k >= 2.5 and abs(k - round(k)) < 0.02 * k:
        return f"a missing division by {round(k)} (a sum over the batch where a mean was meant?)"
    if k <= 0.4 and abs(1 / k - round(1 / k)) < 0.02 / k:
        return f"an extra division by {round(1 / k)} (a mean where a sum was meant?)"
    return "a constant factor that should not be there (a stray 1/N, λ or ½?)"


@dataclass
class Pattern:
    """How a block's analytic values relate to the numeric ones."""

    status: str  # PASS, PATTERN, "precision" or one of CONSTANT
    factor: float | None = None  # "scale" / "sign": analytic ≈ factor × numeric
    words: str = ""


def classify(
    a: np.ndarray,
    n: np.ndarray,
    noise: np.ndarray,
    rtol: float,
    label: Callable[[int], str] = str,
) -> Pattern:
    """The pattern of ``a`` against ``n`` (non-kink coordinates), judged as the check does.

    ``label(i)`` names the i-th coordinate for the words (``W1[3, 4]``).
    """
    tol = tolerance(a, n, noise, rtol)
    bad = ~(np.abs(a - n) <= tol)  # NaN fails
    m, total = int(bad.sum()), int(a.size)
    if not m:
        return Pattern(PASS)
    where = f"{m:,} of {total:,} coordinates fail"
    broken = ~(np.isfinite(a) & np.isfinite(n))
    if broken.any():
        at = ", ".join(label(int(i)) for i in np.flatnonzero(broken)[:3])
        side = "analytic gradient" if not np.isfinite(a[broken]).all() else "cost near w"
        return Pattern(
            "nonfinite",
            words=f"{where}; the {side} is NaN or infinite at {at}: an overflow, a log or "
            "division of zero, or an uninitialised value",
        )
    if (((np.abs(a) <= 1e-3 * tol) & (np.abs(n) > tol)).sum()) >= 0.9 * m:
        return Pattern(
            "zero",
            words=f"{where}; the analytic gradient is zero where the numeric one is not "
            "(a term never computed, or never added)",
        )
    scaled = constant_factor(a, n, noise, rtol)
    if scaled is not None:
        scaled.words = f"{where}; {scaled.words}"
        return scaled
    if total >= 10 and m <= max(2, min(5, total // 10)):
        at = ", ".join(label(int(i)) for i in np.flatnonzero(bad)[:3])
        good = ~bad
        rest = np.abs(a[good] - n[good]) / np.maximum(
            np.maximum(np.abs(a[good]), np.abs(n[good])), 1e-300
        )
        return Pattern(
            "isolated",
            words=f"{where} ({at}{', ...' if m > 3 else ''}) while the other "
            f"{total - m:,} agree (relative error {float(np.max(rest, initial=0)):.1e} at "
            "most): an indexing slip (an off-by-one, a wrong slice, a value written to the "
            "wrong place)",
        )
    return Pattern(
        PATTERN,
        words=f"{where}; where they do, analytic and numeric differ by a factor that changes "
        f"from coordinate to coordinate (correlation {correlation(a, n):.3f})",
    )


def constant_factor(a: np.ndarray, n: np.ndarray, noise: np.ndarray, rtol: float) -> Pattern | None:
    """``analytic = k × numeric`` on every coordinate, within tolerance, if it is
    (``k × numeric`` carries ``|k|`` times the numeric noise), and ``k`` is not 1."""
    tol = tolerance(a, n, noise, rtol)
    resolved = (np.abs(n) > tol) & np.isfinite(a) & np.isfinite(n)
    if resolved.sum() < 3:
        return None  # one or two values fit any factor: let the layer structure decide
    # weighted by 1/tol²: a coordinate measured ten times more precisely counts more
    wt = 1.0 / tol[resolved] ** 2
    k = float(np.sum(wt * a[resolved] * n[resolved]) / np.sum(wt * n[resolved] ** 2))
    if abs(k) < 1e-3:
        return None  # zeros, not a factor
    if not np.all(np.abs(a - k * n) <= tolerance(a, k * n, abs(k) * noise, rtol)):
        return None
    if np.all(np.abs(a - n) <= tolerance(a, n, noise, rtol)):
        return None  # k ≈ 1: nothing to explain
    if abs(k + 1) < 0.01:
        return Pattern("sign", -1.0, "analytic = −numeric: the sign is flipped")
    if k < 0:
        return Pattern(
            "sign",
            k,
            f"analytic ≈ {k:.4g} × numeric: the sign is flipped and the scale is off "
            f"({describe_factor(-k)})",
        )
    return Pattern("scale", k, f"analytic ≈ {k:.4g} × numeric: {describe_factor(k)}")


def correlation(a: np.ndarray, n: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(n) == 0:
        return 0.0
    return float(np.corrcoef(a, n)[0, 1])


# ---------------------------------------------------------------------- penalties


@dataclass(frozen=True)
class Penalty:
    """A part of ``analytic − numeric`` equal to ``mu × params``: a penalty mismatch.

    From a probe, the two sides are known apart: the gradient's penalty term is
    ``grad_coef × params`` and the cost's derivative ``cost_coef × params``.
    """

    mu: float
    grad_coef: float | None = None
    cost_coef: float | None = None

    def remove(self, a: np.ndarray, n: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(analytic, numeric)`` with the penalty taken out of each side it is known on.

        From a probe both sides are known, and each loses its own term, so a factor or
        sign that multiplies the rest of the gradient stays visible; from a fit only the
        difference is, and it comes off the analytic side.
        """
        if self.grad_coef is not None and self.cost_coef is not None:
            return a - self.grad_coef * p, n - self.cost_coef * p
        return a - self.mu * p, n

    def words(self, name: str) -> str:
        g, c = self.grad_coef, self.cost_coef
        if g is None or c is None:
            return (
                f"analytic − numeric contains {self.mu:+.3g} × {name}: a penalty whose "
                f"gradient does not match its cost (λ against λ/2, or {name} penalised in "
                "only one of them)"
            )
        if abs(g) <= 0.05 * abs(c):
            return (
                f"the cost penalises {name} (its derivative is {c:+.3g} × {name}) but the "
                f"gradient does not: add that term, or take {name} out of the cost's penalty"
            )
        if abs(c) <= 0.05 * abs(g):
            return (
                f"the gradient penalises {name} ({g:+.3g} × {name}) but the cost does not: "
                "add the penalty to the cost, or drop the term from the gradient"
            )
        ratio = g / c
        if abs(ratio - 2) < 0.05:
            return (
                f"the gradient's penalty term is twice the cost's ({g:.3g} × {name} for a "
                f"cost whose derivative is {c:.3g} × {name}): 2λ·W where the cost has "
                "(λ/2)‖W‖²; write λ·W, or make the cost λ‖W‖²"
            )
        if abs(ratio - 0.5) < 0.0125:
            return (
                f"the gradient's penalty term is half the cost's ({g:.3g} × {name} for "
                f"{c:.3g} × {name}): λ·W where the cost has λ‖W‖²"
            )
        return (
            f"the gradient's penalty term ({g:+.3g} × {name}) does not match the cost's "
            f"derivative ({c:+.3g} × {name})"
        )


def fit_penalty(r: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """Least squares ``r ≈ μ·p``: ``(μ, its standard error, share of ‖r‖² explained)``."""
    pp = float(np.dot(p, p))
    rr = float(np.dot(r, r))
    if pp == 0 or rr == 0 or r.size < 2:
        return 0.0, np.inf, 0.0
    mu = float(np.dot(r, p) / pp)
    resid = float(np.dot(r - mu * p, r - mu * p))
    return mu, float(np.sqrt(resid / (r.size - 1) / pp)), 1.0 - resid / rr


# ---------------------------------------------------------------------- network structure


@dataclass(frozen=True)
class Layer:
    """One fully connected layer of the layout: a weight block and its bias block.

    ``transposed``: the weights are stored ``(fan_out, fan_in)`` (``z = W a + b``)
    rather than ``(fan_in, fan_out)`` (``z = a W + b``).
    """

    number: int  # 1-based
    W: Block
    b: Block
    transposed: bool

    @property
    def fan_in(self) -> int:
        return self.W.shape[1] if self.transposed else self.W.shape[0]

    @property
    def fan_out(self) -> int:
        return self.b.size

    def _grid(self) -> np.ndarray:
        """Flat indices of W as ``(fan_in, fan_out)``."""
        grid = np.arange(self.W.size).reshape(self.W.shape) + self.W.offset
        return grid.T if self.transposed else grid

    def incoming(self, k: int) -> np.ndarray:
        """Flat indices of unit ``k``'s incoming weights."""
        return self._grid()[:, k]

    def from_input(self, j: int) -> np.ndarray:
        """Flat indices of the weights leaving input ``j`` (unit ``j`` of the layer below)."""
        return self._grid()[j, :]

    def bias(self, k: int) -> int:
        return self.b.offset + k


def find_layers(layout: Layout) -> tuple[list[Layer] | None, bool]:
    """The layers of a fully connected network laid out ``W1, b1, W2, b2, ...``.

    Recognised by shape, not name: 2-D and 1-D blocks alternate, each bias matches one
    side of its weights, and each layer's input width is the previous layer's output.
    Returns ``(layers or None, whether the weights' orientation is certain)``: when every
    layer is square, ``(fan_in, fan_out)`` and ``(fan_out, fan_in)`` storage both fit,
    and the probes, which must know a unit's incoming weights, cannot be used.
    """
    blocks = list(layout)
    if len(blocks) < 2 or len(blocks) % 2:
        return None, False
    pairs = list(zip(blocks[::2], blocks[1::2], strict=True))
    if any(len(W.shape) != 2 or len(b.shape) != 1 for W, b in pairs):
        return None, False
    fitting = []
    for transposed in (False, True):
        layers = [Layer(i + 1, W, b, transposed) for i, (W, b) in enumerate(pairs)]
        widths_fit = all(
            (layer.W.shape[0] if transposed else layer.W.shape[1]) == layer.b.size
            for layer in layers
        )
        chained = all(low.fan_out == high.fan_in for low, high in itertools.pairwise(layers))
        if widths_fit and chained:
            fitting.append(layers)
    return (fitting[0], len(fitting) == 1) if fitting else (None, False)


# ---------------------------------------------------------------------- probes


@dataclass
class Prober:
    """Evaluates the user's functions at modified parameter vectors.

    ``grad(w)``: the analytic gradient; ``numeric(w, idx)``: central differences of the
    cost at ``w`` along ``idx``, as ``(values, noise)``.  A probe whose evaluation
    raises or returns non-finite values is inconclusive, never a verdict.
    """

    w: np.ndarray
    grad: Callable[[np.ndarray], np.ndarray]
    numeric: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    rtol: float
    rng: np.random.Generator

    def units(self, layer: Layer, count: int) -> np.ndarray:
        return np.sort(
            self.rng.choice(layer.fan_out, size=min(count, layer.fan_out), replace=False)
        )


def penalty_probe(prober: Prober, layers: Sequence[Layer]) -> dict[str, Penalty]:
    """The penalty mismatch of every hidden layer's weights and biases, measured exactly.

    Cutting the outgoing weights of a hidden unit leaves its incoming weights and bias
    without influence on the data term, so there the analytic gradient is the gradient's
    penalty term alone and the numeric one the cost's.  Returns ``{block: Penalty}``,
    with ``mu = 0`` where the two agree; blocks it could not measure are left out.
    """
    w = prober.w.copy()
    chosen = {}
    for layer, above in itertools.pairwise(layers):
        chosen[layer.number] = prober.units(layer, 3)
        for k in chosen[layer.number]:
            w[above.from_input(int(k))] = 0.0
    try:
        g = np.asarray(prober.grad(w), dtype=np.float64)
    except Exception:  # a probe that cannot run proves nothing
        return {}
    found = {}
    for layer in layers[:-1]:
        units = chosen[layer.number]
        weights = np.concatenate([_sample(prober, w, layer.incoming(int(k)), 6) for k in units])
        biases = np.array([layer.bias(int(k)) for k in units])
        for block, idx in ((layer.W, weights), (layer.b, biases)):
            measured = _measure_penalty(prober, w, g, idx)
            if measured is not None:
                found[block.name] = measured
    return found


def _sample(prober: Prober, w: np.ndarray, idx: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` of ``idx``, preferring parameters that are not zero."""
    nonzero = idx[w[idx] != 0]
    pool = nonzero if nonzero.size >= count else idx
    return prober.rng.choice(pool, size=min(count, pool.size), replace=False)


def _measure_penalty(
    prober: Prober, w: np.ndarray, g: np.ndarray, idx: np.ndarray
) -> Penalty | None:
    try:
        n, noise = prober.numeric(w, idx)
    except Exception:
        return None
    a, p = g[idx], w[idx]
    if not (np.isfinite(a).all() and np.isfinite(n).all()) or not np.any(p):
        return None
    tol = tolerance(a, n, noise, prober.rtol)
    pp = float(np.dot(p, p))
    ga, gn = float(np.dot(a, p) / pp), float(np.dot(n, p) / pp)
    if not np.any(np.abs(a - n) > tol):
        # agreement means "no mismatch" only where the terms could be seen at all; below
        # the noise (a float32 cost, a small λ) nothing is known
        seen = (np.maximum(np.abs(a), np.abs(n)) > noise) | (a == n)
        return Penalty(0.0, ga, gn) if seen.all() else None
    if np.all(np.abs(a - ga * p) <= tol) and np.all(np.abs(n - gn * p) <= tol):
        return Penalty(ga - gn, ga, gn)
    return None  # not proportional to the parameters: not an L2 penalty


BIAS_PROBE_POINTS = (0.5, 2.5, -1.5)  # z of the probed unit: f′ differs between them


def bias_probe(prober: Prober, layer: Layer, above: Layer) -> bool | None:
    """Is hidden layer ``layer``'s bias gradient built from the delta its weights use?

    For a few units ``k``: incoming weights 0 and bias ``c`` make ``z_k = c`` for every
    sample; outgoing weights ``±ε v`` make ``δ_k`` (to first order, exactly in the
    difference of the two signs) ``f′(c)·u`` with ``u`` independent of ``c``.  So the
    weight column ``a_{l−1}ᵀ δ_k / N`` and the bias ``Σ_n δ_k / N`` must both scale with
    ``f′(c)`` as ``c`` moves.  True: consistent; False: the bias is not; None: unknown.
    """
    votes = []
    for k in prober.units(layer, 4):
        vote = _bias_vote(prober, layer, above, int(k))
        if vote is not None:
            votes.append(vote)
    if not votes:
        return None
    return sum(votes) * 2 >= len(votes)


def _bias_vote(prober: Prober, layer: Layer, above: Layer, k: int) -> bool | None:
    w = prober.w.copy()
    incoming, outgoing, bias = layer.incoming(k), above.from_input(k), layer.bias(k)
    w[incoming] = 0.0
    rms = float(np.sqrt(np.mean(np.square(prober.w[above.W.offset : above.W.stop])))) or 1.0
    v = 0.1 * rms * prober.rng.standard_normal(outgoing.size)
    GW, Gb = [], []
    try:
        for c in BIAS_PROBE_POINTS:
            w[bias] = c
            sides = []
            for sign in (1.0, -1.0):
                w[outgoing] = sign * v
                g = np.asarray(prober.grad(w), dtype=np.float64)
                sides.append((g[incoming], g[bias]))
            GW.append(sides[0][0] - sides[1][0])  # the ±ε difference: linear in ε, no penalty
            Gb.append(float(sides[0][1] - sides[1][1]))
    except Exception:
        return None
    GW_arr, Gb_arr = np.array(GW), np.array(Gb)
    if not (np.isfinite(GW_arr).all() and np.isfinite(Gb_arr).all()):
        return None
    ref = int(np.argmax(np.linalg.norm(GW_arr, axis=1)))
    base = GW_arr[ref]
    bb = float(np.dot(base, base))
    if bb == 0 or not np.any(Gb_arr):
        return None
    s = GW_arr @ base / bb  # how the weight column scales with f′(c), relative to ref
    if np.any(np.linalg.norm(GW_arr - np.outer(s, base), axis=1) > 0.05 * np.sqrt(bb)):
        return None  # the column changes direction with c: not the network assumed here
    return bool(np.all(np.abs(Gb_arr - s * Gb_arr[ref]) <= 0.1 * np.max(np.abs(Gb_arr))))


# ---------------------------------------------------------------------- causes


@dataclass
class Finding:
    """What is known about one block: its penalty component, the rest's pattern, causes."""

    block: BlockResult
    pattern: Pattern = field(default_factory=lambda: Pattern(PASS))
    penalty: Penalty | None = None
    causes: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.block.name

    @property
    def unexplained(self) -> bool:
        """Fails in a way only the layer's structure can explain."""
        return self.pattern.status == PATTERN

    def state(self) -> str:
        """How the block stands, for sentences about its layer."""
        return {
            PASS: "agrees once its penalty term is set aside" if self.penalty else "agrees",
            "scale": "fails only by a constant factor",
            "sign": "fails only by its sign",
            "zero": "is left at zero",
            "isolated": "fails at a few coordinates only",
            "precision": "cannot be judged",
            "nonfinite": "holds NaN or infinite values",
        }.get(self.pattern.status, "fails")


def diagnose(report: GradCheckReport, prober: Prober | None) -> None:
    """Fill every block's ``causes``, ``factor`` and ``diagnosis``, and the report's
    ``summary`` and ``diagnosis`` lines, from the checked values (and probes)."""
    if report.ok:
        report.summary = "passed: every block agrees with central differences"
        kinks = sum(b.n_kinks for b in report.blocks)
        if kinks:
            report.diagnosis.append(
                f"{kinks:,} coordinates have a kink within the step (e.g. a ReLU input "
                "crossing 0): measured in a smaller window, or, at w itself, where left and "
                "right slopes differ and the analytic value lies between them."
            )
        return
    layers, certain = find_layers(Layout({b.name: b.shape for b in report.blocks}))
    probed: dict[str, Penalty] = {}
    if layers is not None and len(layers) > 1 and certain and prober is not None:
        probed = penalty_probe(prober, layers)
    kinds = {b.name: len(b.shape) for b in report.blocks}
    findings = {b.name: _finding(b, probed, kinds, report.precision) for b in report.blocks}
    lines: list[str] = []
    if layers is not None:
        _reason(findings, layers, prober if certain else None, lines)
    for f in findings.values():
        if f.pattern.status in (PATTERN, "nonfinite") and not f.causes & LAYER_CAUSES:
            f.causes.add("other")
    for b in report.blocks:
        f = findings[b.name]
        b.causes = tuple(c for c in CAUSES if c in f.causes)
        b.factor = f.pattern.factor if f.pattern.status in ("scale", "sign") else None
        b.penalty = f.penalty
        b.diagnosis = _block_words(f)
    report.summary = _summary(report, findings)
    report.diagnosis.extend(lines)


LAYER_CAUSES = frozenset({"output_derivative", "propagation", "bias_delta", "other"})


def _finding(
    b: BlockResult,
    probed: dict[str, Penalty],
    kinds: dict[str, int],
    precision: Precision | None,
) -> Finding:
    f = Finding(b)
    if b.ok:
        return f
    if not b.judged:
        f.pattern = Pattern("precision", words=_precision_words(b, precision))
        f.causes.add("precision")
        return f
    use = ~b.kink
    a, n, p, noise = b.analytic[use], b.numeric[use], b.params[use], b.noise[use]
    finite = bool(np.isfinite(a).all() and np.isfinite(n).all())
    # a constant factor or a flipped sign over the whole block explains everything at
    # once (a negated gradient negates its penalty term too): no decomposition then
    if finite and constant_factor(a, n, noise, b.rtol) is None:
        f.penalty = _penalty_of(b.name, a, n, p, noise, b.rtol, probed, kinds)
    label = _labeller(b, use)
    if f.penalty is None:
        f.pattern = classify(a, n, noise, b.rtol, label)
    else:
        f.causes.add("penalty")
        f.penalty, f.pattern = _remainder(f.penalty, a, n, p, noise, b.rtol, label)
    if f.pattern.status in CONSTANT:
        f.causes.add(f.pattern.status)
    return f


# how simply a remainder is explained: a pass, then one constant pattern, then the rest
SIMPLICITY = {PASS: 0, "scale": 1, "sign": 1, "zero": 1, "isolated": 2, PATTERN: 3}


def _remainder(
    pen: Penalty,
    a: np.ndarray,
    n: np.ndarray,
    p: np.ndarray,
    noise: np.ndarray,
    rtol: float,
    label: Callable[[int], str],
) -> tuple[Penalty, Pattern]:
    """The penalty as separated, and the pattern of what is left.

    A sign flipped over a whole block flips its penalty term with the rest, so where the
    probe's coefficients come from another layer, the negated gradient coefficient is
    tried too, and the simpler remainder wins.
    """
    candidates = [pen]
    if pen.grad_coef and pen.cost_coef is not None:
        g, c = -pen.grad_coef, pen.cost_coef
        candidates.append(Penalty(g - c, g, c))
    tried = [(q, classify(*q.remove(a, n, p), noise, rtol, label)) for q in candidates]
    return min(tried, key=lambda t: SIMPLICITY.get(t[1].status, 4))


def _precision_words(b: BlockResult, precision: Precision | None) -> str:
    head = (
        f"only {b.n_resolved:,} of {b.n_checked:,} gradient entries stand out of the "
        f"cost's rounding noise ({float(np.median(b.noise)):.1e} at this step): nothing here "
        "can be judged; "
    )
    if precision is not None and precision.low:
        return head + "compute the cost in float64"
    return head + (
        "the gradient is too small here for the cost's rounding (at an optimum it is "
        "zero): check at another point, such as random weights, or with a larger eps"
    )


def _labeller(b: BlockResult, use: np.ndarray) -> Callable[[int], str]:
    local = b.indices[use]
    block = Block(b.name, b.shape, 0)
    return lambda i: block.label(int(local[i]))


def _penalty_of(
    name: str,
    a: np.ndarray,
    n: np.ndarray,
    p: np.ndarray,
    noise: np.ndarray,
    rtol: float,
    probed: dict[str, Penalty],
    kinds: dict[str, int],
) -> Penalty | None:
    """The penalty component of ``analytic − numeric``, if one is there and matters.

    Measured by the penalty probe where it could (hidden layers).  Elsewhere (the top
    layer) it is taken from the blocks of the same kind the probe measured (weights or
    biases: code usually penalises all of a kind alike), provided they agree among
    themselves and this block's own least-squares fit does not contradict them.  With
    no probe of that kind, the fit alone decides, when it explains nearly all of the
    difference (a share of 0.9).
    """
    pen = probed.get(name)
    if pen is None:
        r = a - n
        mu, se, share = fit_penalty(r, p)
        same = [q for other, q in probed.items() if kinds[other] == kinds[name]]
        # the probes agree to 5%, as measurements of one coefficient do
        agree = same and all(abs(q.mu - same[0].mu) <= 0.05 * abs(same[0].mu) for q in same)
        if agree and same[0].mu:
            # within four standard errors of the fit, or a quarter of the coefficient
            if abs(mu - same[0].mu) <= max(4 * se, 0.25 * abs(same[0].mu)):
                pen = same[0]
        elif agree:
            # the probes saw no mismatch in blocks of this kind: only an overwhelming fit
            # of this block's own says otherwise
            pen = Penalty(mu) if share >= 0.99 else None
        elif not same and share >= 0.9:
            pen = Penalty(mu)
    if pen is None or not pen.mu:
        return None
    # too small to change the verdict of any coordinate: not worth a cause
    if np.max(np.abs(pen.mu * p) / tolerance(a, n, noise, rtol), initial=0) < 1:
        return None
    return pen


def _block_words(f: Finding) -> str:
    parts = []
    if f.penalty is not None:
        parts.append(f.penalty.words(f.name))
        if f.pattern.status == PASS:
            parts.append("apart from that it agrees")
    if f.pattern.words:
        lead = "the rest: " if f.penalty is not None else ""
        parts.append(lead + f.pattern.words)
    return "; ".join(parts)


# ---------------------------------------------------------------------- per layer


def _reason(
    findings: dict[str, Finding], layers: list[Layer], prober: Prober | None, lines: list[str]
) -> None:
    """Causes of the blocks only the layer structure explains, top layer first."""
    delta_cause: dict[int, str] = {}  # layer -> why its delta is wrong, for the layers below
    for layer in reversed(layers):
        fw, fb = findings[layer.W.name], findings[layer.b.name]
        if layer.number == len(layers):
            _reason_top(layer, layers, findings, delta_cause, lines)
            continue
        above = layers[layer.number]  # layers are numbered from 1
        inherited = delta_cause.get(above.number)
        if inherited is not None:
            _inherit(fw, fb, inherited)
        if fw.unexplained and fb.unexplained:
            cause = inherited or "propagation"
            delta_cause[layer.number] = cause
            _add(lines, fw, cause, _delta_words(layer, above, findings, cause))
            fb.causes.add(cause)
            if prober is not None and bias_probe(prober, layer, above) is False:
                _add(lines, fb, "bias_delta", _probe_bias_words(layer))
        elif fw.unexplained and fb.pattern.status == PASS:
            _add(lines, fw, "other", _weights_only_words(layer))
        elif fw.unexplained:  # the bias has its own error, so it cannot vouch for δ_l
            cause = delta_cause.get(above.number)
            if cause is not None:
                _add(lines, fw, cause, _delta_words(layer, above, findings, cause))
            else:
                _add(lines, fw, "other", _unvouched_words(layer, fb))
        elif fb.unexplained:
            _add(lines, fb, "bias_delta", _hidden_bias_words(layer, above, fw))


def _inherit(fw: Finding, fb: Finding, cause: str) -> None:
    """Blocks under a wrong delta: a constant pattern there is the delta's doing.

    Seen through a loose (float32) tolerance, an inherited error can look like a clean
    factor or like a few wrong coordinates; with the delta above known to be wrong, that
    is no separate bug, and the blocks are explained by the layer instead.
    """
    for f in (fw, fb):
        if f.pattern.status in ("scale", "sign", "isolated"):
            f.causes.discard(f.pattern.status)
            f.pattern = Pattern(PATTERN, words=f.pattern.words)


def _reason_top(
    layer: Layer,
    layers: list[Layer],
    findings: dict[str, Finding],
    delta_cause: dict[int, str],
    lines: list[str],
) -> None:
    """The top layer: δ_L is wrong only if the weights *and* what shares δ_L say so."""
    fw, fb = findings[layer.W.name], findings[layer.b.name]
    below = findings[layers[-2].W.name] if len(layers) > 1 else None
    if fw.unexplained:
        # b_L shares δ_L with W_L, and every delta below is built from it: when b_L
        # agrees, or the layer below does, δ_L is right and the error is W_L's own
        vouched = fb.pattern.status == PASS or (
            not fb.unexplained and below is not None and below.pattern.status == PASS
        )
        if vouched:
            _add(lines, fw, "other", _weights_only_words(layer))
        elif fb.unexplained or (below is not None and below.unexplained):
            delta_cause[layer.number] = "output_derivative"
            _inherit(fw, fb, "output_derivative")
            _add(lines, fw, "output_derivative", _top_delta_words(layer, fb))
            if fb.unexplained:
                fb.causes.add("output_derivative")
        else:
            _add(lines, fw, "other", _unvouched_words(layer, fb))
    elif fb.unexplained:
        _add(lines, fb, "bias_delta", _top_bias_words(layer, fw))


def _add(lines: list[str], f: Finding, cause: str, words: str) -> None:
    f.causes.add(cause)
    if words not in lines:
        lines.append(words)


def _d(layer: Layer) -> str:
    return f"δ{layer.number}"


def _top_delta_words(layer: Layer, fb: Finding) -> str:
    both = f"{layer.W.name} and {layer.b.name} fail" if fb.unexplained else f"{layer.W.name} fails"
    return (
        f"{both} by a factor that varies from unit to unit and sample to sample: the error "
        f"starts at the output, in the top delta {_d(layer)}. It must be "
        f"∂loss/∂z{layer.number}: for squared error with sigmoid outputs "
        "(h − y)·h·(1 − h), for softmax with cross-entropy h − y. Is the "
        "output non-linearity's derivative missing, or applied twice? Every layer below "
        "inherits the error."
    )


def _top_bias_words(layer: Layer, fw: Finding) -> str:
    W, b, d = layer.W.name, layer.b.name, _d(layer)
    return (
        f"{W} {fw.state()} but {b} does not: {b} is not built from the delta {W} uses. "
        f"∂J/∂{b} = Σ_n {d} / N with the same top delta as ∂J/∂{W} = aᵀ {d} / N; "
        f"dE/dy alone is not {d} when the output has a non-linearity (squared error with "
        f"sigmoid outputs: {d} = (h − y)·h·(1 − h))."
    )


def _delta_words(layer: Layer, above: Layer, findings: dict[str, Finding], cause: str) -> str:
    W, b, d, da = layer.W.name, layer.b.name, _d(layer), _d(above)
    if cause == "output_derivative":
        return f"{W} and {b} inherit the wrong top delta: fix the top layer first."
    if cause == "propagation" and findings[above.W.name].unexplained:
        return f"{W} and {b} inherit the wrong {da} from above."
    return (
        f"{above.W.name} {findings[above.W.name].state()}, so {da} is right, but {W} and {b} "
        f"both fail: {d} goes wrong on its way down. It must be {d} = ({da} "
        f"{above.W.name}ᵀ) ⊙ f′(z{layer.number}): built from {da} (not from dE/dy), with "
        f"{above.W.name} transposed, and f′ taken of z{layer.number} (from the stored "
        "activation: a(1 − a) for a sigmoid, not σ′(a))."
    )


def _hidden_bias_words(layer: Layer, above: Layer, fw: Finding) -> str:
    W, b, d = layer.W.name, layer.b.name, _d(layer)
    return (
        f"{W} {fw.state()} but {b} does not: {b} is not built from {d}, the delta {W} uses. "
        f"∂J/∂{b} = Σ_n {d} / N with {d} = ({_d(above)} {above.W.name}ᵀ) ⊙ f′(z{layer.number}) "
        "(is f′ left out of the bias gradient?)."
    )


def _probe_bias_words(layer: Layer) -> str:
    W, b = layer.W.name, layer.b.name
    return (
        f"Besides, {b} does not follow f′(z{layer.number}) the way {W} does (probed by "
        f"holding units' inputs constant): {b} is not built from the delta {W} uses, most "
        "likely with the f′ factor left out."
    )


def _unvouched_words(layer: Layer, fb: Finding) -> str:
    W, b, d = layer.W.name, layer.b.name, _d(layer)
    return (
        f"{W} fails with no simple pattern, and {b} {fb.state()}, so it cannot tell whether "
        f"{d} is right: fix {b} first, then check again."
    )


def _weights_only_words(layer: Layer) -> str:
    W, b, d = layer.W.name, layer.b.name, _d(layer)
    return (
        f"{b} agrees, so {d} is right, but {W} does not: ∂J/∂{W} = aᵀ {d} / N is built from "
        "the wrong activations, a transposed product, or a factor of its own."
    )


# ---------------------------------------------------------------------- the summary


def _summary(report: GradCheckReport, findings: dict[str, Finding]) -> str:
    """The one-line verdict, made of the failing blocks' causes and nothing else."""
    failed = [b for b in report.blocks if not b.ok]
    parts = []
    for cause in CAUSES:
        names = [b.name for b in failed if cause in findings[b.name].causes]
        if names:
            parts.append(_cause_phrase(cause, names, report, findings))
    return f"FAILED in {', '.join(b.name for b in failed)}: " + "; ".join(parts)


def _cause_phrase(
    cause: str, names: list[str], report: GradCheckReport, findings: dict[str, Finding]
) -> str:
    blocks = ", ".join(names)
    if cause == "scale":
        factors = ", ".join(f"×{findings[n].pattern.factor:.4g}" for n in names)
        return f"{blocks} off by a constant factor ({factors})"
    if cause == "sign":
        if len(names) == len(report.blocks):
            return "the whole gradient has the wrong sign"
        return f"the sign is flipped in {blocks}"
    if cause == "other" and any(findings[n].pattern.status == "nonfinite" for n in names):
        return f"NaN or infinite values in {blocks}"
    return {
        "zero": f"{blocks} left at zero where the cost changes",
        "penalty": f"the penalty's gradient does not match its cost in {blocks}",
        "bias_delta": f"{blocks} is not built from its layer's delta"
        if len(names) == 1
        else f"{blocks} are not built from their layers' deltas",
        "output_derivative": f"the top delta is wrong, and with it {blocks}",
        "propagation": f"the delta goes wrong on its way down ({blocks})",
        "isolated": f"a few wrong coordinates in {blocks} (an indexing slip)",
        "precision": f"{blocks} cannot be judged: the gradient there is lost in the cost's "
        "rounding",
        "other": f"{blocks} wrong with no simple pattern",
    }[cause]
