"""A folder of pictures, one sub-folder per class: torchvision's ``ImageFolder`` and
Keras's ``image_dataset_from_directory`` convention.

::

    DIR/<class>/*.png|jpg|...                  split into training and test rows
    DIR/train/<class>/...  DIR/test/<class>/...  a test set of its own

The class of a picture is its folder's name; classes are sorted by name.  Each picture
is read by Pillow (upright as its EXIF orientation says, 16-bit grey kept, a pixel
count checked before decoding), made grey or RGB (``channels``; default: grey when
every picture is) and resized to ``image_size`` (default: the size most pictures
have).  Pixels are scaled to [0, 1].  Hidden files and folders are skipped, and so are
files that are not pictures by their suffix; a picture Pillow cannot read is an error
naming it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deltanet.errors import DataError
from deltanet.images import picture_info, read_picture
from deltanet.limits import check_memory
from deltanet.sources.dataset import Dataset, class_labels
from deltanet.sources.split import shuffled, stratified_split

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SPLITS = ("train", "test")
SHOW_PROGRESS = 1000  # pictures: fewer are read before a bar would draw


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _pictures(folder: Path) -> list[Path]:
    return [p for p in _visible(folder) if p.is_file() and p.suffix.lower() in SUFFIXES]


def _classes(root: Path) -> dict[str, list[Path]]:
    """``{class name: its pictures}`` of the class folders in ``root``."""
    folders = [p for p in _visible(root) if p.is_dir()]
    if not folders:
        loose = "pictures lie directly in it; " if _pictures(root) else ""
        raise DataError(
            f"{root}: no class folders ({loose}put each class's pictures in {root}/<class>/)"
        )
    found = {p.name: _pictures(p) for p in folders}
    if not any(found.values()):
        raise DataError(f"{root}: no pictures ({', '.join(SUFFIXES)}) in its class folders")
    empty = [name for name, files in found.items() if not files]
    if empty:
        raise DataError(f"{root}/{empty[0]}: no pictures ({', '.join(SUFFIXES)})")
    return found


def layout(root: Path) -> dict[str, dict[str, list[Path]]]:
    """``{"train": {class: pictures}, "test": ...}``: ``test`` only when ``root`` has
    ``train/`` and ``test/`` folders."""
    if all((root / split).is_dir() for split in SPLITS):
        found = {split: _classes(root / split) for split in SPLITS}
        unknown = sorted(set(found["test"]) - set(found["train"]))
        if unknown:
            raise DataError(f"{root}/test/{unknown[0]}: a class with no training pictures")
        return found
    return {"train": _classes(root)}


def _shape(files: list[Path], channels: int | None, size: tuple[int, int] | None) -> tuple:
    """``(height, width, channels)`` the pictures become: what was asked, else the
    commonest size, and grey if every picture is."""
    sizes, grey = Counter(), True
    for path in files:
        h, w, is_grey = picture_info(path)
        sizes[h, w] += 1
        grey = grey and is_grey
    if size is None:
        size = sizes.most_common(1)[0][0]
    return size[0], size[1], channels or (1 if grey else 3)


def _read(files: list[Path], shape: tuple[int, int, int]) -> np.ndarray:
    """``(N, H·W·C)`` float32 in [0, 1]."""
    h, w, c = shape
    check_memory(len(files) * h * w * c * 4, f"{len(files):,} pictures of {w}×{h}", DataError)
    X = np.empty((len(files), h * w * c), np.float32)
    bar = tqdm(
        files,
        desc="reading pictures",
        unit=" pictures",
        leave=False,
        disable=None if len(files) >= SHOW_PROGRESS else True,
    )
    for i, path in enumerate(bar):
        X[i] = read_picture(path, c, (h, w)).ravel()
    return X


def load_pictures(
    path: str,
    *,
    channels: int | None,
    image_size: tuple[int, int] | None,
    test_size: float,
    rng: np.random.Generator,
) -> Dataset:
    """A folder of pictures as a :class:`Dataset`."""
    root = Path(path)
    found = layout(root)
    classes = class_labels(np.array(sorted(found["train"])), str(root))
    index = {name: k for k, name in enumerate(classes)}
    files = {s: [p for c in classes for p in found[s].get(c, [])] for s in found}
    units = {
        s: np.array([index[c] for c in classes for _ in found[s].get(c, [])], np.int64)
        for s in found
    }
    shape = _shape([p for s in found for p in files[s]], channels, image_size)
    X = {s: _read(files[s], shape) for s in found}
    if "test" in found:
        train = shuffled(len(X["train"]), rng)
        X_test, y_test = X["test"], units["test"]
    else:
        train, held = stratified_split(units["train"], test_size, rng, str(root))
        X_test, y_test = X["train"][held], units["train"][held]
    input_shape = shape[:2] if shape[2] == 1 else shape
    return Dataset(
        X["train"][train],
        units["train"][train],
        X_test,
        y_test,
        classes,
        None,
        input_shape,
        "pictures",
        str(root),
    )
