"""Model files and checkpoints: safetensors with JSON metadata, checked before they are used.

A model file holds one tensor per block (``W1``, ``b1``, ...) and, as safetensors
metadata (text only): the format name and version, the architecture (the network's
:meth:`~deltanet.network.MLP.to_config`), a SHA-256 digest and the training
configuration.  A :class:`~deltanet.model.Model`'s file adds what it needs to answer in
its user's terms: ``model`` metadata (class labels, the picture shape of an input) and,
when its inputs are standardized, the tensors ``input.mean`` and ``input.scale``.  A checkpoint holds the same plus the trainer's state: more tensors
(``state.*``: optimizer moments, the weight average, the best weights) and a JSON
``state`` (the RNG state, the history, ...).  Nothing is pickled, so loading a file
from a stranger cannot run code.

The digest (format version 2) covers everything that decides how the file behaves: it
is the SHA-256 of the canonical JSON (sorted keys, no spaces) of ``{"architecture":
...}`` (with a model's ``"model"`` entry; a checkpoint: ``{"architecture": ...,
"state": ...}``), followed, for every
tensor in name order, by its name, a zero byte and its raw bytes.  The ``training``
metadata of a model file (the settings and metrics it was trained with, for people to
read) is not covered.  A file without a digest, or whose digest does not match, is
refused.

Reading is bounded: the 8-byte length and the JSON header are read and checked first
(size limits, a regular file, tensor sizes adding up to the file's), so a device like
``/dev/zero`` or a header announcing terabytes is refused before anything else is read.
Every write is atomic (:mod:`deltanet.files`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from deltanet.errors import ModelFileError, UserError
from deltanet.files import atomic_write_bytes, open_regular
from deltanet.limits import MAX_HEADER_BYTES, check_memory
from deltanet.model import Model, Standardizer
from deltanet.network import MLP

FORMAT = "deltanet"
CHECKPOINT_FORMAT = "deltanet-checkpoint"
FORMAT_VERSION = 2

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "digest",
    "load",
    "load_checkpoint",
    "load_model",
    "read_model",
    "save",
    "save_checkpoint",
    "save_model",
]

INPUT_TENSORS = ("input.mean", "input.scale")  # a Model's standardization


# ---------------------------------------------------------------------- the digest


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def digest(covered: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the canonical JSON of ``covered``, then of each tensor in name order:
    its name, a zero byte, its bytes (little-endian, C order)."""
    h = hashlib.sha256(_canonical(dict(covered)).encode())
    for name in sorted(tensors):
        h.update(name.encode() + b"\0")
        t = tensors[name]
        h.update(np.ascontiguousarray(t, dtype=t.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- writing


def _file_bytes(
    fmt: str,
    net: MLP,
    extra_tensors: Mapping[str, np.ndarray],
    covered: Mapping[str, Any],
    uncovered: Mapping[str, str],
) -> bytes:
    """A model file or a checkpoint: ``covered`` JSON values go into the digest."""
    if not np.isfinite(net.params).all():
        raise ValueError(f"refusing to write a {fmt} file of a network with NaN or infinities")
    tensors = {b.name: np.ascontiguousarray(b.view(net.params)) for b in net.layout}
    tensors.update({k: np.ascontiguousarray(v) for k, v in extra_tensors.items()})
    covered = {"architecture": net.to_config(), **covered}
    metadata = {
        "format": fmt,
        "format_version": str(FORMAT_VERSION),
        **{key: _canonical(value) for key, value in covered.items()},
        "sha256": digest(covered, tensors),
        **uncovered,
    }
    return st_save(tensors, metadata=metadata)


def save(net: MLP, path: str | os.PathLike[str], training: dict[str, Any] | None = None) -> None:
    """Save ``net`` as a safetensors model file (atomically); ``training`` goes in the
    metadata, for people to read (it is not covered by the digest)."""
    uncovered = {"training": json.dumps(training or {})}
    atomic_write_bytes(path, _file_bytes(FORMAT, net, {}, {}, uncovered))


def save_model(
    model: Model, path: str | os.PathLike[str], training: dict[str, Any] | None = None
) -> None:
    """Save a :class:`~deltanet.model.Model`: the network, its class labels, picture
    shape and standardization, all covered by the digest (atomically)."""
    extra = {}
    if model.standardizer is not None:
        extra = dict(
            zip(INPUT_TENSORS, (model.standardizer.mean, model.standardizer.scale), strict=True)
        )
    covered = {"model": model.metadata()}
    uncovered = {"training": json.dumps(training or {})}
    atomic_write_bytes(path, _file_bytes(FORMAT, model.net, extra, covered, uncovered))


def save_checkpoint(
    path: str | os.PathLike[str],
    net: MLP,
    arrays: Mapping[str, np.ndarray],
    state: dict[str, Any],
) -> None:
    """Write a checkpoint: the network, extra named arrays (optimizer state, best
    parameters) and a JSON-able ``state`` (epoch, RNG state, history, ...)."""
    extra = {f"state.{key}": value for key, value in arrays.items()}
    atomic_write_bytes(path, _file_bytes(CHECKPOINT_FORMAT, net, extra, {"state": state}, {}))


# ---------------------------------------------------------------------- reading


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a safetensors file, its header checked first."""
    with open_regular(path, ModelFileError) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            raise ModelFileError(f"{path}: too short to be a safetensors file ({size} bytes)")
        header_len = int.from_bytes(fh.read(8), "little")
        if header_len > min(size - 8, MAX_HEADER_BYTES):
            raise ModelFileError(
                f"{path}: not a safetensors file, or truncated (bad header length)"
            )
        entries, metadata = _header(path, fh.read(header_len))
        data_len = max((e["data_offsets"][1] for e in entries.values()), default=0)
        if 8 + header_len + data_len != size:
            raise ModelFileError(
                f"{path}: not a valid safetensors file (its tensors take {data_len:,} bytes, "
                f"the file holds {size - 8 - header_len:,} after the header)"
            )
        check_memory(size, f"{path}", ModelFileError)
        fh.seek(0)
        data = fh.read()
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a valid safetensors file ({exc})") from None
    return tensors, metadata


def _header(path: str | os.PathLike[str], raw: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON header, checked: ``(tensor entries with integer byte ranges, metadata
    made of text)``."""
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("the metadata is not text")
        for name, entry in header.items():
            start, stop = entry["data_offsets"]
            if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop):
                raise ValueError(f"tensor {name} has bad byte offsets")
    except (ValueError, UnicodeDecodeError, RecursionError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a valid safetensors file ({exc})") from None
    return header, metadata


def _json(path: str | os.PathLike[str], metadata: dict[str, str], key: str) -> Any:
    try:
        return json.loads(metadata[key])
    except (KeyError, ValueError, RecursionError):
        raise ModelFileError(f"{path}: the {key} metadata is missing or unreadable") from None


def _covered(
    path: str | os.PathLike[str],
    tensors: dict[str, np.ndarray],
    metadata: dict[str, str],
    expected_format: str,
    keys: tuple[str, ...],
) -> dict[str, Any]:
    """The digest-covered metadata, once the format, version and digest are checked."""
    fmt = metadata.get("format")
    if fmt != expected_format:
        if fmt == CHECKPOINT_FORMAT:
            raise ModelFileError(
                f"{path}: a training checkpoint, not a model file; its run directory's "
                "model.safetensors holds the model"
            )
        raise ModelFileError(f"{path}: not a {expected_format} file (format is {fmt!r})")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path}: format version {version!r}; this deltanet reads version {FORMAT_VERSION}"
        )
    covered = {key: _json(path, metadata, key) for key in keys}
    if "sha256" not in metadata:
        raise ModelFileError(
            f"{path}: the file has no SHA-256 digest, so its contents cannot be checked"
        )
    if metadata["sha256"] != digest(covered, tensors):
        raise ModelFileError(
            f"{path}: the contents do not match their SHA-256 digest "
            "(the file was modified or damaged)"
        )
    return covered


def _network(path: str | os.PathLike[str], arch: Any, tensors: dict[str, np.ndarray]) -> MLP:
    """The network ``arch`` describes, holding ``tensors``, every one checked."""
    layers = arch.get("layers") if isinstance(arch, dict) else None
    # the widths must match the tensors before anything is allocated from them
    if (
        not isinstance(layers, list)
        or len(layers) < 2
        or not all(isinstance(d, int) and d > 0 for d in layers)
    ):
        raise ModelFileError(f"{path}: the architecture's layers are invalid: {layers!r}")
    for i in range(1, len(layers)):
        t = tensors.get(f"W{i}")
        if t is None or t.shape != (layers[i - 1], layers[i]):
            raise ModelFileError(
                f"{path}: tensor W{i} has shape {None if t is None else t.shape}, the "
                f"architecture {'-'.join(map(str, layers))} needs {(layers[i - 1], layers[i])}"
            )
    try:
        net = MLP.from_config(arch)
    except UserError as exc:  # the settings' own checks; anything else is a bug of ours
        raise ModelFileError(f"{path}: the architecture metadata is invalid: {exc}") from None
    extra = set(tensors) - {b.name for b in net.layout}
    if extra:
        raise ModelFileError(f"{path}: unexpected tensors {sorted(extra)}")
    for block in net.layout:
        t = tensors.get(block.name)
        if t is None:
            raise ModelFileError(f"{path}: tensor {block.name} is missing")
        if t.shape != block.shape:
            raise ModelFileError(
                f"{path}: tensor {block.name} has shape {t.shape}, the architecture "
                f"{'-'.join(map(str, net.layers))} needs {block.shape}"
            )
        if t.dtype != net.dtype:
            raise ModelFileError(
                f"{path}: tensor {block.name} is {t.dtype}, the metadata says {net.dtype}"
            )
        block.view(net.params)[...] = t
    if not np.isfinite(net.params).all():
        raise ModelFileError(f"{path}: the parameters contain NaN or infinite values")
    return net


def load(path: str | os.PathLike[str]) -> MLP:
    """Load the network of a model file written by :func:`save` or :func:`save_model`,
    validating the whole file (a model's standardization is not applied: see
    :func:`load_model`).

    Raises:
        ModelFileError (a ``ValueError``) saying which file and what is wrong.
    """
    return load_model(path).net


def load_model(path: str | os.PathLike[str]) -> Model:
    """Load a model file as a :class:`~deltanet.model.Model`, validating it completely.

    A file written by :func:`save` gives a model without class labels, picture shape or
    standardization.
    """
    return read_model(path)[0]


def read_model(path: str | os.PathLike[str]) -> tuple[Model, dict[str, Any]]:
    """:func:`load_model`, and the ``training`` metadata: the settings and metrics the
    model was trained with (``{}`` where the file has none).  That part is not covered by
    the digest: it is for people to read, not to be trusted."""
    tensors, metadata = _read(path)
    try:
        training = json.loads(metadata.get("training", "{}"))
    except (ValueError, RecursionError):
        training = None
    return _model(path, tensors, metadata), training if isinstance(training, dict) else {}


def _model(
    path: str | os.PathLike[str], tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> Model:
    keys = ("architecture", "model") if "model" in metadata else ("architecture",)
    covered = _covered(path, tensors, metadata, FORMAT, keys)
    inputs = {k: tensors.pop(k) for k in INPUT_TENSORS if k in tensors}
    net = _network(path, covered["architecture"], tensors)
    about = covered.get("model", {})
    try:
        if not isinstance(about, dict) or bool(about.get("standardized")) != bool(inputs):
            raise ValueError("its model metadata and input tensors disagree")
        standardizer = Standardizer(*(inputs[k] for k in INPUT_TENSORS)) if inputs else None
        return Model(
            net,
            about.get("classes"),
            standardizer,
            about.get("input_shape"),
            about.get("feature_names"),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: the model metadata is invalid: {exc}") from None


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[MLP, dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(net, arrays, state)``."""
    tensors, metadata = _read(path)
    covered = _covered(path, tensors, metadata, CHECKPOINT_FORMAT, ("architecture", "state"))
    arrays = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    blocks = {k: v for k, v in tensors.items() if not k.startswith("state.")}
    net = _network(path, covered["architecture"], blocks)
    if not isinstance(covered["state"], dict):
        raise ModelFileError(f"{path}: the checkpoint state is not a JSON object")
    return net, arrays, covered["state"]
