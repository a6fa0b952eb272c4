"""What a training run is: one typed, validated, frozen :class:`TrainConfig`.

A run is its network, its optimizer and schedule, its data and how it is split,
augmented and averaged, its length and its seed.  How it is *executed* (BLAS threads,
progress output, where its files go) is not part of it: two runs with equal configs
train to the same bytes on the same machine.

Every setting is checked when a config is made, by the rules in :data:`CONSTRAINTS`,
which gathers the tables of the modules that own the settings (the network's
architecture, the optimizer's hyper-parameters, the augmentation) and adds the run's
own.  The command line derives its argument types from the same table, so a setting is
refused with the same words wherever it is given.

>>> from deltanet.config import TrainConfig
>>> cfg = TrainConfig(layers=(784, 100, 10), epochs=5)
>>> cfg.replace(lr=0.01).diff(cfg)
['lr']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from deltanet import augment, network, optimizers
from deltanet.constraints import (
    NONNEGATIVE,
    AbsolutePath,
    Choice,
    Flag,
    Integer,
    Maybe,
    Real,
    Size,
    Text,
    check_all,
)
from deltanet.errors import ConfigError
from deltanet.limits import check_memory
from deltanet.losses import get_loss

if TYPE_CHECKING:
    from deltanet.augment import Augment
    from deltanet.network import MLP
    from deltanet.optimizers import Optimizer, Schedule

CONSTRAINTS = {
    **network.CONSTRAINTS,
    **optimizers.CONSTRAINTS,
    **augment.CONSTRAINTS,
    "epochs": Integer(1),
    "batch_size": Integer(1),
    "val_size": Integer(0),  # the last val_size training samples validate; 0: none
    "early_stopping": Integer(0),  # patience in epochs; 0: off
    "max_norm": NONNEGATIVE,  # 0: off
    "seed": Integer(0),
    # where the data is (see deltanet.sources): a folder of IDX files, a .npz, a table
    # (CSV, TSV, Parquet) or a folder of pictures; None: the embedded MNIST
    "data": AbsolutePath(),
    "test": AbsolutePath(),  # a table's test rows in their own file; None: split them off
    "target": Maybe(Text()),  # a table's label column; None: its last column
    "test_size": Real(0, 1, low_open=True, high_open=True),  # held out when no test set
    "channels": Maybe(Choice((1, 3))),  # pictures: grey or RGB; None: as they are
    "image_size": Maybe(Size()),  # pictures: (height, width); None: the commonest
    "standardize": Maybe(Flag()),  # inputs to mean 0, scale 1; None: tables and .npz
}


# what a resumed run may change: its length (to extend it) and where its data now lives
RESUMABLE = ("epochs", "data", "test")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run is; the defaults are ``deltanet train``'s.

    Network: ``layers``, ``hidden``, ``loss``, ``output``, ``l2``, ``dtype``, ``dropout``,
    ``input_dropout`` (see :class:`~deltanet.network.MLP`).  Optimizer: ``optimizer``,
    ``lr`` and the settings of that optimizer (``momentum``, ``nesterov``; ``rho``,
    ``eps``; ``increment``, ``decrement``; ``beta1``, ``beta2``), ``schedule`` with
    ``warmup`` epochs, and ``average``, the decay of the weight average (0: off).
    Training: ``epochs``, ``batch_size``, ``val_size`` (the last samples held out for
    validation, 0: none), ``early_stopping`` (patience, 0: off), ``augment`` ("none",
    "affine", "elastic"), ``max_norm`` (0: off) and ``seed``.  Data
    (:mod:`deltanet.sources`): ``data``, a folder of IDX files, a ``.npz``, a CSV, TSV or
    Parquet file or a folder of pictures, kept as an absolute path (None: the embedded
    MNIST); ``test``, a table's test rows in their own file; ``target``, a table's label
    column (None: the last); ``test_size``, the fraction held out for testing when the
    data has no test set; ``channels`` (1 grey, 3 RGB) and ``image_size`` ``(height,
    width)`` of pictures (None: as most of them are); ``standardize`` the inputs (None:
    for tables and ``.npz`` files, not for pictures).
    """

    layers: tuple[int, ...] = (784, 300, 10)
    hidden: str = "sigmoid"
    loss: str = "cross_entropy"
    output: str | None = None
    l2: float = 0.0
    dtype: str = "float32"
    dropout: float = 0.0
    input_dropout: float = 0.0
    optimizer: str = "rmsprop"
    lr: float = 0.001
    momentum: float = 0.9
    nesterov: bool = False
    rho: float = 0.9
    eps: float = 1e-8
    increment: float = 1.3
    decrement: float = 0.5
    beta1: float = 0.9
    beta2: float = 0.999
    average: float = 0.999
    schedule: str = "constant"
    warmup: int = 0
    epochs: int = 30
    batch_size: int = 100
    val_size: int = 10_000
    early_stopping: int = 0
    augment: str = "none"
    max_norm: float = 0.0
    seed: int = 0
    data: str | None = None
    test: str | None = None
    target: str | None = None
    test_size: float = 0.2
    channels: int | None = None
    image_size: tuple[int, int] | None = None
    standardize: bool | None = None

    def __post_init__(self) -> None:
        checked = check_all(CONSTRAINTS, {f.name: getattr(self, f.name) for f in fields(self)})
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # normalized: a tuple, floats, a path
        get_loss(self.loss, self.output)  # a loss and an output that go together
        if self.early_stopping and not self.val_size:
            raise ConfigError("early_stopping needs a validation split: give val_size > 0")
        if self.optimizer == "sgd":
            self.make_optimizer()  # SGD's own rule: Nesterov needs a momentum

    # ------------------------------------------------------------------ as data
    def to_dict(self) -> dict[str, Any]:
        """Every setting as a JSON-able value (``layers`` a list)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_dict`'s output; settings it lacks take their defaults.

        Raises:
            ConfigError: for a key that is not a setting, or a value that is not allowed.
        """
        if not isinstance(values, dict):
            raise ConfigError(f"a training configuration is a JSON object, not {values!r}")
        _refuse_unknown(values)
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied, checked like a new config."""
        _refuse_unknown(changes)
        return dataclasses.replace(self, **changes)

    def diff(self, other: TrainConfig) -> list[str]:
        """The names of the settings in which ``other`` differs, in field order."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

    # ------------------------------------------------------------------ the pieces
    def make_network(self) -> MLP:
        """A freshly initialized network (its weights drawn from ``seed``), once the memory
        its training will take is known to be there (before anything is allocated)."""
        self.check_memory()
        return network.MLP.from_config(self)

    def check_memory(self) -> None:
        """Refuse a run whose training would not fit in memory: the parameters with their
        gradient, the optimizer's state and weight average, the best weights, and the
        epoch's snapshot of all of it (a ``ConfigError``)."""
        kept = len(self.make_optimizer().state_names) + (1 if self.average else 0)
        copies = 2 + kept + 1 + (1 + kept)
        size = network.n_params(self.layers) * np.dtype(self.dtype).itemsize
        what = f"training a {'-'.join(map(str, self.layers))} network"
        check_memory(size * copies, what, ConfigError)

    def make_optimizer(self) -> Optimizer:
        return optimizers.from_config(self)

    def make_schedule(self) -> Schedule:
        return optimizers.Schedule.from_config(self)

    def make_augment(self) -> Augment | None:
        return augment.from_name(self.augment)


def _refuse_unknown(values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - set(CONSTRAINTS))
    if unknown:
        raise ConfigError(
            f"not a setting of a training run: {', '.join(unknown)} "
            f"(the settings are: {', '.join(f.name for f in fields(TrainConfig))})"
        )
