import numpy as np
import pytest

from deltanet.errors import ConfigError
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
    with pytest.raises(ConfigError, match=message):
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


# ---------------------------------------------------------------------- the weight average


def test_the_average_starts_at_the_initial_weights_and_counts_the_optimizers_steps():
    opt = SGD(lr=0.1, average=0.5)
    w = np.array([1.0])
    opt.step(w, np.array([1.0]))  # t = 1: decay min(0.5, 2/11) = 2/11
    assert opt.t == 1
    np.testing.assert_allclose(opt.averages, [2 / 11 * 1.0 + 9 / 11 * 0.9])
    avg = opt.averages.copy()
    opt.step(w, np.array([1.0]))  # t = 2: decay min(0.5, 3/12) = 0.25
    np.testing.assert_allclose(opt.averages, 0.25 * avg + 0.75 * w)


def test_a_constraint_applies_before_the_average_takes_the_weights_in():
    opt = SGD(lr=1.0, average=0.9)
    w = np.zeros(2)
    opt.step(w, np.array([-5.0, 0.0]), constrain=lambda p: np.clip(p, -1, 1, out=p))
    np.testing.assert_array_equal(w, [1.0, 0.0])
    assert opt.averages.max() <= 1.0


def test_the_average_travels_with_the_state():
    a, b = RMSprop(average=0.99), RMSprop(average=0.99)
    w = np.ones(4)
    for g in np.eye(4):
        a.step(w, g)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.averages, a.averages)
    assert b.t == a.t == 4 and "averages" not in b.state
    lost = a.state_dict()
    del lost["arrays"]["averages"]
    with pytest.raises(ValueError, match="no weight average"):
        RMSprop(average=0.99).load_state_dict(lost)
    assert "average=0.99" in repr(a) and "average" not in repr(RMSprop())


def test_no_average_unless_asked():
    opt = Adam()
    opt.step(np.ones(3), np.ones(3))
    assert opt.average is None and opt.averages is None
    assert Adam(average=0).average is None  # 0 is off, as on the command line
    with pytest.raises(ConfigError, match=r"average must be in \[0, 1\)"):
        Adam(average=1.0)


def test_every_optimizer_on_each_backend_keeps_its_dtype(ops, rng):
    for name in ("sgd", "rmsprop", "rmsprop_gains", "adam"):
        kwargs = {"momentum": 0.9} if name == "sgd" else {}
        opt = make_optimizer(name, ops=ops, average=0.9, **kwargs)
        w = rng.normal(size=50).astype(np.float32)
        for g in rng.normal(size=(3, 50)).astype(np.float32):
            opt.step(w, g)
        assert w.dtype == opt.averages.dtype == np.float32 and np.isfinite(w).all()
