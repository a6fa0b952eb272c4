"""Model files and checkpoints: safetensors plus JSON metadata, written atomically.

A model file holds one tensor per block (``W1``, ``b1``, ...) and, as safetensors
metadata (text only), the format name and version, the architecture, the SHA-256 of
the parameters and the training configuration.  Nothing is pickled, so loading a
file from a stranger cannot run code; :func:`load` checks every name, shape, dtype and
value against the metadata before it builds a network.

Every write goes to a temporary file in the same folder, is flushed to disk, and is
then renamed over the target: a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from deltanet.network import MLP

FORMAT = "deltanet"
FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "deltanet-checkpoint"


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be trusted or understood."""


# ---------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------- model files


def params_digest(params: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def _model_tensors(net: MLP) -> dict[str, np.ndarray]:
    return {b.name: np.ascontiguousarray(b.view(net.params)) for b in net.layout}


def model_bytes(net: MLP, training: dict[str, Any] | None = None) -> bytes:
    if not np.isfinite(net.params).all():
        raise ValueError("refusing to save a network with NaN or infinite parameters")
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(net.config()),
        "params_sha256": params_digest(net.params),
        "training": json.dumps(training or {}),
    }
    return st_save(_model_tensors(net), metadata=metadata)


def save(net: MLP, path: str | os.PathLike[str], training: dict[str, Any] | None = None) -> None:
    """Save ``net`` as a safetensors model file (atomically); ``training`` goes in the metadata."""
    atomic_write_bytes(path, model_bytes(net, training))


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    if len(data) < 8:
        raise ModelFileError(f"{path}: too short to be a safetensors file ({len(data)} bytes)")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > len(data) - 8:
        raise ModelFileError(f"{path}: not a safetensors file, or truncated (bad header length)")
    try:
        header = json.loads(data[8 : 8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        tensors = st_load(data)
    except (
        SafetensorError,
        ValueError,
        UnicodeDecodeError,
        RecursionError,
        KeyError,
        TypeError,
    ) as exc:
        raise ModelFileError(f"{path}: not a valid safetensors file ({exc})") from None
    metadata = header.get("__metadata__") or {}
    return tensors, metadata


def _architecture(path: Path, metadata: dict[str, str], expected_format: str) -> dict[str, Any]:
    fmt = metadata.get("format")
    if fmt != expected_format:
        raise ModelFileError(f"{path}: not a {expected_format} file (format is {fmt!r})")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path}: format version {version!r}; this deltanet reads version {FORMAT_VERSION}"
        )
    try:
        arch = json.loads(metadata["architecture"])
        keys = {"layers", "hidden", "loss", "output", "l2", "dtype"}
        if not isinstance(arch, dict) or not keys <= set(arch):
            raise ValueError
    except (KeyError, ValueError, TypeError, RecursionError):
        raise ModelFileError(
            f"{path}: the architecture metadata is missing or unreadable"
        ) from None
    return arch


def _network(
    path: Path,
    tensors: dict[str, np.ndarray],
    metadata: dict[str, str],
    expected_format: str = FORMAT,
) -> MLP:
    arch = _architecture(path, metadata, expected_format)
    layers = arch["layers"]
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
            shape = None if t is None else t.shape
            raise ModelFileError(
                f"{path}: tensor W{i} has shape {shape}, the architecture "
                f"{'-'.join(map(str, layers))} needs {(layers[i - 1], layers[i])}"
            )
    try:
        net = MLP(
            arch["layers"],
            hidden=arch["hidden"],
            loss=arch["loss"],
            output=arch["output"],
            l2=arch["l2"],
            dtype=arch["dtype"],
            seed=None,
            dropout=arch.get("dropout", 0.0),
            input_dropout=arch.get("input_dropout", 0.0),
        )
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: the architecture metadata is invalid: {exc}") from None
    expected = {b.name for b in net.layout}
    extra = set(tensors) - expected
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
    digest = metadata.get("params_sha256")
    if digest is not None and digest != params_digest(net.params):
        raise ModelFileError(
            f"{path}: the parameters do not match their SHA-256 in the metadata "
            "(the file was modified or damaged)"
        )
    return net


def load(path: str | os.PathLike[str]) -> MLP:
    """Load a model file written by :func:`save`, validating it completely.

    Raises:
        ModelFileError (a ``ValueError``) saying which file and what is wrong.
    """
    tensors, metadata = _read(path)
    if metadata.get("format") == CHECKPOINT_FORMAT:
        return _network(Path(path), tensors, metadata, CHECKPOINT_FORMAT)
    return _network(Path(path), tensors, metadata)


def training_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The training configuration stored in a model file (``{}`` if none)."""
    _, metadata = _read(path)
    try:
        return json.loads(metadata.get("training", "{}"))
    except ValueError:
        return {}


# ---------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: str | os.PathLike[str],
    net: MLP,
    arrays: dict[str, np.ndarray],
    state: dict[str, Any],
) -> None:
    """Write a checkpoint: the network, extra named arrays (optimizer state, best
    parameters) and a JSON-able ``state`` (epoch, RNG state, history, ...)."""
    if not np.isfinite(net.params).all():
        raise ValueError("refusing to checkpoint a network with NaN or infinite parameters")
    tensors = _model_tensors(net)
    for key, value in arrays.items():
        tensors[f"state.{key}"] = np.ascontiguousarray(value)
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(net.config()),
        "params_sha256": params_digest(net.params),
        "state": json.dumps(state),
    }
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[MLP, dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(net, arrays, state)``."""
    tensors, metadata = _read(path)
    arrays = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    blocks = {k: v for k, v in tensors.items() if not k.startswith("state.")}
    net = _network(Path(path), blocks, metadata, CHECKPOINT_FORMAT)
    try:
        state = json.loads(metadata["state"])
    except (KeyError, ValueError):
        raise ModelFileError(f"{path}: the checkpoint state is missing or unreadable") from None
    return net, arrays, state
