"""deltanet's networks as scikit-learn estimators: :class:`MLPClassifier`, :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` parameters where the
concept is the same, train with deltanet's :class:`~deltanet.training.Trainer`, and
work wherever an estimator does: a ``Pipeline`` after a ``StandardScaler``,
``GridSearchCV``, ``cross_val_score``, ``clone``, ``joblib``.  They pass scikit-learn's
own ``parametrize_with_checks`` (see ``tests/test_sklearn.py`` for the checks they are
excused from, and why)::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from deltanet.sklearn import MLPClassifier, load

    clf = make_pipeline(StandardScaler(), MLPClassifier((300,), "logistic", random_state=0))
    clf.fit(X, y)
    clf[-1].save("clf.safetensors")  # deltanet's model file: no pickle, a digest
    same = load("clf.safetensors")  # a fitted MLPClassifier (it expects scaled rows)

A fit is a :class:`~deltanet.config.TrainConfig`: every parameter is checked in
``fit`` by the rule the config has for it (:data:`PARAMETERS` says which setting each
one sets), so a setting is refused with the same words from here, from
:class:`~deltanet.config.TrainConfig` and from the command line.  What differs from
scikit-learn:

* ``solver`` is one of deltanet's optimizers ("adam", "sgd", "rmsprop",
  "rmsprop_gains"); there is no "lbfgs", and no ``learning_rate`` schedule for SGD;
* ``activation`` takes scikit-learn's names ("logistic", "identity") and deltanet's
  ("sigmoid", "linear", "leaky_relu", "softplus", ...);
* ``alpha`` means what it means in scikit-learn, an L2 penalty ``alpha / (2 ·
  batch_size) · Σ‖W‖²`` per mini-batch, which is deltanet's ``l2 = alpha / batch_size``;
* ``dropout`` (of hidden units) and ``dtype`` ("float32", the default, or "float64")
  are deltanet's;
* a classifier has one softmax output per class, two for two classes.

This module needs scikit-learn (``pip install 'deltanet[sklearn]'``); nothing else in
deltanet imports it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import ChainMap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import InvalidParameterError, Options, StrOptions
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "deltanet.sklearn needs scikit-learn >= 1.6: pip install 'deltanet[sklearn]'"
    ) from exc

from deltanet.activations import ACTIVATIONS
from deltanet.config import CONSTRAINTS, TrainConfig
from deltanet.constraints import NONNEGATIVE, Flag, Integer, Real, Rule
from deltanet.constraints import Options as Names
from deltanet.errors import ConfigError, DataError, ModelFileError
from deltanet.history import Outcome
from deltanet.model import Model
from deltanet.modelfile import read_model, save_model
from deltanet.network import MLP, architecture
from deltanet.optimizers import Optimizer
from deltanet.training import Trainer

__all__ = ["PARAMETERS", "MLPClassifier", "MLPRegressor", "load"]

# scikit-learn's names for two of deltanet's activations
ACTIVATION_ALIASES = {"logistic": "sigmoid", "identity": "linear"}

# each parameter that is a TrainConfig setting -> that setting
PARAMETERS = {
    "activation": "hidden",
    "solver": "optimizer",
    "alpha": "l2",
    "batch_size": "batch_size",
    "learning_rate_init": "lr",
    "max_iter": "epochs",
    "momentum": "momentum",
    "nesterovs_momentum": "nesterov",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "epsilon": "eps",
    "dropout": "dropout",
    "dtype": "dtype",
}


class _HiddenLayers(Rule):
    """The widths between input and output: one width or a sequence (maybe empty)."""

    describe = "a width or a sequence of widths, each a whole number >= 1, such as (100,)"

    def accepts(self, value: Any) -> bool:
        if Integer(1).accepts(value):
            return True
        if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
            return False
        return CONSTRAINTS["layers"].accepts((1, *value, 1))


def _hidden_sizes(value: Any) -> tuple[int, ...]:
    return (int(value),) if Integer(1).accepts(value) else tuple(int(d) for d in value)


class _Rule(Options):
    """A deltanet :class:`~deltanet.constraints.Rule` as a scikit-learn constraint: the
    rule decides and words the message.  (scikit-learn's validation takes only its own
    constraint kinds; this is its ``Options`` whose set of values is the rule.)"""

    def __init__(self, rule: Rule):
        super().__init__(object, set())
        self.rule = rule

    def is_satisfied_by(self, val: Any) -> bool:
        return self.rule.accepts(val)

    def __str__(self) -> str:
        return self.rule.describe


def _parameter_constraints() -> dict[str, list]:
    """scikit-learn's ``_parameter_constraints``, from deltanet's rules: a parameter that
    is a TrainConfig setting takes that setting's rule."""
    table: dict[str, list] = {
        name: [_Rule(CONSTRAINTS[setting])] for name, setting in PARAMETERS.items()
    }
    activations = ChainMap(ACTIVATION_ALIASES, ACTIVATIONS)  # a live view of both
    table.update(
        hidden_layer_sizes=[_Rule(_HiddenLayers())],
        activation=[_Rule(Names(activations, "activation"))],
        batch_size=[StrOptions({"auto"}), _Rule(CONSTRAINTS["batch_size"])],
        shuffle=[_Rule(Flag())],
        random_state=["random_state"],
        tol=[_Rule(NONNEGATIVE)],
        verbose=["verbose"],
        warm_start=[_Rule(Flag())],
        early_stopping=[_Rule(Flag())],
        validation_fraction=[_Rule(Real(0, 1, low_open=True, high_open=True))],
        n_iter_no_change=[_Rule(Integer(1))],
    )
    return table


# ---------------------------------------------------------------------- stopping


@dataclass
class _Stopping:
    """scikit-learn's stopping rule, called by the trainer after every epoch.

    It records the epoch's loss (and the validation score, when part of the data is
    held out) on the estimator, and stops when the last ``patience + 1`` epochs each
    failed to improve on the best so far by ``tol``: the training loss by going below
    it, the validation score by going above it.
    """

    est: _MLP
    tol: float
    patience: int
    validation: tuple[np.ndarray, np.ndarray] | None = None
    best: float = -math.inf  # the best of this call: -loss, or the validation score
    bad: int = 0
    best_params: np.ndarray | None = None
    stopped: bool = False
    say: Callable[[str], None] | None = field(default=None, repr=False)

    def __call__(self, record: dict[str, float], net: MLP) -> bool:
        est = self.est
        est.n_iter_ += 1
        est.loss_curve_.append(float(record["loss"]))
        line = f"Iteration {est.n_iter_}, loss = {record['loss']:.8f}"
        loss = est.loss_curve_[-1]
        if not est.early_stopping:  # (a warm start may have turned it on or off)
            est.best_loss_ = min(math.inf if est.best_loss_ is None else est.best_loss_, loss)
        if self.validation is None:
            value = -loss
        else:
            value = est._validation_score(net, *self.validation)
            est.validation_scores_ = [*(est.validation_scores_ or []), value]
            est.best_validation_score_ = max(est.validation_scores_)
            line += f", validation score = {value:.6f}"
            if value > self.best:
                self.best_params = net.params.copy()
        self.bad = self.bad + 1 if value < self.best + self.tol else 0
        self.best = max(self.best, value)
        if self.say is not None:
            self.say(line)
        self.stopped = self.bad > self.patience
        return self.stopped


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line)


def _discard(line: str) -> None:
    """The trainer's own line per epoch: :class:`_Stopping` writes scikit-learn's."""


# ---------------------------------------------------------------------- the estimators


class _MLP(BaseEstimator):
    """What the classifier and the regressor share; see their docstrings."""

    _parameter_constraints: ClassVar[dict[str, list]] = _parameter_constraints()
    _loss: ClassVar[str] = "cross_entropy"
    _output: ClassVar[str | None] = None
    _multi_output: ClassVar[bool] = False  # y may have several columns

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        dropout: float = 0.0,
        dtype: str = "float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.dtype = dtype

    # ------------------------------------------------------------------ the mapping
    def train_config(
        self, n_features: int, n_outputs: int, n_samples: int, seed: int = 0
    ) -> TrainConfig:
        """The :class:`~deltanet.config.TrainConfig` a fit on ``n_samples`` rows of
        ``n_features`` with ``n_outputs`` outputs trains (validation split, weight
        averaging and deltanet's early stopping off: the estimator does scikit-learn's).

        Raises:
            ConfigError: for a combination of settings the config refuses.
        """
        batch = self._batch_size(n_samples)
        return TrainConfig(
            layers=(n_features, *_hidden_sizes(self.hidden_layer_sizes), n_outputs),
            hidden=ACTIVATION_ALIASES.get(self.activation, self.activation),
            loss=self._loss,
            output=self._output,
            l2=self.alpha / batch,
            dtype=self.dtype,
            dropout=self.dropout,
            optimizer=self.solver,
            lr=self.learning_rate_init,
            momentum=self.momentum,
            nesterov=bool(self.nesterovs_momentum and self.momentum),
            beta1=self.beta_1,
            beta2=self.beta_2,
            eps=self.epsilon,
            average=0.0,
            epochs=self.max_iter,
            batch_size=batch,
            val_size=0,
            early_stopping=0,
            seed=seed,
        )

    def _batch_size(self, n_samples: int) -> int:
        return min(200, n_samples) if self.batch_size == "auto" else self.batch_size

    def _seed(self) -> int:
        """The seed of a new network: ``random_state`` itself when it is a whole
        number, else drawn from it (None: a different network every fit)."""
        if CONSTRAINTS["seed"].accepts(self.random_state):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any) -> _MLP:
        """Train on ``X: (N, D)`` and ``y``: a new network, or with ``warm_start`` the
        fitted one continued (with a fresh optimizer, as scikit-learn does).

        Up to ``max_iter`` epochs; training stops earlier when ``n_iter_no_change + 1``
        epochs in a row fail to improve the training loss (or, with
        ``early_stopping``, the score on the held-out ``validation_fraction``) by
        ``tol``; with ``early_stopping`` the best epoch's weights are kept.
        """
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def _fit(self, X: Any, y: Any, incremental: bool, classes: Any = None) -> _MLP:
        fresh = not hasattr(self, "model_") or not (incremental or self.warm_start)
        dtype = np.dtype(CONSTRAINTS["dtype"].normalize(self.dtype))
        X, y = validate_data(
            self,
            X,
            y,
            reset=fresh,
            dtype=dtype if fresh else self.model_.net.dtype,
            multi_output=self._multi_output,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        Y, fitted = self._targets(y, fresh, incremental, classes)
        seed = self._seed() if fresh else int(self._rng.integers(np.iinfo(np.int32).max))
        config = self.train_config(X.shape[1], Y.shape[1], len(X), seed)
        if not fresh:
            self._check_continuation(config)
            X = self.model_.prepare(X)  # a loaded model's standardization, if it has one
        validation = None
        if self.early_stopping and not incremental:
            X, Y, validation = self._hold_out(X, Y, seed)
        # everything is checked: from here on the estimator changes
        if fresh:
            self._start(config, fitted)
        self.model_.net.l2 = config.l2  # alpha / batch_size: the batch size may differ
        if not incremental or self._optimizer is None:
            self._optimizer = config.make_optimizer()
        stopped = self._train(X, Y, config, seed, validation, 1 if incremental else self.max_iter)
        if not (incremental or stopped):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _start(self, config: TrainConfig, fitted: dict[str, Any]) -> None:
        """A new network for ``config``, a new history, and the ``fitted`` attributes
        that describe the targets."""
        for name, value in fitted.items():
            setattr(self, name, value)
        self.model_ = Model(config.make_network())
        self._rng = np.random.default_rng(config.seed)  # seeds the later calls' trainers
        self._optimizer: Optimizer | None = None
        self.n_iter_ = 0
        self.loss_curve_: list[float] = []
        self.best_loss_: float | None = None if self.early_stopping else math.inf
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_: float | None = -math.inf if self.early_stopping else None

    def _check_continuation(self, config: TrainConfig) -> None:
        """That ``config`` describes the fitted network, whose training goes on (its
        ``l2`` may differ: ``alpha / batch_size`` changes with the batch size)."""
        net = self.model_.net
        mine, theirs = net.to_config(), architecture(config)
        differ = [k for k in mine if k != "l2" and mine[k] != theirs[k]]
        if differ:
            raise ConfigError(
                f"the fitted network is {net}; the parameters now describe another "
                f"({', '.join(differ)} differ): fit with warm_start=False to start over"
            )

    def _hold_out(
        self, X: np.ndarray, Y: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """scikit-learn's split for early stopping: ``validation_fraction`` of the rows,
        stratified for a classifier."""
        classifier = isinstance(self, ClassifierMixin)
        held, need = math.ceil(self.validation_fraction * len(X)), 2
        if classifier:
            need = max(need, Y.shape[1])  # one per class
        if held < need:
            raise DataError(
                f"early stopping would validate on {held} of {len(X)} samples, fewer than "
                f"the {need} it needs{' (one per class)' if classifier else ''}: raise "
                "validation_fraction or give more data"
            )
        # by class index, which orders the classes as their labels do: scikit-learn's split
        stratify = Y.argmax(axis=1) if classifier else None
        X, X_val, Y, Y_val = train_test_split(
            X, Y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )
        return X, Y, (X_val, Y_val)

    def _train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        config: TrainConfig,
        seed: int,
        validation: tuple[np.ndarray, np.ndarray] | None,
        epochs: int,
    ) -> bool:
        """Train up to ``epochs`` epochs; True if training stopped before (converged,
        or diverged and rolled back with a warning)."""
        net = self.model_.net
        trainer = Trainer(
            net,
            X,
            Y,
            optimizer=self._optimizer,
            epochs=epochs,
            batch_size=config.batch_size,
            shuffle=self.shuffle,
            seed=seed,
            progress=bool(self.verbose),
            log=_discard,
        )
        say = _say if self.verbose else None
        stopping = _Stopping(self, self.tol, self.n_iter_no_change, validation, say=say)
        history = trainer.run([stopping])
        if stopping.best_params is not None:
            net.params = stopping.best_params
        return history.outcome is not Outcome.COMPLETED

    # ------------------------------------------------------------------ answering
    def _outputs(self, X: Any) -> np.ndarray:
        """The network's outputs ``(N, K)`` for raw rows ``X: (N, D)``, as float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.net.dtype)
        return self.model_.predict_proba(X).astype(np.float64)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted estimator as deltanet's model file (safetensors, atomically):
        the network and the class labels under the file's SHA-256 digest, beside them
        the parameters and the training record.  :func:`load` reads it back."""
        check_is_fitted(self)
        labels = getattr(self, "classes_", None)
        model = Model(
            self.model_.net,
            None if labels is None else list(labels),
            self.model_.standardizer,
        )
        save_model(model, path, training=self._record())

    def _record(self) -> dict[str, Any]:
        """What the model file keeps about the fit, as JSON."""
        params = {k: _json(v) for k, v in self.get_params(deep=False).items()}
        names = getattr(self, "feature_names_in_", None)
        return {
            "estimator": type(self).__name__,
            "params": {k: v for k, v in params.items() if v is not _UNSAVED},
            "n_iter_": self.n_iter_,
            "loss_curve_": self.loss_curve_,
            "best_loss_": _finite(self.best_loss_),
            "validation_scores_": self.validation_scores_,
            "best_validation_score_": _finite(self.best_validation_score_),
            "feature_names_in_": None if names is None else [str(n) for n in names],
        }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = self._multi_output
        return tags

    # the subclasses' parts
    def _targets(
        self, y: np.ndarray, fresh: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """``y`` checked, as the network's ``(N, K)`` targets, and the attributes that
        describe them, for a fresh fit to set (nothing is changed here)."""
        raise NotImplementedError

    def _validation_score(self, net: MLP, X: np.ndarray, Y: np.ndarray) -> float:
        raise NotImplementedError


class MLPClassifier(ClassifierMixin, _MLP):
    """A multilayer perceptron classifier trained by deltanet, with softmax outputs and
    cross-entropy: scikit-learn's ``MLPClassifier`` parameters where the concept is the
    same (see the module docstring for what differs).

    Parameters:
        hidden_layer_sizes: the widths of the hidden layers, e.g. ``(300,)``.
        activation: of the hidden units: "relu", "logistic" (= "sigmoid"), "tanh",
            "identity" (= "linear"), "leaky_relu", "softplus".
        solver: "adam", "sgd", "rmsprop" or "rmsprop_gains".
        alpha: L2 penalty, as scikit-learn's (``l2 = alpha / batch_size``).
        batch_size: samples per step; "auto" is ``min(200, n_samples)``.
        learning_rate_init: the learning rate.
        max_iter: epochs per ``fit`` at most.
        shuffle: visit the samples in a new order every epoch.
        random_state: an int (the network's seed), a ``RandomState`` or None.
        tol, n_iter_no_change: stop once ``n_iter_no_change + 1`` epochs in a row fail
            to improve by ``tol``.
        verbose: a progress bar and a line per epoch.
        warm_start: ``fit`` continues the fitted network.
        momentum, nesterovs_momentum: for "sgd".
        early_stopping, validation_fraction: hold out that fraction (stratified),
            stop on its accuracy and keep the best epoch's weights.
        beta_1, beta_2, epsilon: for "adam" (epsilon also for "rmsprop").
        dropout: probability of dropping each hidden unit while training.
        dtype: "float32" or "float64", what the network computes in.

    Attributes:
        classes_: the class labels (any: ints, strings, ...), one per output unit.
        model_: the :class:`~deltanet.model.Model` (its ``net`` the network).
        n_features_in_, feature_names_in_: the inputs seen by the first fit.
        n_iter_: epochs trained; ``loss_curve_``: the training loss of each.
        best_loss_: the lowest training loss (None with early stopping).
        validation_scores_, best_validation_score_: accuracy on the held-out part per
            epoch, and the best (None without early stopping).
    """

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``, continuing the network and its optimizer.

        ``classes``: every label there will be, required in the first call.
        """
        self._validate_params()
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

    def _targets(
        self, y: np.ndarray, fresh: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """One-hot rows ``(N, K)`` over :attr:`classes_`: on a fresh fit the sorted
        labels of ``y``, or of ``classes`` in a first ``partial_fit``."""
        check_classification_targets(y)
        seen = unique_labels(y)
        if fresh:
            known = unique_labels(classes) if incremental else seen
            if len(known) < 2:
                raise DataError(
                    f"y has only one class ({known[0]!r}): a classifier needs at least two"
                )
        else:
            known = self.classes_
            if classes is not None and not np.array_equal(unique_labels(classes), known):
                raise DataError(
                    f"classes={unique_labels(classes).tolist()} is not what the first "
                    f"partial_fit gave: {known.tolist()}"
                )
            if self.warm_start and not incremental and set(seen) != set(known):
                raise DataError(
                    "with warm_start, y must have the classes of the previous fit: "
                    f"{known.tolist()}, not {seen.tolist()}"
                )
        new = np.setdiff1d(seen, known)
        if new.size:
            raise DataError(f"y has classes not in classes_ {known.tolist()}: {new.tolist()}")
        return np.eye(len(known), dtype=np.int8)[np.searchsorted(known, y)], {"classes_": known}

    def _validation_score(self, net: MLP, X: np.ndarray, Y: np.ndarray) -> float:
        return 1.0 - net.error_rate(X, Y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class in :attr:`classes_` order: ``(N, K)``."""
        return self._outputs(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row: ``(N,)`` labels from :attr:`classes_`."""
        best = self._outputs(X).argmax(axis=1)
        return self.classes_[best]


class MLPRegressor(RegressorMixin, _MLP):
    """A multilayer perceptron regressor trained by deltanet, with linear outputs and
    squared error: scikit-learn's ``MLPRegressor`` parameters where the concept is the
    same (see :class:`MLPClassifier` for them, and the module docstring for what
    differs).  ``y`` may have several columns.  As with scikit-learn's, scale the
    targets if they are far from unit size (``TransformedTargetRegressor``).

    Attributes: as :class:`MLPClassifier`'s without ``classes_``; ``n_outputs_`` is the
    number of targets, and the validation score with ``early_stopping`` is R².
    """

    _loss = "squared_error"
    _output = "linear"
    _multi_output = True

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over ``X, y``, continuing the network and its optimizer."""
        self._validate_params()
        return self._fit(X, y, incremental=True)

    def _targets(
        self, y: np.ndarray, fresh: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Targets as ``(N, K)``."""
        Y = y.reshape(len(y), -1)
        if not fresh and Y.shape[1] != self.n_outputs_:
            raise DataError(f"y has {Y.shape[1]} targets, the network predicts {self.n_outputs_}")
        return Y, {"n_outputs_": Y.shape[1]}

    def _validation_score(self, net: MLP, X: np.ndarray, Y: np.ndarray) -> float:
        return float(r2_score(Y, net.predict_proba(X).astype(np.float64)))

    def predict(self, X: Any) -> np.ndarray:
        """``(N,)`` predictions, or ``(N, K)`` for ``K > 1`` targets."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out


# ---------------------------------------------------------------------- loading

_UNSAVED = object()  # a parameter value that JSON cannot hold (a RandomState)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list | tuple):
        items = [_json(v) for v in value]
        return _UNSAVED if any(v is _UNSAVED for v in items) else items
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _UNSAVED


def load(path: str | os.PathLike[str]) -> MLPClassifier | MLPRegressor:
    """A fitted estimator from a deltanet model file (:meth:`MLPClassifier.save`, or
    ``deltanet train``): an :class:`MLPRegressor` if its network has linear outputs,
    squared error and no class labels, an :class:`MLPClassifier` otherwise.

    The network, its class labels and a standardization of its inputs come from the
    digest-covered part of the file; the parameters and the training record from the
    rest (each checked).  The optimizer's state is not in the file: ``partial_fit``
    after ``load`` starts a new one.

    Raises:
        ModelFileError: for a file that is not a valid model file, or whose record
            holds parameters that are not allowed.
    """
    model, record = read_model(path)
    net = model.net
    regression = model.classes is None and net.loss == "squared_error" and net.output == "linear"
    cls = MLPRegressor if regression else MLPClassifier
    est = cls()
    stored = record.get("params") if record.get("estimator") == cls.__name__ else None
    params = {k: v for k, v in (stored or {}).items() if k in _MLP._parameter_constraints}
    params.update(hidden_layer_sizes=tuple(net.layers[1:-1]), dtype=net.dtype.name)
    params.update(dropout=net.dropout)
    if ACTIVATION_ALIASES.get(params.get("activation"), params.get("activation")) != net.hidden:
        params["activation"] = net.hidden
    try:
        est.set_params(**params)
        est._validate_params()
        _restore(est, model, record if stored is not None else {})
    except (InvalidParameterError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the estimator's record is invalid: {exc}") from None
    return est


def _restore(est: _MLP, model: Model, record: dict[str, Any]) -> None:
    """The fitted state of ``est``: ``model`` and what ``record`` says of the training."""
    net = model.net
    est.model_ = Model(net, None, model.standardizer)
    est.n_features_in_ = net.layers[0]
    if isinstance(est, MLPClassifier):
        est.classes_ = np.asarray(model.labels)
    else:
        est.n_outputs_ = net.layers[-1]
    names = record.get("feature_names_in_")
    if names is not None:
        if len(names) != est.n_features_in_ or not all(isinstance(n, str) for n in names):
            raise ValueError(f"feature_names_in_ {names!r} does not name the inputs")
        est.feature_names_in_ = np.asarray(names, dtype=object)
    est.n_iter_ = int(record.get("n_iter_", 0))
    est.loss_curve_ = [float(v) for v in record.get("loss_curve_", [])]
    est.best_loss_ = _number(record.get("best_loss_"))
    scores = record.get("validation_scores_")
    est.validation_scores_ = None if scores is None else [float(v) for v in scores]
    est.best_validation_score_ = _number(record.get("best_validation_score_"))
    est._rng = np.random.default_rng(est._seed())
    est._optimizer = None


def _finite(value: float | None) -> float | None:
    """``value``, or None for none yet (the ±inf before the first epoch)."""
    return value if value is not None and math.isfinite(value) else None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
