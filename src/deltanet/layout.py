"""Named blocks over one flat parameter vector.

A :class:`Layout` says which consecutive slice of a flat vector ``w`` is which
named array: for an MLP ``W1 (D_0, D_1)``, ``b1 (D_1,)``, ``W2 (D_1, D_2)``, ...
in C order.  The network uses it for its views, the gradient checker to say
``W1[17, 3]`` instead of ``index 13331``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from math import prod

import numpy as np


@dataclass(frozen=True)
class Block:
    """One named array inside a flat vector: ``w[offset : offset + size].reshape(shape)``."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def stop(self) -> int:
        return self.offset + self.size

    def view(self, flat: np.ndarray) -> np.ndarray:
        """The block as an array that shares memory with ``flat``."""
        return flat[self.offset : self.stop].reshape(self.shape)

    def label(self, local_index: int) -> str:
        """``"W1[17, 3]"`` for the flat index ``local_index`` within this block."""
        if len(self.shape) <= 1:
            return f"{self.name}[{local_index}]"
        idx = np.unravel_index(local_index, self.shape)
        return f"{self.name}[{', '.join(str(int(i)) for i in idx)}]"


class Layout:
    """An ordered set of :class:`Block` s tiling ``[0, size)`` without gaps."""

    def __init__(self, shapes: Mapping[str, Sequence[int] | int]):
        blocks = []
        offset = 0
        for name, shape in shapes.items():
            shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(map(int, shape))
            if any(s < 0 for s in shape):
                raise ValueError(f"block {name!r} has a negative dimension: {shape}")
            blocks.append(Block(str(name), shape, offset))
            offset += prod(shape)
        self.blocks: tuple[Block, ...] = tuple(blocks)
        self.size: int = offset

    @classmethod
    def for_mlp(cls, layers: Sequence[int]) -> Layout:
        """``W1 (layers[0], layers[1])``, ``b1 (layers[1],)``, ``W2``, ``b2``, ..."""
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(layers), 1):
            shapes[f"W{i}"] = (fan_in, fan_out)
            shapes[f"b{i}"] = (fan_out,)
        return cls(shapes)

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Every block of ``flat`` by name, as views sharing its memory."""
        if flat.shape != (self.size,):
            raise ValueError(
                f"expected a flat vector of {self.size} values, got shape {flat.shape}"
            )
        return {b.name: b.view(flat) for b in self.blocks}

    def locate(self, index: int) -> tuple[Block, int]:
        """The block holding flat ``index`` and the index within that block."""
        for block in self.blocks:
            if block.offset <= index < block.stop:
                return block, index - block.offset
        raise IndexError(index)
