"""Load on ``deltanet serve`` over loopback: latency percentiles and requests per second.

    python benchmarks/serve_load.py [MODEL] [--requests 2000] [--clients 16] [--markdown FILE]

The server is the real command in a process of its own (``deltanet serve MODEL --port 0
--quiet``, on 127.0.0.1); the clients are threads of this process, each with its own
keep-alive connection (httpx2), so client and server share the machine's 2 cores as
they would on a laptop.  The requests are what the page sends: PNG drawings (280×280,
dark ink on white, as the canvas makes them) of MNIST test digits, three in four, and
JSON rows of 784 numbers, one in four.  Every answer is checked against the model run
in this process: status 200, the same label, the same top probability.  Without MODEL,
the default 784-300-10 sigmoid network is trained first (3 epochs on 20,000 images).

The run is bounded in count and in time: it sends the requests it was asked for, and
gives up (counting the rest as errors) after ``--deadline`` seconds.  The test suite
runs the same load (tests/test_cli_serve.py) and asserts zero errors.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Server:
    """A running ``deltanet serve``: its URL, what it printed first, and its log file."""

    url: str
    lines: list[str]
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(
    model: str | os.PathLike[str], *args: str, timeout: float = 60, **popen: Any
) -> Iterator[Server]:
    """``deltanet serve MODEL --port 0 ARGS`` in its own process, until the block ends;
    ``popen``: more arguments for ``subprocess.Popen``."""
    log = Path(tempfile.mkstemp(prefix="deltanet-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "deltanet.cli", "serve", str(model), "--port", "0", *args]
    with open(log, "wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, **popen)
    try:
        lines = _first_lines(process, 3, timeout, log)
        url = re.search(r"http://\S+/", lines[0]).group(0)
        _wait_healthy(url, timeout)
        yield Server(url, lines, log, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_lines(process: subprocess.Popen, n: int, timeout: float, log: Path) -> list[str]:
    """The first ``n`` lines the server prints, read by a thread so a silent server
    cannot hang the caller past ``timeout``."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    )
    reader.start()
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        try:
            got.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n"))
        except queue.Empty:
            status = process.poll()
            raise RuntimeError(
                f"deltanet serve printed {got} in {timeout} s (exit status {status}): "
                f"{log.read_text(errors='replace')}"
            ) from None
    return got


def _wait_healthy(url: str, timeout: float) -> None:
    import httpx2

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(url + "healthz", timeout=5).status_code == 200:
                return
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@dataclass(frozen=True)
class Request:
    """One request of the load, and the answer it must get."""

    body: bytes
    content_type: str
    label: int
    top: float  # the largest probability, as the model gives it in this process


def digit_requests(model_path: str | os.PathLike[str], n: int = 200) -> list[Request]:
    """``n`` requests made of MNIST test digits: PNG drawings and, one in four, JSON rows."""
    from PIL import Image

    import deltanet as dn
    from deltanet.modelfile import read_model
    from deltanet.predictor import Predictor

    predictor = Predictor(*read_model(model_path))
    digits = dn.datasets.load_mnist().X_test[:n]
    out = []
    for i, x in enumerate(digits):
        if i % 4 == 3:
            body, kind = json.dumps(x.tolist()).encode(), "application/json"
            answer = predictor.row(body)
        else:
            big = np.kron(x.reshape(28, 28), np.ones((10, 10)))  # 280×280, as the canvas
            buf = io.BytesIO()
            Image.fromarray((255 * (1 - big)).astype(np.uint8)).save(buf, format="PNG")
            body, kind = buf.getvalue(), "image/png"
            answer = predictor.picture(body)
        out.append(Request(body, kind, int(answer.labels[0]), float(answer.values[0])))
    return out


@dataclass
class Load:
    """What a load run measured: latencies of the right answers, and every error."""

    requests: int
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        """Milliseconds."""
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "clients": self.clients,
            "errors": len(self.errors),
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(len(self.latencies) / self.seconds, 1),
            **{f"p{q}_ms": round(self.percentile(q), 1) for q in (50, 90, 99)},
            "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 1),
        }

    def markdown(self) -> str:
        s = self.summary()
        return (
            "| requests | clients | errors | requests/s | p50 | p90 | p99 | max |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {s['requests']:,} | {s['clients']} | {s['errors']} | "
            f"{s['requests_per_second']:.0f} | {s['p50_ms']:.1f} ms | {s['p90_ms']:.1f} ms | "
            f"{s['p99_ms']:.1f} ms | {s['max_ms']:.1f} ms |"
        )


def load(
    url: str, requests: list[Request], total: int, clients: int, deadline: float = 300
) -> Load:
    """``total`` POSTs to ``url``/api/predict from ``clients`` threads, cycling through
    ``requests``; stops by itself after ``deadline`` seconds."""
    result = Load(total, clients)
    lock = threading.Lock()
    taken = iter(range(total))
    stop = time.monotonic() + deadline

    def client() -> None:
        import httpx2

        with httpx2.Client(base_url=url, timeout=30) as http:
            while True:
                with lock:
                    i = next(taken, None)
                if i is None:
                    return
                if time.monotonic() > stop:
                    with lock:
                        result.errors.append(f"request {i}: not sent, out of time")
                    continue
                outcome = _one(http, requests[i % len(requests)])
                with lock:
                    if isinstance(outcome, float):
                        result.latencies.append(outcome)
                    else:
                        result.errors.append(f"request {i}: {outcome}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    return result


def _one(http, request: Request) -> float | str:
    """The seconds a right answer took, or what was wrong."""
    import httpx2

    t0 = time.perf_counter()
    try:
        response = http.post(
            "/api/predict", content=request.body, headers={"Content-Type": request.content_type}
        )
    except httpx2.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - t0
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    answer = response.json()
    top = answer["classes"][0]["probability"]
    if answer["label"] != request.label or abs(top - request.top) > 1e-6:
        return f"answered {answer['label']} ({top}), expected {request.label} ({request.top})"
    return seconds


def in_process(model_path: str | os.PathLike[str], requests: list[Request]) -> dict[str, float]:
    """Median milliseconds from bytes to answer without the server, per kind of request:
    what the server's own work costs, beside what a request waits for."""
    from deltanet.modelfile import read_model
    from deltanet.predictor import Predictor

    predictor = Predictor(*read_model(model_path))
    times: dict[str, list[float]] = {"image/png": [], "application/json": []}
    for _ in range(5):
        for r in requests:
            task = predictor.picture if r.content_type == "image/png" else predictor.row
            t0 = time.perf_counter()
            task(r.body)
            times[r.content_type].append(time.perf_counter() - t0)
    return {kind: round(1000 * float(np.median(t)), 2) for kind, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help="a model file (default: train one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--deadline", type=float, default=300)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    model = args.model or _train()
    requests = digit_requests(model)
    with serving(model, "--quiet") as server:
        result = load(server.url, requests, args.requests, args.clients, args.deadline)
        if "Traceback" in server.log_text():
            print(server.log_text(), file=sys.stderr)
    print(json.dumps(result.summary(), indent=2))
    print("in this process, median ms from bytes to answer:", in_process(model, requests))
    print(result.markdown())
    for error in result.errors[:10]:
        print(error, file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(result.markdown() + "\n")


def _train() -> str:
    from deltanet.cli import main as deltanet

    out = Path(tempfile.mkdtemp(prefix="serve-load-")) / "run"
    argv = ["train", "--epochs", "3", "--val-size", "40000", "--out", str(out), "--quiet"]
    if deltanet(argv) != 0:
        raise SystemExit("training the model failed")
    return str(out / "model.safetensors")


if __name__ == "__main__":
    main()
