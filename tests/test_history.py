import math

import pytest

from deltanet.errors import ModelFileError
from deltanet.history import History, Outcome, history_of


def test_history_csv_round_trip():
    history = History(
        [
            {
                "epoch": 1,
                "lr": 0.001,
                "loss": 0.5,
                "train_error": 0.1,
                "val_error": 0.2,
                "test_error": float("nan"),
                "seconds": 1.5,
            }
        ]
    )
    back = History.from_csv(history.to_csv())
    assert back.records[0]["epoch"] == 1 and back.records[0]["val_error"] == 0.2
    assert math.isnan(back.records[0]["test_error"])


def test_a_history_knows_how_the_run_ended():
    h = History([{"epoch": 1}])
    assert h.outcome is None  # still running
    h.stop(Outcome.DIVERGED, "loss is nan")
    back = History.from_state(h.state())
    assert back.outcome is Outcome.DIVERGED and back.stop_reason == "loss is nan"
    assert len(back) == 1 and back[0] == {"epoch": 1} and list(back) == back.records


def test_a_damaged_checkpoint_history_names_its_file():
    assert history_of("c", {"history": {"records": []}}).records == []
    with pytest.raises(ModelFileError, match="c: the checkpoint state is incomplete"):
        history_of("c", {"history": {"records": [], "outcome": "exploded"}})
    with pytest.raises(ModelFileError, match="c: the checkpoint state is incomplete"):
        history_of("c", {})


def test_csv_lacking_columns():
    from deltanet.errors import DataError

    with pytest.raises(DataError, match="lacks columns"):
        History.from_csv("epoch,loss\n1,0.5\n")
    assert math.isnan(History.from_csv(History([{"epoch": 1}]).to_csv()).records[0]["loss"])
