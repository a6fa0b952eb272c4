import numpy as np
import pytest

from deltanet.optimizers import SGD, Adam, RMSprop, RMSpropGains, Schedule, make_optimizer


def run(opt, grads, w0=(1.0, -2.0)):
    w = np.array(w0)
    trace = []
    for g in grads:
        opt.step(w, np.array(g, dtype=float))
        trace.append(w.copy())
    return trace


def test_sgd_plain_and_momentum_by_hand():
    (w1,) = run(SGD(lr=0.1), [[0.5, -1.0]])
    np.testing.assert_allclose(w1, [1.0 - 0.05, -2.0 + 0.1])
    w1, w2 = run(SGD(lr=0.1, momentum=0.9), [[1.0, 0.0], [1.0, 0.0]])
    # v1 = 1, w1 = 1 − 0.1; v2 = 0.9 + 1 = 1.9, w2 = 0.9 − 0.19
    np.testing.assert_allclose(w1[0], 0.9)
    np.testing.assert_allclose(w2[0], 0.71)
    w1, w2 = run(SGD(lr=0.1, momentum=0.9, nesterov=True), [[1.0, 0.0], [1.0, 0.0]])
    # v1 = 1, step g + μv = 1.9 -> 0.81; v2 = 1.9, step 1 + 1.71 = 2.71 -> 0.81 − 0.271
    np.testing.assert_allclose(w1[0], 0.81)
    np.testing.assert_allclose(w2[0], 0.539)


def test_rmsprop_by_hand():
    w1, w2 = run(RMSprop(lr=0.01, rho=0.9, eps=1e-8), [[2.0, 0.0], [1.0, 0.0]])
    ms1 = 0.1 * 4  # 0.4
    np.testing.assert_allclose(w1[0], 1 - 0.01 * 2 / (np.sqrt(ms1) + 1e-8))
    ms2 = 0.9 * ms1 + 0.1 * 1  # 0.46
    np.testing.assert_allclose(w2[0], w1[0] - 0.01 * 1 / (np.sqrt(ms2) + 1e-8))
    assert w2[1] == -2.0  # a zero gradient never moves a weight


def test_adam_by_hand():
    w1, w2 = run(Adam(lr=0.1), [[0.5, 0.0], [-0.5, 0.0]])
    # step 1: m̂ = g, v̂ = g², update = lr · g / (|g| + ε) ≈ lr · sign(g)
    np.testing.assert_allclose(w1[0], 1 - 0.1 * 0.5 / (0.5 + 1e-8))
    m = 0.9 * 0.05 + 0.1 * -0.5
    v = 0.999 * 0.00025 + 0.001 * 0.25
    mh, vh = m / (1 - 0.9**2), v / (1 - 0.999**2)
    np.testing.assert_allclose(w2[0], w1[0] - 0.1 * mh / (np.sqrt(vh) + 1e-8))


def test_gains_rule_on_a_hand_made_gradient_sequence():
    opt = RMSpropGains(lr=0.01, increment=1.3, decrement=0.5, gain_min=0.1, gain_max=2.0)
    grads = [[1.0, 1.0, 0.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0]]
    w = np.zeros(3)
    gains = []
    for g in grads:
        opt.step(w, np.array(g))
        gains.append(opt.state["gain"].copy())
    # weight 0: sign kept every time: 1, 1.3, 1.69, 2.197 -> clipped at 2.0, 2.0
    np.testing.assert_allclose([g[0] for g in gains], [1.0, 1.3, 1.69, 2.0, 2.0])
    # weight 1: sign flips every time: 1, 0.5, 0.25, 0.125, 0.1 (clipped)
    np.testing.assert_allclose([g[1] for g in gains], [1.0, 0.5, 0.25, 0.125, 0.1])
    # weight 2: first gradient 0 -> no information, gain unchanged; then agreement
    np.testing.assert_allclose([g[2] for g in gains], [1.0, 1.0, 1.3, 1.69, 2.0])


def test_gains_step_is_lr_times_gain_times_rmsprop_step():
    opt = RMSpropGains(lr=0.01, rho=0.9, eps=1e-8)
    w = np.zeros(1)
    opt.step(w, np.array([2.0]))
    opt.step(w, np.array([1.0]))
    ms = 0.9 * 0.4 + 0.1 * 1.0
    first = -0.01 * 2 / (np.sqrt(0.4) + 1e-8)
    np.testing.assert_allclose(w[0], first - 0.01 * 1.3 * 1 / (np.sqrt(ms) + 1e-8))


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "rmsprop_gains", "adam"])
def test_state_dict_round_trip_continues_identically(name, rng):
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    a, b = make_optimizer(name, **kwargs), make_optimizer(name, **kwargs)
    w = rng.normal(size=6).astype(np.float32)
    grads = rng.normal(size=(6, 6)).astype(np.float32)
    for g in grads[:3]:
        a.step(w, g)
    w_b = w.copy()
    b.load_state_dict(a.state_dict())
    for g in grads[3:]:
        a.step(w, g)
        b.step(w_b, g)
    np.testing.assert_array_equal(w, w_b)
    for arr in a.state.values():
        assert arr.dtype == np.float32


def test_load_state_dict_rejects_another_optimizer():
    with pytest.raises(ValueError, match="is for 'adam'"):
        RMSprop().load_state_dict(Adam().state_dict())


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: SGD(lr=-1), "lr must be a positive"),
        (lambda: SGD(lr=0.1, momentum=1.5), "momentum must be in"),
        (lambda: SGD(lr=0.1, nesterov=True), "nesterov needs"),
        (lambda: RMSprop(rho=1.0), "rho must be in"),
        (lambda: RMSpropGains(increment=0.9), "increment must be"),
        (lambda: RMSpropGains(decrement=0), "decrement must be"),
        (lambda: Adam(eps=0), "eps must be"),
        (lambda: make_optimizer("lbfgs"), "unknown optimizer"),
        (lambda: Schedule("linear"), "unknown schedule"),
    ],
)
def test_bad_hyperparameters(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_schedules():
    assert [Schedule()(0.1, e, 10) for e in (0, 9)] == [0.1, 0.1]
    step = Schedule("step", step_size=3, gamma=0.5)
    assert [step(1.0, e, 10) for e in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    cos = Schedule("cosine")
    assert cos(1.0, 0, 10) == 1.0
    assert cos(1.0, 5, 10) == pytest.approx(0.5)
    assert cos(1.0, 9, 10) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.9)))
    warm = Schedule("constant", warmup=3)
    assert [warm(1.0, e, 10) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
