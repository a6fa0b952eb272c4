"""Optimizers that update the whole flat parameter vector in one vectorized step.

Every optimizer is called as ``opt.step(params, grad)`` with 1-D arrays of one dtype;
it changes ``params`` in place and keeps its state (velocities, mean squares, gains) as
arrays of the same shape and dtype, so a float32 network stays float32.  ``lr`` is an
attribute that the trainer sets from a :class:`Schedule` each epoch.

``state_dict()`` returns ``{"arrays": {name: ndarray}, "scalars": {name: number}}`` and
``load_state_dict`` takes it back: arrays go into a safetensors checkpoint as tensors,
scalars into its JSON metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltanet import kernels

Array = np.ndarray


class Optimizer:
    """Base class: hyper-parameters as attributes, state as named arrays."""

    name = "optimizer"
    _state_names: tuple[str, ...] = ()

    def __init__(self, lr: float):
        _check_positive("lr", lr)
        self.lr = float(lr)
        self.t = 0  # steps taken
        self.state: dict[str, Array] = {}

    def _init_state(self, params: Array) -> None:
        for key in self._state_names:
            self.state[key] = np.zeros_like(params)

    def step(self, params: Array, grad: Array) -> None:
        """Update ``params`` in place from ``grad`` (same shape and dtype)."""
        if not self.state and self._state_names:
            self._init_state(params)
        self.t += 1
        self._update(params, grad)

    def _update(self, params: Array, grad: Array) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        return {
            "arrays": {k: v.copy() for k, v in self.state.items()},
            "scalars": {"name": self.name, "t": self.t, **self.hyperparameters()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        scalars = state["scalars"]
        if scalars.get("name") != self.name:
            raise ValueError(f"optimizer state is for {scalars.get('name')!r}, not {self.name!r}")
        missing = set(self._state_names) - set(state["arrays"]) if state["arrays"] else set()
        if missing:
            raise ValueError(f"optimizer state lacks {sorted(missing)}")
        self.t = int(scalars["t"])
        arrays = {k: np.array(v, copy=True) for k, v in state["arrays"].items()}
        shapes = {(a.shape, a.dtype) for a in arrays.values()}
        if len(shapes) > 1 or any(a.ndim != 1 for a in arrays.values()):
            raise ValueError("optimizer state arrays must be flat and alike in shape and dtype")
        self.state = arrays
        for key, value in scalars.items():
            if key not in ("name", "t") and hasattr(self, key):
                setattr(self, key, type(getattr(self, key))(value))

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.hyperparameters().items()
        )
        return f"{type(self).__name__}({args})"


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_fraction(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Momentum ``μ`` (Polyak; Sutskever et al. 2013 for Nesterov)::

        v ← μ v + g
        w ← w − lr · v                 (classical)
        w ← w − lr · (g + μ v)         (Nesterov, the form PyTorch uses)
    """

    name = "sgd"

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(lr)
        _check_fraction("momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._state_names = ("velocity",) if momentum else ()

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, params: Array, grad: Array) -> None:
        if not self.momentum:
            params -= self.lr * grad
            return
        kernels.momentum(
            params, grad, self.state["velocity"], self.lr, self.momentum, self.nesterov
        )


class RMSprop(Optimizer):
    """RMSprop (Hinton, Neural Networks for Machine Learning, lecture 6e, 2012)::

        MS ← ρ MS + (1 − ρ) g²
        w  ← w − lr · g / (√MS + ε)

    ``ρ = 0.9`` as in the lecture; ``ε`` keeps the step finite where ``MS`` is 0.
    """

    name = "rmsprop"
    _state_names = ("mean_square",)

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8):
        super().__init__(lr)
        _check_fraction("rho", rho)
        _check_positive("eps", eps)
        self.rho = float(rho)
        self.eps = float(eps)
        self._scratch: Array | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _buffer(self, like: Array) -> Array:
        if self._scratch is None or self._scratch.shape != like.shape:
            self._scratch = np.empty_like(like)
        return self._scratch

    def _update(self, params: Array, grad: Array) -> None:
        kernels.rmsprop(
            params, grad, self.state["mean_square"], self.lr, self.rho, self.eps, self._buffer(grad)
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
    _state_names = ("mean_square", "gain", "previous_grad")

    def __init__(
        self,
        lr: float = 0.001,
        rho: float = 0.9,
        eps: float = 1e-8,
        increment: float = 1.3,
        decrement: float = 0.5,
        gain_min: float = 0.1,
        gain_max: float = 10.0,
    ):
        super().__init__(lr, rho, eps)
        if not increment >= 1:
            raise ValueError(f"increment must be >= 1, got {increment}")
        if not 0 < decrement <= 1:
            raise ValueError(f"decrement must be in (0, 1], got {decrement}")
        if not 0 < gain_min <= 1 <= gain_max:
            raise ValueError(f"need 0 < gain_min <= 1 <= gain_max, got {gain_min}, {gain_max}")
        self.increment = float(increment)
        self.decrement = float(decrement)
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

    def _update(self, params: Array, grad: Array) -> None:
        kernels.rmsprop_gains(
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
    _state_names = ("m", "v")

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        super().__init__(lr)
        _check_fraction("beta1", beta1)
        _check_fraction("beta2", beta2)
        _check_positive("eps", eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _update(self, params: Array, grad: Array) -> None:
        kernels.adam(
            params,
            grad,
            self.state["m"],
            self.state["v"],
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.t,
        )


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, RMSprop, RMSpropGains, Adam)
}


def make_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """Build an optimizer by name ("sgd", "rmsprop", "rmsprop_gains", "adam")."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(**kwargs)


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
        if self.kind not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.kind!r}; choose one of: {', '.join(SCHEDULES)}"
            )
        if self.step_size < 1:
            raise ValueError(f"step_size must be at least 1, got {self.step_size}")
        if not self.gamma > 0:
            raise ValueError(f"gamma must be positive, got {self.gamma}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be 0 or more, got {self.warmup}")

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


SCHEDULES = ("constant", "step", "cosine")
