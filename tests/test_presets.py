import json

import pytest

from deltanet import presets
from deltanet.cli import main


def test_presets_are_complete_train_settings():
    import deltanet as dn

    best = dn.presets.best()  # the public spelling: dn.presets.best()
    assert best["layers"][0] == 784 and best["layers"][-1] == 10
    assert presets.best_long()["epochs"] > best["epochs"]
    assert presets.get("best") == best
    with pytest.raises(ValueError, match="unknown preset"):
        presets.get("fastest")


def test_preset_from_the_command_line_and_flags_override_it(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--preset",
            "best",
            "--layers",
            "784,20,10",
            "--epochs",
            "1",
            "--val-size",
            "50000",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert "epoch   1/1  loss" in capsys.readouterr().out  # --quiet still reports each epoch
    train = json.loads((out / "config.json").read_text())["train"]
    best = presets.best()
    assert train["layers"] == [784, 20, 10] and train["epochs"] == 1  # the flags won
    for key in ("hidden", "dropout", "optimizer", "schedule", "augment", "average"):
        assert train[key] == best[key], key  # the rest came from the preset
    assert json.loads((out / "metrics.json").read_text())["test_error"] < 0.5
