import math

from deltanet.progress import Progress, epoch_line

RECORD = {
    "epoch": 3,
    "lr": 0.001,
    "loss": 0.12345,
    "train_error": 0.0412,
    "val_error": 0.05,
    "test_error": math.nan,
    "seconds": 1.234,
}


def test_epoch_line():
    line = epoch_line(RECORD, 30, best=True)
    assert line == "epoch   3/30  loss 0.1235  train  4.12%  val  5.00%  lr 0.001  1.23s  *"
    assert "test" not in line  # no test set, no column


def test_quiet_progress_still_says_one_line_per_epoch():
    lines = []
    quiet = Progress(False, lines.append)
    quiet.start(0, 1, 10)
    quiet.update(10, 0.5)
    quiet.end("epoch line")
    assert lines == ["epoch line"] and quiet.bar is None
    silent = Progress(False)
    silent.end("not shown")  # no bar, no log: nothing, and no error
