"""``deltanet report``: a run's pictures and a one-file HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from deltanet.cli import _args
from deltanet.errors import RunDirError

DESCRIPTION = """\
Draw the pictures of a training run into its directory (learning curves,
confusion matrix, first-layer weights, most confident mistakes, gradient check)
and write report.html: one self-contained page with the configuration, the final
metrics, the per-class table and every picture, viewable offline.

example:
  deltanet report runs/latest"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub, "report", help="draw a run's pictures and write report.html", description=DESCRIPTION
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by deltanet train")
    _args.add_data(p, shown="the run's own")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deltanet.report import draw_run
    from deltanet.rundir import RunDir

    if not (Path(args.run_dir) / RunDir.MODEL).is_file():
        raise RunDirError(
            f"{args.run_dir}: no {RunDir.MODEL} here (is it a deltanet train --out directory?)"
        )
    with RunDir.open(args.run_dir) as rd:
        for path in draw_run(rd, **_args.settings_given(args, _args.DATA_OPTIONS)):
            print(f"wrote {path}")
    return 0
