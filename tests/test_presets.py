import json

import pytest

from deltanet import presets
from deltanet.cli import main
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError


def test_presets_are_train_configs():
    import deltanet as dn

    best = dn.presets.best()  # the public spelling: dn.presets.best()
    assert isinstance(best, TrainConfig)
    assert best.layers == (784, 800, 800, 10) and best.augment == "elastic"
    assert best.diff(TrainConfig()) == [
        "layers",
        "hidden",
        "dropout",
        "optimizer",
        "schedule",
        "warmup",
        "epochs",
        "val_size",
        "augment",
    ]  # everything else is deltanet train's default
    assert presets.best_long() == best.replace(epochs=300)
    assert presets.record() == best.replace(batch_size=200, lr=0.002, epochs=350)
    assert presets.get("record") == presets.record()
    assert presets.get("best") == best
    with pytest.raises(ConfigError, match="unknown preset"):
        presets.get("fastest")


def test_a_preset_trains_from_python(monkeypatch):
    import numpy as np

    import deltanet as dn

    rng = np.random.default_rng(0)
    X, y = rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300)
    cfg = dn.presets.best().replace(layers=(784, 16, 10), epochs=1)
    net, history = dn.training.train(cfg, X, y)
    assert net.hidden == "relu" and net.dropout == 0.3 and len(history) == 1


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
    train = TrainConfig.from_dict(json.loads((out / "config.json").read_text())["train"])
    best = presets.best()
    assert train.layers == (784, 20, 10) and train.epochs == 1  # the flags won
    assert train == best.replace(layers=(784, 20, 10), epochs=1, val_size=50_000)
    assert json.loads((out / "metrics.json").read_text())["test_error"] < 0.5
