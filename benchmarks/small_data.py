"""How many epochs a default run needs on small data, chosen on validation.

scikit-learn's digits (1,797 8×8 pictures, no download) are written as a CSV and as a
folder of PNGs, read back by ``deltanet.sources`` exactly as ``deltanet train --data``
reads them, and trained with the default settings fitted to the data (64-300-10, a
fifth of each class held out for testing, a sixth of the rest validating) for several
epoch counts, three seeds each.  The epochs are chosen on the validation error; the
test error is printed for information only.  Writes a Markdown table to stdout.

    python benchmarks/small_data.py [EPOCHS ...]   # default: 30 60 125 300
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits

import deltanet as dn
from deltanet import sources
from deltanet.sources import settings

SEEDS = (0, 1, 2)


def write(folder: Path) -> dict[str, Path]:
    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"pixel{i}" for i in range(64)])
    frame["digit"] = d.target
    frame.to_csv(folder / "digits.csv", index=False)
    for i, (image, label) in enumerate(zip(d.images, d.target, strict=True)):
        where = folder / "pictures" / str(label)
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image * 255 / 16).astype(np.uint8)).save(where / f"{i}.png")
    return {"CSV": folder / "digits.csv", "PNG folder": folder / "pictures"}


def run(path: Path, epochs: int, seed: int) -> tuple[float, float, int]:
    """Validation and test error of a default run with ``epochs``; the updates made."""
    data = sources.load_data(path, seed=seed)
    config = settings.fit_config(dn.TrainConfig(seed=seed, epochs=epochs), data, {"epochs"})
    scaler = settings.standardizer(config, data)
    prep = (lambda X: X) if scaler is None else (lambda X: scaler.transform(X, "float32"))
    net, history = dn.train(config, prep(data.X_train), data.y_train)
    steps = epochs * -(-(len(data.X_train) - config.val_size) // config.batch_size)
    return history.records[-1]["val_error"], net.error_rate(prep(data.X_test), data.y_test), steps


def main(epoch_counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write(Path(tmp))
        print("| data | epochs | updates | validation error | test error | seconds per run |")
        print("|---|---|---|---|---|---|")
        for name, path in paths.items():
            for epochs in epoch_counts:
                t0 = time.perf_counter()
                val, test, steps = zip(*(run(path, epochs, s) for s in SEEDS), strict=True)
                secs = (time.perf_counter() - t0) / len(SEEDS)
                print(
                    f"| {name} | {epochs} | {steps[0]:,} | {100 * np.mean(val):.2f}% ± "
                    f"{100 * np.std(val):.2f} | {100 * np.mean(test):.2f}% ± "
                    f"{100 * np.std(test):.2f} | {secs:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [30, 60, 125, 300])
