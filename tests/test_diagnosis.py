import numpy as np
import pytest
from handwritten import HandWritten

from deltanet import diagnosis, finitediff
from deltanet.layout import Layout


def test_factor_words():
    assert "extra factor of 2" in diagnosis.describe_factor(2.0)
    assert "missing factor of 2" in diagnosis.describe_factor(0.5)
    assert "missing division by 20" in diagnosis.describe_factor(20.0)
    assert "extra division by 20" in diagnosis.describe_factor(0.05)
    # never "a missing division by 1"
    for k in (1.01, 1.3, 0.9, 1.49):
        assert "division by 1 " not in diagnosis.describe_factor(k) + " "


def _classify(a, n, noise=1e-12, rtol=1e-6):
    a, n = np.asarray(a, float), np.asarray(n, float)
    return diagnosis.classify(a, n, np.full(a.size, noise), rtol)


def test_patterns(rng):
    n = rng.normal(size=50)
    assert _classify(n, n).status == "pass"
    assert _classify(2 * n, n).status == "scale" and _classify(2 * n, n).factor == pytest.approx(2)
    p = _classify(-n, n)
    assert p.status == "sign" and p.factor == -1.0 and "sign is flipped" in p.words
    assert _classify(np.zeros(50), n).status == "zero"
    slip = n.copy()
    slip[7] += 1.0
    p = _classify(slip, n, rtol=1e-6)
    assert p.status == "isolated" and "(7)" in p.words
    assert _classify(n * rng.uniform(0.5, 1.5, 50), n).status == "pattern"


def test_a_factor_is_judged_with_the_noise_it_multiplies(rng):
    # numeric values carry noise 1e-4; twenty times them carry 2e-3
    n = rng.normal(size=30) * 0.05
    noisy = n + rng.uniform(-5e-5, 5e-5, 30)
    assert _classify(20 * n, noisy, noise=1e-4, rtol=1e-3).status == "scale"


def test_penalty_fit(rng):
    p = rng.normal(size=200)
    mu, se, share = diagnosis.fit_penalty(0.01 * p, p)
    assert mu == pytest.approx(0.01) and share == pytest.approx(1.0)
    mu, se, share = diagnosis.fit_penalty(0.01 * p + rng.normal(size=200), p)
    assert share < 0.1 and se > 0.01


def test_penalty_words():
    assert "twice the cost's" in diagnosis.Penalty(0.001, 0.002, 0.001).words("W1")
    assert "the cost penalises b2" in diagnosis.Penalty(-0.001, 0.0, 0.001).words("b2")
    assert "the gradient penalises b2" in diagnosis.Penalty(0.001, 0.001, 0.0).words("b2")
    assert "half the cost's" in diagnosis.Penalty(-0.001, 0.001, 0.002).words("W1")
    assert "+0.003 × W1" in diagnosis.Penalty(0.003).words("W1")


@pytest.mark.parametrize("transposed", [False, True])
def test_layers_are_found_in_either_orientation(transposed):
    shapes = {"W1": (5, 4), "b1": (4,), "W2": (4, 4), "b2": (4,), "W3": (4, 3), "b3": (3,)}
    if transposed:
        shapes = {k: v[::-1] for k, v in shapes.items()}
    layout = Layout(shapes)
    layers, certain = diagnosis.find_layers(layout)
    assert certain
    assert [(x.fan_in, x.fan_out, x.transposed) for x in layers] == [
        (5, 4, transposed),
        (4, 4, transposed),
        (4, 3, transposed),
    ]
    w = np.arange(layout.size, dtype=float)
    W2 = layout["W2"].view(w)
    W2_in_out = W2.T if transposed else W2
    np.testing.assert_array_equal(w[layers[1].incoming(2)], W2_in_out[:, 2])
    np.testing.assert_array_equal(w[layers[1].from_input(1)], W2_in_out[1, :])
    assert w[layers[2].bias(1)] == layout["b3"].view(w)[1]


@pytest.mark.parametrize(
    "shapes",
    [
        {"w": (10,)},
        {"W1": (5, 4), "b1": (3,)},  # the bias fits neither side
        {"W1": (5, 4), "b1": (4,), "W2": (3, 2), "b2": (2,)},  # not chained
        {"a": (2,), "b": (2, 2)},
    ],
)
def test_other_layouts_get_no_layer_reasoning(shapes):
    assert diagnosis.find_layers(Layout(shapes)) == (None, False)


def test_square_layers_leave_the_orientation_unknown():
    # (fan_in, fan_out) and (fan_out, fan_in) both fit: the probes, which need a unit's
    # incoming weights, must not guess
    layers, certain = diagnosis.find_layers(
        Layout({"W1": (4, 4), "b1": (4,), "W2": (4, 4), "b2": (4,)})
    )
    assert layers is not None and not certain


def _prober(bugs, rng, transposed=False):
    """A prober over the hand-written network (optionally its weights stored transposed)."""
    hw = HandWritten(12, 10, 10, 0.01, bugs)
    X, Y = rng.random((20, 12)), np.eye(10)[rng.integers(0, 10, 20)]
    w = hw.init(np.random.default_rng(1))
    layout = Layout(hw.shapes)
    flip = Transposed(layout) if transposed else None

    def cost(v):
        return hw.cost(flip.to_plain(v) if flip else v, X, Y)

    def grad(v):
        g = hw.grad(flip.to_plain(v) if flip else v, X, Y)
        return flip.from_plain(g) if flip else g

    def numeric(v, idx):
        d = finitediff.central(cost, v.copy(), idx, 1e-6, cost(v), 1e-16)
        return d.numeric, d.noise

    start = flip.from_plain(w) if flip else w
    prober = diagnosis.Prober(start, grad, numeric, 1e-6, np.random.default_rng(2))
    shapes = flip.shapes if flip else hw.shapes
    return prober, diagnosis.find_layers(Layout(shapes))[0]


class Transposed:
    """Stores every weight block (fan_out, fan_in): z = W a + b."""

    def __init__(self, layout):
        self.layout = layout
        self.shapes = {b.name: b.shape[::-1] for b in layout}
        self.t_layout = Layout(self.shapes)

    def to_plain(self, v):
        out = np.empty_like(v)
        for plain, t in zip(self.layout, self.t_layout, strict=True):
            plain.view(out)[...] = t.view(v).T
        return out

    def from_plain(self, v):
        out = np.empty_like(v)
        for plain, t in zip(self.layout, self.t_layout, strict=True):
            t.view(out)[...] = plain.view(v).T
        return out


@pytest.mark.parametrize("transposed", [False, True])
def test_the_penalty_probe_measures_each_side(transposed, rng):
    prober, layers = _prober(["penalty_doubled_biases_in_cost"], rng, transposed)
    found = diagnosis.penalty_probe(prober, layers)
    assert found["W1"].grad_coef == pytest.approx(0.02, rel=1e-4)
    assert found["W1"].cost_coef == pytest.approx(0.01, rel=1e-4)
    assert found["b1"].grad_coef == pytest.approx(0.0, abs=1e-6)
    assert found["b1"].mu == pytest.approx(-0.01, rel=1e-4)
    prober, layers = _prober([], rng, transposed)
    assert diagnosis.penalty_probe(prober, layers)["W1"].mu == 0.0


def test_a_penalty_below_the_noise_is_unknown_not_absent(rng):
    # the probe cannot see a penalty term smaller than the cost's rounding: it must say
    # nothing, not "no mismatch" (which would stop the top layer from inferring one)
    prober, layers = _prober(["penalty_doubled_biases_in_cost"], rng)
    loud = prober.numeric
    prober.numeric = lambda v, idx: (loud(v, idx)[0], np.full(idx.size, 1.0))
    assert diagnosis.penalty_probe(prober, layers) == {}


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize(
    ("bugs", "consistent"),
    [
        ([], True),
        (["hidden_delta_from_dEdy"], True),  # a wrong delta, but the same one in both
        (["hidden_bias_missing_fprime"], False),
        (["hidden_delta_from_dEdy", "hidden_bias_missing_fprime"], False),
        (["penalty_doubled_biases_in_cost", "hidden_bias_missing_fprime"], False),
    ],
)
def test_the_bias_probe_tells_whether_the_bias_shares_the_delta(bugs, consistent, transposed, rng):
    prober, layers = _prober(bugs, rng, transposed)
    assert diagnosis.bias_probe(prober, layers[0], layers[1]) is consistent


def test_a_probe_that_cannot_run_proves_nothing(rng):
    prober, layers = _prober([], rng)

    def broken(v):
        raise RuntimeError("user code fails off the beaten path")

    prober.grad = broken
    assert diagnosis.bias_probe(prober, layers[0], layers[1]) is None
    assert diagnosis.penalty_probe(prober, layers) == {}
