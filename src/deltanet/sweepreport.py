"""What a sweep found: the best trials, the parameters' importances (Optuna's fANOVA),
and ``sweep.html``, a self-contained page with Optuna's matplotlib plots of the study
(optimization history, importances, parallel coordinates) as ``data:`` URIs."""

from __future__ import annotations

import html
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from deltanet.files import atomic_write_bytes
from deltanet.metrics import percent

if TYPE_CHECKING:
    from deltanet.sweep import SweepResult

REPORT = "sweep.html"
PICTURES = {
    "optimization_history.png": "Optimization history",
    "param_importances.png": "Parameter importances (fANOVA)",
    "parallel_coordinate.png": "Parallel coordinates",
}
SIZES = {"parallel_coordinate.png": (15, 6)}  # inches
TOP = 10
MIN_FOR_IMPORTANCES = 3  # complete trials before fANOVA has anything to say


def best_trials(study: optuna.Study, top: int = TOP) -> list[FrozenTrial]:
    """The ``top`` complete trials, lowest validation error first."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(complete, key=lambda t: (t.value, t.number))[:top]


def importances(study: optuna.Study) -> dict[str, float] | str:
    """Each searched parameter's share of the validation error's variance over the
    complete trials (fANOVA, seeded), or why there is none."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_FOR_IMPORTANCES:
        return f"not enough complete trials for importances ({len(complete)})"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (ValueError, RuntimeError) as exc:  # e.g. every trial drew the same values
        return f"no importances: {exc}"


def _run_dir(trial: FrozenTrial) -> str:
    path = trial.user_attrs.get("run_dir", "")
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


def _cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _rows(study: optuna.Study, top: int) -> tuple[list[str], list[list[str]]]:
    trials = best_trials(study, top)
    names = sorted({name for t in trials for name in t.params})
    head = ["trial", "val error", "epochs", *names, "run directory"]
    rows = [
        [
            str(t.number),
            percent(t.value),
            str(max(t.intermediate_values, default=0)),
            *(_cell(t.params.get(n, "-")) for n in names),
            _run_dir(t),
        ]
        for t in trials
    ]
    return head, rows


def _counts_line(name: str, url: str, counts: dict[str, int]) -> str:
    line = (
        f"study {name} in {url}: {counts['done']} trials finished "
        f"({counts['complete']} complete, {counts['pruned']} pruned)"
    )
    if counts["failed"]:
        line += f", {counts['failed']} failed (a dead or stopped worker's are retried)"
    if counts["surplus"]:
        line += f", {counts['surplus']} started beyond the count and not run"
    if counts["running"] or counts["waiting"]:
        line += f", {counts['running']} running, {counts['waiting']} waiting"
    return line


def summary(result: SweepResult, top: int = TOP) -> str:
    """The end-of-sweep text: the trials' tally, the best trials, the importances."""
    study, counts, found = result.study, result.counts, result.importances
    url = result.storage
    head, rows = _rows(study, top)
    lines = [_counts_line(study.study_name, url, counts), ""]
    if rows:
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines.append(f"best trials by validation error (of {counts['complete']} complete):")
        for r in [head, *rows]:
            lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    else:
        lines.append("no complete trial yet")
    lines.append("")
    if isinstance(found, str):
        lines.append(found)
    else:
        lines.append("parameter importances (fANOVA over the complete trials):")
        for name, share in found.items():
            lines.append(f"  {name:<12} {share:5.2f}  {'#' * round(40 * share)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the page


def pictures(study: optuna.Study) -> dict[str, bytes]:
    """Optuna's matplotlib plots of ``study`` as PNG bytes, by file name (those it can
    draw: importances need a few complete trials)."""
    from optuna.visualization import matplotlib as vis

    from deltanet import plots

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {}
    what = {"target_name": "validation error"}
    draw = {"optimization_history.png": lambda: vis.plot_optimization_history(study, **what)}
    if len(complete) >= MIN_FOR_IMPORTANCES:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        draw["param_importances.png"] = lambda: vis.plot_param_importances(
            study, evaluator=evaluator, **what
        )
    draw["parallel_coordinate.png"] = lambda: vis.plot_parallel_coordinate(study, **what)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # a parameter every trial drew the same value of has a flat axis, and says so
        warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
        for name, plot in draw.items():
            try:
                ax = plot()
            except (ValueError, RuntimeError):  # nothing it can draw from these trials
                continue
            fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            # one axis per parameter: the parallel coordinates need the width
            fig.set_size_inches(*SIZES.get(name, (10, 5.5)))
            out[name] = plots.figure_bytes(fig)
    return out


def render_html(result: SweepResult, pngs: dict[str, bytes]) -> str:
    """The page: the tally, the best trials, the importances, the plots, the space."""
    from deltanet.report import CSS, html_table, img_tag

    study, counts, found, url = result.study, result.counts, result.importances, result.storage
    head, rows = _rows(study, TOP)
    best = (
        "<table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join(
            "<tr>" + "".join(f"<td class=num>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in rows
        )
        + "</table>"
        if rows
        else "<p>No complete trial yet.</p>"
    )
    if isinstance(found, str):
        imp = f"<p>{html.escape(found)}</p>"
    else:
        imp = html_table([(k, f"{v:.3f}") for k, v in found.items()])
    space = study.user_attrs.get("deltanet.space", {})
    sections = "".join(
        f"<h2>{html.escape(PICTURES[name])}</h2>{img_tag(PICTURES[name], png)}"
        for name, png in pngs.items()
    )
    name = html.escape(study.study_name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>deltanet sweep {name}</title><style>{CSS}</style></head>
<body>
<h1>deltanet sweep <code>{name}</code></h1>
<p>{html.escape(_counts_line(study.study_name, url, counts))}. Every trial is judged on
its validation error; the test set is never looked at.</p>
<h2>Best trials</h2>{best}
<h2>Parameter importances</h2>{imp}
{sections}
<h2>Search space</h2>{html_table([(k, str(v)) for k, v in space.items()])}
</body></html>
"""


def write_report(result: SweepResult, out: str | os.PathLike[str]) -> list[Path]:
    """Draw the plots into ``out`` and write ``sweep.html`` there; the paths written."""
    out = Path(out)
    pngs = pictures(result.study)
    written = []
    for name, png in pngs.items():
        atomic_write_bytes(out / name, png)
        written.append(out / name)
    atomic_write_bytes(out / REPORT, render_html(result, pngs).encode())
    return [*written, out / REPORT]
