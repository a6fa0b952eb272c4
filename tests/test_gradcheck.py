import importlib
import itertools
import re
import warnings

import numpy as np
import pytest
from handwritten import BUGS, OTHER_BUGS, SEED_BUGS, Deep, HandWritten, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltanet as dn
from deltanet.gradcheck import CAUSES

# the module, not the function dn.gradcheck that shadows its name in the package
gradcheck_module = importlib.import_module("deltanet.gradcheck")

# ---------------------------------------------------------------------- the seed network

# what each of the seed's four bugs breaks, and the cause that must name it
SEED_EFFECTS = {
    "output_bias_from_dEdy": ({"b2"}, "bias_delta"),
    "hidden_delta_from_dEdy": ({"W1", "b1"}, "propagation"),
    "hidden_bias_missing_fprime": ({"b1"}, "bias_delta"),
    "penalty_doubled_biases_in_cost": ({"W1", "b1", "W2", "b2"}, "penalty"),
}
COMBINATIONS = [c for r in range(5) for c in itertools.combinations(SEED_BUGS, r)]


@pytest.fixture(scope="module")
def mnist20():
    """20 MNIST training images and their one-hot targets: the seed's own check."""
    data = dn.datasets.load_mnist()
    pick = np.random.default_rng(0).choice(len(data.X_train), 20, replace=False)
    return data.X_train[pick].astype(np.float64), np.eye(10)[data.y_train[pick]]


def check_seed(mnist20, bugs=(), dtype="float64", lam=1e-2, **kwargs):
    X, Y = mnist20
    hw = HandWritten(784, 30, 10, lam, bugs, dtype)
    return check(hw, X, Y, hw.init(np.random.default_rng(1)), **kwargs)


def test_expectations_cover_the_seed_bugs():
    assert set(SEED_EFFECTS) == set(SEED_BUGS)
    assert len(COMBINATIONS) == 16


@pytest.mark.parametrize("bugs", COMBINATIONS, ids=lambda c: "+".join(c) or "correct")
def test_each_combination_of_the_seed_bugs_is_located_and_named(bugs, mnist20):
    report = check_seed(mnist20, bugs)
    affected = set().union(*(SEED_EFFECTS[b][0] for b in bugs))
    assert set(report.failed_blocks) == affected, str(report)
    named = set().union(*report.causes.values())
    assert {SEED_EFFECTS[b][1] for b in bugs} <= named, str(report)
    assert named <= set(CAUSES) - {"other"}, str(report)
    # the float32 version of the same code: the same verdict, the same causes
    report32 = check_seed(mnist20, bugs, dtype="float32")
    assert report32.precision.low and report32.causes == report.causes, str(report32)


def test_the_four_bugs_together_at_the_original_penalty(mnist20):
    report = check_seed(mnist20, SEED_BUGS, lam=1e-3)
    assert report.causes == {
        "W1": ("penalty", "propagation"),
        "b1": ("penalty", "bias_delta", "propagation"),
        "W2": ("penalty",),
        "b2": ("penalty", "bias_delta"),
    }, str(report)
    text = str(report)
    # the sentences a person acts on
    assert "W2 agrees once its penalty term is set aside but b2 does not" in text
    assert "2λ·W where the cost has (λ/2)‖W‖²" in text
    assert "the cost penalises b1" in text and "the cost penalises b2" in text
    assert "δ1 goes wrong on its way down" in text
    assert "f′ factor left out" in text
    assert "f'(a) instead of f'(z)" not in text  # the one line of their code that is right


def test_at_the_original_penalty_float32_misses_only_what_it_cannot_resolve(mnist20):
    # λ·W1 ~ 1e-4 is below float32's noise at this step (~2e-4): W1's penalty mismatch
    # cannot be seen there; everything float64 names elsewhere, float32 names too
    report64 = check_seed(mnist20, SEED_BUGS, lam=1e-3)
    report32 = check_seed(mnist20, SEED_BUGS, "float32", lam=1e-3)
    assert report32.causes["W1"] == ("propagation",)
    assert {k: v for k, v in report32.causes.items() if k != "W1"} == {
        k: v for k, v in report64.causes.items() if k != "W1"
    }


def test_a_correct_float32_cost_passes_and_says_how_it_was_checked(mnist20):
    for lam in (0.0, 1e-3, 1e-2):
        report = check_seed(mnist20, dtype="float32", lam=lam)
        assert report.ok, str(report)
        assert report.precision.name == "float32"
        assert not any(b.n_kinks for b in report.blocks)  # a sigmoid network has none
        assert "computed in float32" in str(report) and "in float64" in str(report)


def test_the_default_check_is_bounded(mnist20):
    # the speed target, counted rather than timed: sampled coordinates and probes keep a
    # 784-30-10 check to a few thousand cost evaluations (the full check needs ~48,000)
    X, Y = mnist20
    hw = HandWritten(784, 30, 10, 1e-2, SEED_BUGS)
    calls = {"cost": 0, "grad": 0}

    def cost(v):
        calls["cost"] += 1
        return hw.cost(v, X, Y)

    def grad(v):
        calls["grad"] += 1  # the probes evaluate the gradient elsewhere
        return hw.grad(v, X, Y)

    dn.gradcheck(cost, hw.init(np.random.default_rng(1)), grad, shapes=hw.shapes)
    assert calls["cost"] < 6_000 and calls["grad"] < 100, calls


# ---------------------------------------------------------------------- every cause


def small(bugs, dtype="float64", lam=0.01, seed=5, **kwargs):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((20, 12)), np.eye(10)[rng.integers(0, 10, 20)]
    hw = HandWritten(12, 10, 10, lam, bugs, dtype)
    return check(hw, X, Y, hw.init(np.random.default_rng(seed + 1)), **kwargs)


# bug -> the causes of every block it breaks, and words the report must contain
OTHER_EXPECTED = {
    "sigmoid_prime_of_activation": (
        {"W1": ("propagation",), "b1": ("propagation",)},
        ["δ1 goes wrong on its way down", "not σ′(a)"],
    ),
    "missing_output_derivative": (
        {b: ("output_derivative",) for b in ("W1", "b1", "W2", "b2")},
        ["starts at the output", "(h − y)·h·(1 − h)", "inherit the wrong top delta"],
    ),
    "l2_gradient_doubled": ({"W1": ("penalty",), "W2": ("penalty",)}, ["twice the cost's"]),
    "biases_penalised_in_cost_only": (
        {"b1": ("penalty",), "b2": ("penalty",)},
        ["the cost penalises b1", "but the gradient does not"],
    ),
    "transposed_product": ({"W1": ("propagation",), "b1": ("propagation",)}, ["W2 transposed"]),
    "bias_not_averaged": (
        {"b1": ("scale",), "b2": ("scale",)},
        ["missing division by 20", "(×20, ×20)"],
    ),
    "sign_flip": ({"W2": ("sign",)}, ["the sign is flipped in W2"]),
    "gradient_negated": (
        {b: ("sign",) for b in ("W1", "b1", "W2", "b2")},
        ["the whole gradient has the wrong sign"],
    ),
    "hidden_bias_zero": ({"b1": ("zero",)}, ["left at zero"]),
    "index_slip": ({"b1": ("isolated",)}, ["b1[9]", "indexing slip"]),
    "cost_in_float16": (
        {"W1": ("precision",), "b1": ("precision",)},
        ["cannot be judged", "computed in float16"],
    ),
}


def test_expectations_cover_every_other_bug():
    assert set(OTHER_EXPECTED) == set(OTHER_BUGS)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bug", OTHER_BUGS)
def test_each_other_bug_is_located_and_named(bug, dtype):
    if bug == "cost_in_float16" and dtype == "float32":
        pytest.skip("the float16 cost is the same in both")
    report = small([bug], dtype)
    causes, words = OTHER_EXPECTED[bug]
    assert report.causes == causes, str(report)
    for word in words:
        assert word in str(report), f"{word!r} missing from:\n{report}"
    with pytest.raises(dn.GradientCheckError, match="FAILED"):
        report.raise_if_failed()


def test_every_cause_but_other_is_produced_by_a_planted_bug():
    produced = set()
    for causes, _ in OTHER_EXPECTED.values():
        produced |= set().union(*causes.values())
    for _, cause in SEED_EFFECTS.values():
        produced.add(cause)
    assert produced == set(CAUSES) - {"other"}


def test_the_public_cause_codes():
    assert CAUSES == (
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
    assert dn.gradcheck.CAUSES is CAUSES
    report = small(["bias_not_averaged"])
    assert report["b1"].factor == pytest.approx(20, rel=1e-6)
    assert report["W1"].causes == () and report["W1"].factor is None


def test_a_bias_penalised_in_the_cost_only_is_no_division_by_1():
    text = str(small(["biases_penalised_in_cost_only"]))
    assert "division by 1 " not in text and "1 × numeric" not in text


# ---------------------------------------------------------------------- deeper networks

DEEP_BUGS = {
    "fprime_of_a@2": {b: ("propagation",) for b in ("W1", "b1", "W2", "b2")},
    "bias_from_back@1": {"b1": ("bias_delta",)},
    "bias_from_back@2": {"b2": ("bias_delta",)},
    "weights_from_z@2": {"W2": ("other",)},
    "fprime_of_a@1+bias_from_back@1": {"W1": ("propagation",), "b1": ("bias_delta", "propagation")},
    "missing_output_derivative": {
        f"{k}{i}": ("output_derivative",) for k in "Wb" for i in (1, 2, 3)
    },
}


def deep(bugs, hidden="sigmoid", dtype="float64", transposed=False, seed=0, sizes=(8, 6, 5, 4)):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((20, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], 20)]
    net = Deep(sizes, hidden, 0.01, bugs, dtype, transposed)
    w = net.init(np.random.default_rng(seed + 1))
    return dn.gradcheck(
        lambda v: net.cost(v, X, Y), w, lambda v: net.grad(v, X, Y), shapes=net.shapes
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("transposed", [False, True], ids=["in_out", "out_in"])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
@pytest.mark.parametrize("bugs", list(DEEP_BUGS))
def test_a_bug_in_any_layer_of_a_deeper_network_is_located(bugs, hidden, transposed, dtype):
    report = deep(bugs.split("+"), hidden, dtype, transposed)
    assert report.causes == DEEP_BUGS[bugs], str(report)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [(12, 10, 10), (12, 9, 7, 5)])
def test_correct_relu_networks_pass_kinks_and_all(sizes, dtype):
    # the float32 step (~4e-3) crosses ReLU kinks near w; one-sided slopes on the side
    # without a kink show the analytic value is right
    for seed in range(10):
        report = deep([], "relu", dtype, seed=seed, sizes=sizes)
        assert report.ok, str(report)


def test_square_layers_stored_either_way_are_still_reasoned_about():
    # all layers square: the orientation is unknown, so no probe runs; the per-layer
    # reasoning, which needs only which bias goes with which weights, still does
    for transposed in (False, True):
        report = deep(["fprime_of_a@1"], transposed=transposed, sizes=(10, 10, 10))
        assert report.causes == {"W1": ("propagation",), "b1": ("propagation",)}, str(report)


# ---------------------------------------------------------------------- odd inputs


def test_nan_and_inf_fail_and_are_named(rng):
    w = rng.normal(size=8)

    def with_value(value, at=3):
        def f(v):
            g = v.copy()
            g[at] = value
            return 0.5 * float(v @ v), g

        return f

    for value in (np.nan, np.inf, -np.inf):
        report = dn.gradcheck(with_value(value), w)
        assert not report.ok and report.causes == {"w": ("other",)}
        assert "NaN or infinite values in w" in report.summary and "w[3]" in str(report)

    def nan_right_of_5(v):
        return (np.nan if v[5] > w[5] else 0.5 * float(v @ v)), v

    assert "NaN or infinite" in dn.gradcheck(nan_right_of_5, w).summary
    with pytest.raises(ValueError, match="the cost at w is nan"):
        dn.gradcheck(lambda v: (np.nan, v), w)


def test_a_gradient_returned_in_a_reused_buffer_is_copied(rng):
    buffer = np.empty(6)

    def f(v):
        np.multiply(v, 1.0, out=buffer)  # the gradient of ½‖v‖², in the same array each time
        return 0.5 * float(v @ v), buffer

    assert dn.gradcheck(f, rng.normal(size=6)).ok


def test_one_coordinate_is_no_constant_factor(rng):
    # a network with one output: b2 has one value, which fits any factor; the layer
    # structure, not a fitted "×4.87", names the bug
    X, Y = rng.random((20, 12)), rng.integers(0, 2, (20, 1)).astype(float)
    hw = HandWritten(12, 10, 1, 0.01, ["output_bias_from_dEdy"])
    report = check(hw, X, Y, hw.init(np.random.default_rng(1)))
    assert report.causes == {"b2": ("bias_delta",)}, str(report)


def test_a_gradient_checked_at_an_optimum_cannot_be_judged_and_says_why(rng):
    # least squares at its solution: the gradient is zero to rounding, the cost is not
    A, b = rng.normal(size=(30, 5)), rng.normal(size=30)

    def f(x):
        r = A @ x - b
        return 0.5 * float(r @ r), A.T @ r

    report = dn.gradcheck(f, np.linalg.lstsq(A, b, rcond=None)[0])
    assert not report.ok and report.causes == {"w": ("precision",)}
    assert "at an optimum" in str(report) and "compute the cost in float64" not in str(report)


def test_zero_size_blocks_are_fine(rng):
    w = rng.normal(size=4)
    report = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w, shapes={"a": (0,), "b": (4,)})
    assert report.ok and report["a"].n_checked == 0


def test_a_cost_and_gradient_given_twice_is_a_clear_mistake(rng):
    with pytest.raises(ValueError, match="f returned a tuple although grad was given"):
        dn.gradcheck(lambda v: (float(v @ v), 2 * v), rng.normal(size=3), lambda v: 2 * v)


# ---------------------------------------------------------------------- the summary


DEEP_SWITCHES = [
    *(f"{kind}@{layer}" for kind in ("fprime_of_a", "bias_from_back") for layer in (1, 2)),
    "weights_from_z@2",
    "missing_output_derivative",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(["seed", "deep"]),
    bugs=st.data(),
    seed=st.integers(0, 1000),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_the_summary_never_contradicts_the_blocks(which, bugs, seed, dtype):
    if which == "seed":
        pool = [b for b in BUGS if b != "cost_in_float16"]
        report = small(bugs.draw(st.sets(st.sampled_from(pool), max_size=3)), dtype, seed=seed)
    else:
        picked = bugs.draw(st.sets(st.sampled_from(DEEP_SWITCHES), max_size=2))
        hidden = bugs.draw(st.sampled_from(["sigmoid", "tanh", "relu"]))
        report = deep(picked, hidden, dtype, bugs.draw(st.booleans()), seed)
    summary = report.summary
    assert "\n" not in summary
    if report.ok:
        assert summary.startswith("passed")
        return
    assert summary.startswith(f"FAILED in {', '.join(report.failed_blocks)}:")
    verdict = summary.split(":", 1)[1]
    # every failing block is named by a cause, no passing block is named at all
    for b in report.blocks:
        mentioned = any(tok.strip(" ,();×") == b.name for tok in verdict.replace(",", " ").split())
        whole = "whole gradient" in verdict and "sign" in b.causes
        assert mentioned or whole or b.ok, (b.name, summary)
        if b.ok:
            assert not mentioned, (b.name, summary)
    # and nothing anywhere calls a failing block right
    for line in report.diagnosis:
        for b in report.blocks:
            for rest in line.split(f"{b.name} agrees")[1:]:
                if rest.startswith(" once its penalty term is set aside"):
                    assert b.causes == ("penalty",), (b.name, line)
                else:
                    assert b.ok, (b.name, line)
    assert "right but" not in summary and "is right" not in summary
    # the words about layers say only what the causes say
    text = " ".join(report.diagnosis)
    named = set().union(*report.causes.values()) if report.causes else set()
    for words, cause in (
        ("the error starts at the output", "output_derivative"),
        ("goes wrong on its way down", "propagation"),
        ("is not built from", "bias_delta"),
    ):
        if words in text:
            assert cause in named, (words, report.causes)


# ---------------------------------------------------------------------- the report


def test_the_table_columns_agree_with_each_other():
    report = small(["bias_not_averaged"])
    lines = str(report).splitlines()
    row = next(line for line in lines if line.lstrip().startswith("b1 "))
    b1 = report["b1"]
    a, n = b1.worst_values
    assert f"{a:+.6e}" in row and f"{n:+.6e}" in row
    assert f"{abs(a - n) / max(abs(a), abs(n)):.2e}" in row  # rel err: from those two numbers
    assert report.summary in lines[0]


def test_the_noise_gets_its_own_column_where_it_decides(mnist20):
    # a float32 cost: the noise, not rtol, sets the tolerance of W1's small entries
    report = check_seed(mnist20, dtype="float32")
    assert report.ok
    w1 = report["W1"]
    assert w1.worst_noise is not None
    text = str(report)
    assert "noise: how far the cost's own rounding" in text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("W1 "))
    assert f"{w1.worst_noise:.1e}" in row
    a, n = w1.worst_values
    assert abs(a - n) <= w1.worst_noise  # passes by the noise, not by rtol
    for b in report.blocks:
        assert b.max_rel_error <= b.rtol


def test_report_contents():
    report = small(["sign_flip"])
    w2 = report["W2"]
    assert not w2.ok and w2.max_rel_error == pytest.approx(2.0, rel=1e-6)
    assert w2.worst_index is not None and len(w2.worst_index) == 2
    assert w2.worst_label.startswith("W2[")
    assert w2.analytic.shape == w2.numeric.shape == (100,)
    np.testing.assert_allclose(w2.analytic, -w2.numeric, rtol=1e-5, atol=1e-9)
    assert report.max_rel_error == w2.max_rel_error
    assert report.causes == {"W2": ("sign",)}
    rows = re.findall(r"^  (W1|b1|W2|b2) +\d", str(report), flags=re.MULTILINE)
    assert rows == ["W1", "b1", "W2", "b2"]


def test_fixing_the_bug_fixes_the_report():
    assert not small(["missing_output_derivative"]).ok
    assert small([]).ok


# ---------------------------------------------------------------------- sampling, progress


def test_sampling_gives_every_block_coordinates(rng):
    shapes = {"W1": (200, 100), "b1": (100,), "W2": (100, 3), "b2": (3,)}
    n = sum(int(np.prod(s)) for s in shapes.values())
    w = rng.normal(size=n)
    report = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w, shapes=shapes, max_coords=7)
    assert [b.n_checked for b in report.blocks] == [7, 7, 7, 3]
    assert report.ok
    again = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w, shapes=shapes, max_coords=7)
    np.testing.assert_array_equal(report["W1"].indices, again["W1"].indices)  # seeded


def test_by_default_a_block_is_sampled_and_one_that_fails_gets_more(rng):
    w = rng.normal(size=5000)
    ok = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w)
    assert ok.blocks[0].n_checked == gradcheck_module.DEFAULT_SAMPLE and ok.blocks[0].sampled
    bad = dn.gradcheck(lambda v: (0.5 * float(v @ v), 1.5 * v), w)
    assert bad.blocks[0].n_checked == (1 + gradcheck_module.MORE_WHERE_WRONG) * 200
    assert bad.causes == {"w": ("scale",)}
    full = dn.gradcheck(lambda v: (0.5 * float(v @ v), v), w[:700], full=True)
    assert full.blocks[0].n_checked == 700 and not full.blocks[0].sampled


def test_a_long_check_shows_a_progress_bar(rng, monkeypatch, capsys):
    monkeypatch.setattr(gradcheck_module, "PROGRESS_DELAY", 0.0)
    dn.gradcheck(lambda v: (0.5 * float(v @ v), v), rng.normal(size=300), progress=True)
    assert "gradcheck" in capsys.readouterr().err
    dn.gradcheck(lambda v: (0.5 * float(v @ v), v), rng.normal(size=300), progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- the API


def test_function_returning_cost_and_gradient_together(rng):
    A = rng.normal(size=(5, 5))
    A = A @ A.T

    def f(w):
        return 0.5 * w @ A @ w, A @ w

    report = dn.gradcheck(f, rng.normal(size=5))
    assert report.ok and [b.name for b in report.blocks] == ["w"]
    bad = dn.gradcheck(lambda w: (0.5 * w @ A @ w, 2 * A @ w), rng.normal(size=5))
    assert not bad.ok and "extra factor of 2" in str(bad) and bad.causes == {"w": ("scale",)}


def test_float32_parameters_are_perturbed_in_float64_without_a_misleading_warning(rng):
    w = rng.normal(size=4).astype(np.float32)
    seen = []

    def f(v):
        seen.append(v.dtype)
        return float(np.sum(v**3)), 3 * v**2

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = dn.gradcheck(f, w)
    assert report.ok and set(seen) == {np.dtype(np.float64)}


def test_kinks_are_reported_not_failed():
    # relu at exactly zero: sample 0 is all zeros and biases are zero, so z1 = 0 there
    net = dn.MLP([3, 4, 2], hidden="relu", dtype="float64", seed=0)
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    report = net.gradcheck(X, [0, 1, 1])
    assert report.ok, str(report)
    assert report["b1"].n_kinks > 0
    assert "kink" in str(report)


def test_a_wrong_gradient_at_a_kink_still_fails():
    # |x| has a kink at 0; an "analytic" value outside [−1, 1] is not a subgradient
    report = dn.gradcheck(lambda w: (float(np.abs(w).sum()), np.full_like(w, 3.0)), np.zeros(2))
    assert not report.ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shapes": {"a": (2, 2)}}, "cover 4 parameters but w has 5"),
        ({"eps": 0.0}, "eps must be"),
        ({"rtol": -1.0}, "rtol must be"),
        ({"max_coords": 0}, "max_coords must be"),
    ],
)
def test_bad_arguments(kwargs, message, rng):
    with pytest.raises(ValueError, match=message):
        dn.gradcheck(lambda v: (float(v @ v), 2 * v), rng.normal(size=5), **kwargs)


def test_wrong_gradient_size_and_non_scalar_cost(rng):
    with pytest.raises(ValueError, match="gradient has 4 values"):
        dn.gradcheck(lambda v: (float(v @ v), np.zeros(4)), rng.normal(size=5))
    with pytest.raises(ValueError, match="cost must be a scalar"):
        dn.gradcheck(lambda v: (v, 2 * v), rng.normal(size=5))
    with pytest.raises(ValueError, match="flat 1-D"):
        dn.gradcheck(lambda v: (0.0, v), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="real numbers"):
        dn.gradcheck(lambda v: (0.0, v), np.zeros(2, complex))


def test_deltanet_network_with_a_bug_injected_is_caught(rng, monkeypatch):
    # break the real network's top delta the way the 7%-error code did
    net = dn.MLP([6, 5, 4], hidden="sigmoid", loss="squared_error", dtype="float64", seed=1)
    X = rng.normal(size=(8, 6))
    y = rng.integers(0, 4, 8)
    assert net.gradcheck(X, y).ok
    monkeypatch.setattr(
        type(net._loss), "delta", lambda self, z, h, y, out: np.subtract(h, y, out=out)
    )
    report = net.gradcheck(X, y)
    assert report.causes == {b: ("output_derivative",) for b in ("W1", "b1", "W2", "b2")}
    assert "starts at the output" in str(report)


def test_a_trained_network_with_tiny_gradients_passes():
    # A trained network's cross-entropy is a small difference of large logits, whose
    # rounding (~1e-14) swamps its tiny gradients at eps = 1e-6: the checker must measure
    # that rounding instead of failing correct code (it did, before the rounding was
    # measured).
    mnist = dn.datasets.load_mnist()
    net = dn.MLP([784, 50, 10], seed=0)
    net.fit(
        mnist.X_train[:2000],
        mnist.y_train[:2000],
        epochs=30,
        seed=0,
        optimizer=dn.optimizers.RMSprop(lr=0.003),
    )
    X, y = mnist.X_train[:20], mnist.y_train[:20]
    report = net.gradcheck(X, y, max_coords=100)
    assert report.cost < 0.05
    assert report.ok, str(report)
    assert not report.precision.low  # cancellation, not a float32 cost

    # and a real bug at that scale is still caught
    net64 = net.copy("float64")

    def cost(w):
        net64.params = w
        return net64.cost(X, y)

    def doubled(w):
        net64.params = w
        return 2 * net64.loss_and_grad(X, y)[1]

    shapes = {b.name: b.shape for b in net64.layout}
    bad = dn.gradcheck(cost, net64.params.copy(), doubled, shapes=shapes, max_coords=20)
    assert not bad.ok and "extra factor of 2" in str(bad)


def test_a_float32_cost_cannot_hide_a_wrong_gradient(rng):
    # rounding in a float32 cost is ~1e-7·|f|: it must not let a wrong gradient pass
    A = rng.normal(size=(6, 6)).astype(np.float32)

    def cost(w):
        w32 = w.astype(np.float32)
        return float(np.float32(0.5) * w32 @ A @ w32)

    def wrong(w):
        return 2.2 * (0.5 * (A + A.T) @ w)

    report = dn.gradcheck(cost, rng.normal(size=6), wrong)
    assert not report.ok
    assert report["w"].n_failed == 6, str(report)  # every coordinate, not just the largest
    assert "2.2 × numeric" in str(report) and report.causes == {"w": ("scale",)}
