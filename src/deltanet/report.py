"""``deltanet report RUN_DIR``: every picture of a run, and one self-contained HTML page.

The page embeds its images as ``data:`` URIs and uses no script, font or stylesheet
from elsewhere, so it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from deltanet import plots, sources
from deltanet.gradcheck import GradCheckReport
from deltanet.metrics import PER_CLASS_HEAD, confusion_matrix, per_class_rows, percent
from deltanet.model import Model
from deltanet.modelfile import load_model
from deltanet.rundir import RunDir
from deltanet.sources import Dataset
from deltanet.sources.settings import rows_for

TITLES = dict(
    zip(
        RunDir.PICTURES,
        (
            "Learning curves",
            "Confusion matrix",
            "First-layer weights",
            "Most confident mistakes",
            "Gradient check of the trained network",
        ),
        strict=True,
    )
)


def draw_run(
    run: RunDir, model: Model | None = None, data: Dataset | None = None, **settings: Any
) -> list[Path]:
    """Draw every picture of ``run`` (opened, so locked) and write ``report.html``; return
    the paths.  ``model`` and ``data`` default to the run's model and data; ``settings``
    change where the data is read from (``data=``, ``test=``, ...)."""
    if model is None:
        model = load_model(run.model_path)
    if data is None:
        data = sources.from_config(run.config().replace(**settings))
    pictures = _pictures(run, model, data)
    cm = pictures.pop("cm")
    report = pictures.pop("report")
    written = [run.write(name, picture) for name, picture in pictures.items()]
    page = render_html(run.path, model, run.info(), run.metrics(), cm, pictures, report)
    written.append(run.write(RunDir.REPORT, page.encode()))
    return written


def _side(model: Model, data: Dataset) -> int | None:
    """The side of the square grey pictures the inputs are, or None (not pictures)."""
    shape = model.input_shape
    if shape is not None:
        return shape[0] if len(shape) == 2 and shape[0] == shape[1] else None
    side = math.isqrt(model.n_features)
    return side if data.kind == "idx" and side * side == model.n_features else None


def _pictures(run: RunDir, model: Model, data: Dataset) -> dict[str, Any]:
    """Each picture's PNG bytes by file name; also the confusion matrix ("cm") and the
    gradient check ("report") they show."""
    out: dict[str, Any] = {}
    net = model.net
    history = run.history()
    if history is not None and len(history):
        out["learning_curves.png"] = plots.figure_bytes(plots.learning_curves(history))
    X_test, y_test = rows_for(model, data)
    proba = model.predict_proba(X_test)
    cm = confusion_matrix(y_test, proba.argmax(axis=1), net.layers[-1])
    out["confusion.png"] = plots.figure_bytes(plots.confusion(cm))
    side = _side(model, data)
    if side is not None:
        out["weights.png"] = plots.figure_bytes(plots.first_layer(net.W[0], side=side))
        out["mistakes.png"] = plots.figure_bytes(plots.mistakes(X_test, y_test, proba, side=side))
    X, y = rows_for(model, data, "train")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(X), size=min(20, len(X)), replace=False)
    report = net.gradcheck(model.prepare(X[pick]), y[pick], max_coords=200)
    rows = "images" if data.kind in ("idx", "pictures") else "rows"
    title = f"Gradient check of the trained network ({len(pick)} training {rows})"
    out["gradcheck.png"] = plots.figure_bytes(plots.gradcheck(report, title))
    return {**out, "cm": cm, "report": report}


def _img(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(TITLES.get(name, name))}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


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
    model: Model,
    info: dict[str, Any],
    metrics: dict[str, Any],
    cm: np.ndarray,
    pictures: dict[str, bytes],
    report: GradCheckReport,
) -> str:
    """The report page: ``info`` is config.json, ``pictures`` PNG bytes by file name."""
    train = info.get("train", {})
    config_rows = [("network", repr(model)), ("optimizer", str(info.get("optimizer", "–")))]
    config_rows += [(k, str(v)) for k, v in train.items() if k not in ("layers",)]
    data = info.get("data", {})
    if data:
        config_rows.append(("data", ", ".join(f"{k}: {v}" for k, v in data.items())))
    metric_rows = [
        ("train error", percent(metrics.get("train_error"))),
        ("validation error", percent(metrics.get("val_error"))),
        ("test error", percent(metrics.get("test_error"))),
        ("epochs", str(metrics.get("epochs", "–"))),
        ("best validation epoch", str(metrics.get("best_epoch") or "–")),
        (
            "seconds per epoch (median)",
            f"{metrics['seconds_per_epoch']:.2f}" if metrics.get("seconds_per_epoch") else "–",
        ),
    ]
    head = "".join(f"<th class=num>{h}</th>" for h in PER_CLASS_HEAD)
    per_class = "".join(
        "<tr>" + "".join(f"<td class=num>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in per_class_rows(cm, model.classes)
    )
    sections = "".join(
        f"<h2>{html.escape(TITLES.get(name, name))}</h2>{_img(name, png)}"
        for name, png in pictures.items()
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
<table><tr>{head}</tr>{per_class}</table>
{sections}
<h2>Gradient check, as text</h2><pre>{gc}</pre>
</body></html>
"""
