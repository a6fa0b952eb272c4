"""The sweep in docs/sweep.md: trials of the default search space on MNIST, several
worker processes against one PostgreSQL study on this machine.

    python benchmarks/sweep_mnist.py [--trials 40] [--epochs 5] [--workers 2]
                                     [--train-images 20000] [--val-size 5000]

The trials train on the first ``--train-images`` of MNIST's training images less the
last ``--val-size`` of those, which validate (``--data`` and a one-line ``--space``
file); the 10,000 test images are all kept for the final number.  It starts a throwaway PostgreSQL server (the one the tests start: tests/pgserver.py),
runs ``deltanet sweep`` in ``--workers`` processes with one BLAS thread each, times the
whole sweep, copies the plots into docs/, prints the best trial's flags
(``deltanet sweep --best``) and then, once, the chosen trial's test error
(``deltanet evaluate``): the only time the test set is looked at.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import mnist_subset  # noqa: E402
from pgserver import Server, find_bin  # noqa: E402


def deltanet(*args: str) -> list[str]:
    return [sys.executable, "-m", "deltanet.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=20_000)
    parser.add_argument("--val-size", type=int, default=5_000)
    parser.add_argument("--study", default="mnist")
    parser.add_argument("--out", type=Path, default=Path("runs/docs-sweep"))
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    bindir = find_bin()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries: apt-get install postgresql")
    server = Server(bindir)
    try:
        url = server.create_database("sweeps")
        args.out.mkdir(parents=True, exist_ok=True)
        data = mnist_subset(args.out / "data", args.train_images, 10_000)
        space = args.out / "space.toml"
        space.write_text(f"val_size = {args.val_size}\n")
        sweep = ["sweep", "--study", args.study, "--trials", str(args.trials)]
        sweep += ["--epochs", str(args.epochs), "--storage", url, "--out", str(args.out)]
        sweep += ["--data", str(data), "--space", str(space), "--threads", "1", "--quiet"]
        t0 = time.perf_counter()
        workers = []
        for i in range(args.workers):
            log = open(args.out / f"worker-{i + 1}.log", "w")
            workers.append((subprocess.Popen(deltanet(*sweep), stdout=log, stderr=log), log))
        codes = [p.wait() for p, _ in workers]
        wall = time.perf_counter() - t0
        for _, log in workers:
            log.close()
        print((args.out / "worker-1.log").read_text())
        print(f"{args.workers} workers, exit codes {codes}: {wall:.0f} s wall time")
        for name in ("optimization_history", "param_importances", "parallel_coordinate"):
            shutil.copy(args.out / f"{name}.png", args.docs / f"sweep-{name}.png")
        best = subprocess.run(
            deltanet("sweep", "--best", args.study, "--storage", url),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(best)
        run_dir = next(
            line.split(": ", 1)[1] for line in best.splitlines() if line.startswith("run dir")
        )
        subprocess.run(deltanet("evaluate", run_dir), check=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
