"""``deltanet report RUN_DIR``: every picture of a run, and one self-contained HTML page.

The page embeds its images as ``data:`` URIs and uses no script, font or stylesheet
from elsewhere, so it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from deltanet import plots
from deltanet.datasets import MNIST, load_mnist
from deltanet.io import atomic_write_text, load
from deltanet.metrics import confusion_matrix, per_class_accuracy
from deltanet.network import MLP
from deltanet.training import History

PICTURES = {
    "learning_curves.png": "Learning curves",
    "confusion.png": "Confusion matrix",
    "weights.png": "First-layer weights",
    "mistakes.png": "Most confident mistakes",
    "gradcheck.png": "Gradient check of the trained network",
}


def _history(run_dir: Path, metrics: dict[str, Any]) -> History | None:
    path = run_dir / "history.csv"
    if not path.is_file():
        return None
    return History.from_csv(path.read_text(), metrics.get("best_epoch"))


def draw_run(
    run_dir: str | os.PathLike[str],
    net: MLP | None = None,
    data: MNIST | None = None,
    data_dir: str | None = None,
) -> list[Path]:
    """Draw every picture of the run in ``run_dir`` and write ``report.html``; return the paths."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: not a run directory")
    if net is None:
        net = load(run_dir / "model.safetensors")
    metrics = _read_json(run_dir / "metrics.json")
    config = _read_json(run_dir / "config.json")
    if data is None:
        data = load_mnist(
            data_dir if data_dir is not None else config.get("train", {}).get("data_dir")
        )
    written: list[Path] = []
    history = _history(run_dir, metrics)
    if history is not None and len(history):
        written.append(
            plots.save_figure(plots.learning_curves(history), run_dir / "learning_curves.png")
        )
    proba = net.predict_proba(data.X_test)
    k = net.layers[-1]
    cm = confusion_matrix(data.y_test, proba.argmax(axis=1), k)
    written.append(plots.save_figure(plots.confusion(cm), run_dir / "confusion.png"))
    side = math.isqrt(net.layers[0])
    if side * side == net.layers[0]:
        written.append(
            plots.save_figure(plots.first_layer(net.W[0], side=side), run_dir / "weights.png")
        )
        written.append(
            plots.save_figure(
                plots.mistakes(data.X_test, data.y_test, proba, side=side), run_dir / "mistakes.png"
            )
        )
    rng = np.random.default_rng(0)
    pick = rng.choice(len(data.X_train), size=20, replace=False)
    report = net.gradcheck(data.X_train[pick], data.y_train[pick], max_coords=200)
    written.append(
        plots.save_figure(
            plots.gradcheck(report, "Gradient check of the trained network (20 training images)"),
            run_dir / "gradcheck.png",
        )
    )
    html_path = run_dir / "report.html"
    atomic_write_text(html_path, render_html(run_dir, net, config, metrics, cm, written, report))
    written.append(html_path)
    return written


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(PICTURES.get(path.name, path.name))}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f}%"


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 0.25em 0.9em; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
.metrics td { font-size: 1.2em; font-weight: 600; }
"""


def render_html(
    run_dir: Path,
    net: MLP,
    config: dict[str, Any],
    metrics: dict[str, Any],
    cm: np.ndarray,
    images: list[Path],
    report: Any,
) -> str:
    train = config.get("train", {})
    config_rows = [("network", repr(net)), ("optimizer", str(config.get("optimizer", "–")))]
    config_rows += [(k, str(v)) for k, v in train.items() if k not in ("layers",)]
    data = config.get("data", {})
    if data:
        config_rows.append(("data", ", ".join(f"{k}: {v}" for k, v in data.items())))
    metric_rows = [
        ("train error", _pct(metrics.get("train_error"))),
        ("validation error", _pct(metrics.get("val_error"))),
        ("test error", _pct(metrics.get("test_error"))),
        ("epochs", str(metrics.get("epochs", "–"))),
        ("best validation epoch", str(metrics.get("best_epoch") or "–")),
        (
            "seconds per epoch (median)",
            f"{metrics['seconds_per_epoch']:.2f}" if metrics.get("seconds_per_epoch") else "–",
        ),
    ]
    acc = per_class_accuracy(cm)
    per_class = "".join(
        f"<tr><td class=num>{k}</td><td class=num>{cm[k].sum():,}</td>"
        f"<td class=num>{cm[k, k]:,}</td><td class=num>{_pct(acc[k]) if np.isfinite(acc[k]) else '–'}</td></tr>"
        for k in range(len(cm))
    )
    sections = "".join(
        f"<h2>{html.escape(PICTURES.get(p.name, p.name))}</h2>{_img(p)}"
        for p in images
        if p.suffix == ".png"
    )
    gc = html.escape(str(report))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>deltanet run {html.escape(run_dir.name)}</title><style>{CSS}</style></head>
<body>
<h1>deltanet run <code>{html.escape(run_dir.name)}</code></h1>
<h2>Final metrics</h2>{_table(metric_rows).replace("<table>", '<table class="metrics">')}
<h2>Configuration</h2>{_table(config_rows)}
<h2>Per-class accuracy (test set)</h2>
<table><tr><th class=num>class</th><th class=num>images</th><th class=num>correct</th>
<th class=num>accuracy</th></tr>{per_class}</table>
{sections}
<h2>Gradient check, as text</h2><pre>{gc}</pre>
</body></html>
"""
