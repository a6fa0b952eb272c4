"""What ``deltanet serve`` answers, without the web: a model's classes for a picture's
bytes or for a JSON row, and what the model is.

A :class:`Predictor` may be called from many threads at once (a server's requests):
every prediction computes in buffers of its own (the network's reused buffers are for
training), and at most ``decoders`` pictures are decoded at a time, so the memory a
burst of requests takes is bounded by the limits in :mod:`deltanet.limits`, not by how
many arrive.  Pictures become inputs exactly as ``deltanet predict`` makes them
(:func:`deltanet.images.read_digit`); rows are raw features, standardized as the model
was trained.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltanet.errors import DataError
from deltanet.images import read_digit
from deltanet.limits import MAX_REQUEST_PIXELS
from deltanet.model import DIGIT_SHAPE, Model


class MalformedInput(DataError):
    """A body that is not what its content type says (not JSON, not UTF-8)."""


class UnsupportedInput(DataError):
    """A kind of input this model does not take (a picture for a model of features)."""


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one input: every class, best first.

    Attributes:
        labels: ``(K,)`` class labels, best first.
        values: ``(K,)`` their outputs (probabilities, or scores), best first.
        kind: "probabilities" or "scores" (see :attr:`MLP.output_kind
            <deltanet.network.MLP.output_kind>`).
        input: the ``(28, 28)`` picture the network saw, for a digit model; else None.
    """

    labels: tuple[Any, ...]
    values: np.ndarray
    kind: str
    input: np.ndarray | None = None

    def to_json(self, with_input: bool = False) -> dict[str, Any]:
        """The API's answer: ``{"label", "output", "classes": [{"label", "probability"
        or "score"}], "input"?}``."""
        key = "probability" if self.kind == "probabilities" else "score"
        answer: dict[str, Any] = {
            "label": self.labels[0],
            "output": self.kind,
            "classes": [
                {"label": label, key: float(v)}
                for label, v in zip(self.labels, self.values, strict=True)
            ],
        }
        if with_input and self.input is not None:
            answer["input"] = np.round(self.input.astype(np.float64), 4).tolist()
        return answer


class Predictor:
    """A :class:`~deltanet.model.Model` answering requests, safe to call from many threads.

    Args:
        model: the model.
        training: the model file's training metadata (for its test error), or None.
        max_pixels: the largest picture read, in pixels.
        decoders: how many pictures may be decoded at once (default: the CPU count).
    """

    def __init__(
        self,
        model: Model,
        training: dict[str, Any] | None = None,
        *,
        max_pixels: int = MAX_REQUEST_PIXELS,
        decoders: int | None = None,
    ):
        self.model = model
        self.training = training or {}
        self.max_pixels = max_pixels
        self._decoding = threading.BoundedSemaphore(decoders or os.cpu_count() or 1)

    @property
    def reads_pictures(self) -> bool:
        """Whether the model takes digit pictures (else only rows of numbers)."""
        return self.model.takes_digits

    @property
    def test_error(self) -> float | None:
        """The test error the model file records, when it records a sane one."""
        metrics = self.training.get("metrics")
        value = metrics.get("test_error") if isinstance(metrics, dict) else None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and 0 <= value <= 1 else None

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/model`` returns: architecture, classes, input, test error."""
        model, net = self.model, self.model.net
        shape = DIGIT_SHAPE if self.reads_pictures else model.input_shape
        return {
            "name": "-".join(map(str, net.layers)) + f" {net.hidden}",
            "architecture": net.to_config(),
            "parameters": net.n_params,
            "classes": list(model.labels),
            "input": {
                "kind": "digit" if self.reads_pictures else "features",
                "features": model.n_features,
                "shape": None if shape is None else list(shape),
                "names": None if model.feature_names is None else list(model.feature_names),
                "standardized": model.standardizer is not None,
            },
            "output": net.output_kind,
            "test_error": self.test_error,
        }

    def picture(self, data: bytes) -> Prediction:
        """The classes of a PNG or JPEG picture of a digit (made MNIST-style first)."""
        if not self.reads_pictures:
            raise UnsupportedInput(
                f"this model takes rows of {self.model.n_features} numbers "
                "(application/json), not pictures"
            )
        with self._decoding:
            x = read_digit(data, "the picture", self.max_pixels)
        return self._predict(x)

    def row(self, body: bytes) -> Prediction:
        """The classes of a JSON array of the model's D raw input numbers."""
        try:
            value = json.loads(body, parse_constant=_not_a_number)
        except (ValueError, RecursionError) as exc:
            # ValueError covers bad UTF-8, and numbers of more digits than Python reads
            raise MalformedInput(f"the body is not JSON ({_one_line(exc)})") from None
        return self._predict(self._numbers(value))

    def _numbers(self, value: Any) -> np.ndarray:
        d = self.model.n_features
        if not isinstance(value, list):
            raise DataError(f"expected a JSON array of {d} numbers, got a JSON {_kind(value)}")
        if len(value) != d:
            raise DataError(f"expected a JSON array of {d} numbers, got {len(value)} items")
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise DataError(f"item {i} is a JSON {_kind(v)}, not a number")
            if not math.isfinite(_float(v)):  # 1e999 reads as infinity
                raise DataError(f"item {i} is not a finite number")
        return np.array(value, dtype=np.float64)

    def _predict(self, x: np.ndarray) -> Prediction:
        net = self.model.net
        try:
            with np.errstate(over="ignore"):  # said below, in the user's terms
                X = self.model.prepare(x[None, :])
        except DataError:
            # x is finite and of the right length: only the cast to the network's dtype
            # can have failed
            raise DataError(f"numbers too large for this {net.dtype.name} network") from None
        values = net.predict_proba(X, threadsafe=True)[0]
        order = np.argsort(-values, kind="stable")
        picture = x.reshape(DIGIT_SHAPE) if self.reads_pictures else None
        return Prediction(
            tuple(self.model.labels[i] for i in order),
            values[order],
            net.output_kind,
            picture,
        )


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer of 400 digits
        return math.inf


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
