"""Optimizers that update the whole flat parameter vector in one vectorized step.

Every optimizer is called as ``opt.step(params, grad)`` with 1-D arrays of one dtype;
it changes ``params`` in place and keeps its state (velocities, mean squares, gains) as
arrays of the same shape and dtype, so a float32 network stays float32.  ``lr`` is an
attribute that the trainer sets from a :class:`Schedule` each epoch.

With ``average=decay`` an optimizer also keeps :attr:`Optimizer.averages`, an
exponential moving average of the parameters (Polyak averaging), updated at the end of
every step, as thinc's optimizers do: the one object that counts the steps owns it.

``state_dict()`` returns ``{"arrays": {name: ndarray}, "scalars": {name: number}}`` and
``load_state_dict`` takes it back: arrays go into a safetensors checkpoint as tensors,
scalars into its JSON metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltanet.constraints import FRACTION, POSITIVE, Flag, Integer, Options, Real
from deltanet.errors import ConfigError
from deltanet.ops import NumpyOps, get_ops

Array = np.ndarray


def _check(name: str, value: Any) -> Any:
    return CONSTRAINTS[name].check(name, value)


class Optimizer:
    """Base class: hyper-parameters as attributes, state as named arrays.

    Args:
        lr: the learning rate.
        average: keep :attr:`averages`, an exponential moving average of the parameters
            with this decay per step (e.g. 0.999); None or 0: off.  The average starts
            at the parameters before the first step, with decay ``min(average,
            (1 + t) / (10 + t))`` at step ``t`` so early steps are not over-weighted.
        ops: the backend (default: :func:`deltanet.ops.get_ops`).
    """

    name = "optimizer"
    CONFIG: tuple[str, ...] = ("lr",)  # the TrainConfig settings this optimizer takes
    state_names: tuple[str, ...] = ()  # its state arrays, each shaped like the parameters

    def __init__(
        self, lr: float, *, average: float | None = None, ops: NumpyOps | None = None
    ) -> None:
        self.lr = _check("lr", lr)
        self.average = None if average is None else (_check("average", average) or None)
        self.t = 0  # steps taken
        self.state: dict[str, Array] = {}
        self.averages: Array | None = None
        self.ops = get_ops() if ops is None else ops

    def _init_state(self, params: Array) -> None:
        for key in self.state_names:
            self.state[key] = np.zeros_like(params)

    def step(
        self, params: Array, grad: Array, constrain: Callable[[Array], None] | None = None
    ) -> None:
        """Update ``params`` in place from ``grad`` (same shape and dtype).

        ``constrain(params)``, if given, runs after the update and before the average
        takes the new parameters in (a max-norm constraint, say).
        """
        if not self.state and self.state_names:
            self._init_state(params)
        if self.average and self.averages is None:
            self.averages = params.copy()  # the average starts at the initial parameters
        self.t += 1
        rate = 0.0
        if self.averages is not None:
            rate = 1 - min(self.average, (1 + self.t) / (10 + self.t))  # 1 − decay
        # the average's step rides in the update's pass over the parameters, unless a
        # constraint must change them in between
        fused = self.averages is not None and constrain is None and self.fuses_average
        self._update(params, grad, self.averages if fused else None, rate)
        if constrain is not None:
            constrain(params)
        if self.averages is not None and not fused:
            self.ops.ema(self.averages, params, rate)  # avg ← decay·avg + (1 − decay)·w

    fuses_average = False  # whether _update takes the average's step too

    def _update(
        self, params: Array, grad: Array, avg: Array | None = None, rate: float = 0.0
    ) -> None:
        """One step of the method; with ``avg`` (when :attr:`fuses_average`), the
        average's step as well."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Copies of the state arrays (and of :attr:`averages`) and the scalars."""
        arrays = {k: v.copy() for k, v in self.state.items()}
        if self.averages is not None:
            arrays["averages"] = self.averages.copy()
        return {
            "arrays": arrays,
            "scalars": {
                "name": self.name,
                "t": self.t,
                "average": self.average,
                **self.hyperparameters(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (a ``ValueError`` if it does not fit)."""
        scalars = state["scalars"]
        if scalars.get("name") != self.name:
            raise ValueError(f"optimizer state is for {scalars.get('name')!r}, not {self.name!r}")
        arrays = {k: np.array(v, copy=True) for k, v in state["arrays"].items()}
        averages = arrays.pop("averages", None)
        missing = set(self.state_names) - set(arrays) if arrays else set()
        if missing:
            raise ValueError(f"optimizer state lacks {sorted(missing)}")
        every = [*arrays.values(), *([] if averages is None else [averages])]
        shapes = {(a.shape, a.dtype) for a in every}
        if len(shapes) > 1 or any(a.ndim != 1 for a in every):
            raise ValueError("optimizer state arrays must be flat and alike in shape and dtype")
        t, average = int(scalars["t"]), scalars.get("average")
        if average and averages is None and t > 0:
            raise ValueError("the optimizer state has no weight average to continue")
        self.t, self.state, self.average, self.averages = t, arrays, average, averages
        for key, value in scalars.items():
            if key not in ("name", "t", "average") and hasattr(self, key):
                setattr(self, key, type(getattr(self, key))(value))

    def __repr__(self) -> str:
        settings = {**self.hyperparameters(), **({"average": self.average} if self.average else {})}
        args = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items()
        )
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Momentum ``μ`` (Polyak; Sutskever et al. 2013 for Nesterov)::

        v ← μ v + g
        w ← w − lr · v                 (classical)
        w ← w − lr · (g + μ v)         (Nesterov, the form PyTorch uses)
    """

    name = "sgd"
    CONFIG = ("lr", "momentum", "nesterov")

    def __init__(
        self,
        lr: float = 0.1,
        momentum: float = 0.0,
        nesterov: bool = False,
        *,
        average: float | None = None,
        ops: NumpyOps | None = None,
    ):
        super().__init__(lr, average=average, ops=ops)
        self.momentum = _check("momentum", momentum)
        self.nesterov = _check("nesterov", nesterov)
        if nesterov and momentum == 0:
            raise ConfigError("nesterov needs a momentum > 0")
        self.state_names = ("velocity",) if momentum else ()

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(
        self, params: Array, grad: Array, avg: Array | None = None, rate: float = 0.0
    ) -> None:
        if not self.momentum:
            params -= self.lr * grad
            return
        self.ops.momentum(
            params, grad, self.state["velocity"], self.lr, self.momentum, self.nesterov
        )


class RMSprop(Optimizer):
    """RMSprop (Hinton, Neural Networks for Machine Learning, lecture 6e, 2012)::

        MS ← ρ MS + (1 − ρ) g²
        w  ← w − lr · g / (√MS + ε)

    ``ρ = 0.9`` as in the lecture; ``ε`` keeps the step finite where ``MS`` is 0.
    """

    name = "rmsprop"
    CONFIG = ("lr", "rho", "eps")
    state_names = ("mean_square",)

    def __init__(
        self,
        lr: float = 0.001,
        rho: float = 0.9,
        eps: float = 1e-8,
        *,
        average: float | None = None,
        ops: NumpyOps | None = None,
    ):
        super().__init__(lr, average=average, ops=ops)
        self.rho = _check("rho", rho)
        self.eps = _check("eps", eps)
        self._scratch: Array | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _buffer(self, like: Array) -> Array:
        if self._scratch is None or self._scratch.shape != like.shape:
            self._scratch = np.empty_like(like)
        return self._scratch

    fuses_average = True

    def _update(
        self, params: Array, grad: Array, avg: Array | None = None, rate: float = 0.0
    ) -> None:
        ms = self.state["mean_square"]
        self.ops.rmsprop(
            params, grad, ms, self.lr, self.rho, self.eps, self._buffer(grad), avg, rate
        )


class RMSpropGains(RMSprop):
    """RMSprop with a per-weight adaptive gain.

    Each weight has a gain ``G`` (initially 1).  After each mini-batch::

        G ← G · increment   where g · g_prev > 0   (the gradient kept its sign)
        G ← G · decrement   where g · g_prev < 0   (it changed sign: we overshot)
        G ← clip(G, gain_min, gain_max)
        MS ← ρ MS + (1 − ρ) g²
        w  ← w − lr · G · g / (√MS + ε)

    The multiplicative increase/decrease by sign agreement is Rprop's η⁺/η⁻ rule
    (Riedmiller & Braun 1993, η⁺ = 1.2, η⁻ = 0.5); Hinton's lecture 6 applies adaptive
    gains per connection (there: +0.05 additive, ×0.95 multiplicative, limited to
    [0.1, 10]) and suggests combining them with RMSprop.  Defaults 1.3 and 0.5 are the
    "increments/decrements" of the experiment deltanet reproduces.
    """

    name = "rmsprop_gains"
    CONFIG = (*RMSprop.CONFIG, "increment", "decrement")
    state_names = ("mean_square", "gain", "previous_grad")

    def __init__(
        self,
        lr: float = 0.001,
        rho: float = 0.9,
        eps: float = 1e-8,
        increment: float = 1.3,
        decrement: float = 0.5,
        gain_min: float = 0.1,
        gain_max: float = 10.0,
        *,
        average: float | None = None,
        ops: NumpyOps | None = None,
    ):
        super().__init__(lr, rho, eps, average=average, ops=ops)
        self.increment = _check("increment", increment)
        self.decrement = _check("decrement", decrement)
        if not 0 < gain_min <= 1 <= gain_max:
            raise ConfigError(f"need 0 < gain_min <= 1 <= gain_max, got {gain_min}, {gain_max}")
        self.gain_min = float(gain_min)
        self.gain_max = float(gain_max)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "increment": self.increment,
            "decrement": self.decrement,
            "gain_min": self.gain_min,
            "gain_max": self.gain_max,
        }

    def _init_state(self, params: Array) -> None:
        super()._init_state(params)
        self.state["gain"].fill(1)

    fuses_average = False

    def _update(
        self, params: Array, grad: Array, avg: Array | None = None, rate: float = 0.0
    ) -> None:
        self.ops.rmsprop_gains(
            params,
            grad,
            self.state["mean_square"],
            self.state["gain"],
            self.state["previous_grad"],
            self.lr,
            self.rho,
            self.eps,
            self.increment,
            self.decrement,
            self.gain_min,
            self.gain_max,
            self._buffer(grad),
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015)::

    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
    w ← w − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
    """

    name = "adam"
    CONFIG = ("lr", "beta1", "beta2", "eps")
    state_names = ("m", "v")

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        average: float | None = None,
        ops: NumpyOps | None = None,
    ):
        super().__init__(lr, average=average, ops=ops)
        self.beta1, self.beta2 = _check("beta1", beta1), _check("beta2", beta2)
        self.eps = _check("eps", eps)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    fuses_average = True

    def _update(
        self, params: Array, grad: Array, avg: Array | None = None, rate: float = 0.0
    ) -> None:
        m, v = self.state["m"], self.state["v"]
        self.ops.adam(
            params, grad, m, v, self.lr, self.beta1, self.beta2, self.eps, self.t, avg, rate
        )


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, RMSprop, RMSpropGains, Adam)
}


SCHEDULES = ("constant", "step", "cosine")
# The optimizer's settings in a run (deltanet.config.TrainConfig): the rules for each.
CONSTRAINTS = {
    "optimizer": Options(OPTIMIZERS, "optimizer"),
    "lr": POSITIVE,
    "momentum": FRACTION,
    "nesterov": Flag(),
    "rho": FRACTION,
    "eps": POSITIVE,
    "increment": Real(1, describe="a number >= 1"),
    "decrement": Real(0, 1, low_open=True),
    "beta1": FRACTION,
    "beta2": FRACTION,
    "average": FRACTION,  # a decay per step; 0 (or None) turns averaging off
    "schedule": Options(SCHEDULES, "schedule"),
    "warmup": Integer(0),
}


def make_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """Build an optimizer by name ("sgd", "rmsprop", "rmsprop_gains", "adam")."""
    return OPTIMIZERS[_check("optimizer", name)](**kwargs)


def from_config(config: Any) -> Optimizer:
    """The optimizer a :class:`~deltanet.config.TrainConfig` describes: its ``optimizer``
    with the settings that one takes, averaging with ``average`` (0: off)."""
    cls = OPTIMIZERS[config.optimizer]
    return cls(**{k: getattr(config, k) for k in cls.CONFIG}, average=config.average or None)


# ---------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Schedule:
    """Learning rate per epoch: ``lr(epoch)`` for epochs 0, 1, ..., ``epochs - 1``.

    ``kind``:
      * "constant": ``lr0``;
      * "step": ``lr0 · gamma^⌊epoch / step_size⌋``;
      * "cosine": ``lr_min + (lr0 − lr_min)(1 + cos(π · epoch / epochs)) / 2``.

    ``warmup`` epochs ramp linearly up to the schedule's value first.
    """

    kind: str = "constant"
    step_size: int = 10
    gamma: float = 0.1
    lr_min: float = 0.0
    warmup: int = 0

    def __post_init__(self) -> None:
        _check("schedule", self.kind)
        _check("warmup", self.warmup)
        Integer(1).check("step_size", self.step_size)
        POSITIVE.check("gamma", self.gamma)

    @classmethod
    def from_config(cls, config: Any) -> Schedule:
        """The schedule of a :class:`~deltanet.config.TrainConfig`."""
        return cls(config.schedule, warmup=config.warmup)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        if self.kind == "constant":
            lr = lr0
        elif self.kind == "step":
            lr = lr0 * self.gamma ** (epoch // self.step_size)
        else:
            lr = self.lr_min + (lr0 - self.lr_min) * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        if epoch < self.warmup:
            lr *= (epoch + 1) / (self.warmup + 1)
        return lr
