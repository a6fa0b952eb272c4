import dataclasses
import json
import os

import pytest

import deltanet as dn
from deltanet.config import CONSTRAINTS, TrainConfig
from deltanet.errors import ConfigError
from deltanet.optimizers import SGD, Adam, RMSpropGains


def test_every_setting_has_exactly_one_rule():
    assert set(CONSTRAINTS) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_the_defaults_are_deltanet_trains():
    cfg = TrainConfig()
    assert cfg.layers == (784, 300, 10) and cfg.hidden == "sigmoid" and cfg.optimizer == "rmsprop"
    assert cfg.lr == 0.001 and cfg.batch_size == 100 and cfg.epochs == 30
    assert cfg.val_size == 10_000 and cfg.average == 0.999 and cfg.data is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layers": "123"}, "layers must be at least two positive"),
        ({"layers": (784, 30.7, 10)}, "layers must be"),
        ({"layers": (784, True, 10)}, "layers must be"),
        ({"lr": 0}, "lr must be a positive number, got 0"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"epochs": 2.0}, "epochs must be at least 1, got 2.0"),
        ({"batch_size": True}, "batch_size must be at least 1"),
        ({"dropout": 1.0}, "dropout must be a probability in [0, 1)"),
        ({"average": 1}, "average must be in [0, 1)"),
        ({"hidden": "swish"}, "unknown activation 'swish'"),
        ({"augment": "wild"}, "unknown augmentation 'wild'"),
        ({"loss": "cross_entropy", "output": "linear"}, "needs output 'softmax'"),
        ({"early_stopping": 3, "val_size": 0}, "early_stopping needs a validation split"),
        ({"optimizer": "sgd", "momentum": 0.0, "nesterov": True}, "nesterov needs a momentum"),
        ({"data": ""}, "data must be a path or None"),
    ],
)
def test_a_setting_not_allowed_is_refused_naming_it(changes, message):
    with pytest.raises(ConfigError) as refusal:
        TrainConfig(**changes)
    assert message in str(refusal.value)


def test_values_are_normalized(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(layers=[784, 20, 10], l2=0, data="mnist")
    assert cfg.layers == (784, 20, 10) and isinstance(cfg.l2, float)
    assert cfg.data == os.path.join(tmp_path, "mnist")  # kept absolute
    assert hash(cfg) == hash(TrainConfig(layers=(784, 20, 10), data=str(tmp_path / "mnist")))


def test_a_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().lr = 0.1


def test_dict_round_trip_and_unknown_keys():
    cfg = TrainConfig(layers=(784, 64, 10), optimizer="adam", lr=0.003)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig.from_dict({"lr": 0.01}) == TrainConfig(lr=0.01)  # the rest: defaults
    with pytest.raises(ConfigError, match="not a setting of a training run: data_dir, threads"):
        TrainConfig.from_dict({"lr": 0.01, "threads": 2, "data_dir": "x"})
    with pytest.raises(ConfigError, match="a JSON object"):
        TrainConfig.from_dict(["lr"])


def test_replace_checks_and_diff_names_what_changed():
    cfg = TrainConfig()
    assert cfg.replace(lr=0.01, seed=3).diff(cfg) == ["lr", "seed"]
    assert cfg.diff(cfg) == []
    with pytest.raises(ConfigError, match="lr must be"):
        cfg.replace(lr=-1)
    with pytest.raises(ConfigError, match="not a setting of a training run: learning_rate"):
        cfg.replace(learning_rate=0.1)


def test_the_pieces_built_from_a_config():
    cfg = TrainConfig(layers=(784, 16, 10), hidden="relu", dtype="float64", seed=5)
    net = cfg.make_network()
    assert net.to_config() == dn.MLP([784, 16, 10], hidden="relu", dtype="float64").to_config()
    assert net.params.tobytes() == dn.MLP.from_config(cfg).params.tobytes()
    opt = TrainConfig(optimizer="adam", lr=0.01, beta1=0.8, average=0).make_optimizer()
    assert isinstance(opt, Adam) and (opt.lr, opt.beta1, opt.average) == (0.01, 0.8, None)
    opt = TrainConfig(optimizer="sgd", momentum=0.5, nesterov=True).make_optimizer()
    assert isinstance(opt, SGD) and opt.nesterov and opt.average == 0.999
    opt = TrainConfig(optimizer="rmsprop_gains", increment=1.2).make_optimizer()
    assert isinstance(opt, RMSpropGains) and opt.increment == 1.2
    schedule = TrainConfig(schedule="cosine", warmup=2).make_schedule()
    assert (schedule.kind, schedule.warmup) == ("cosine", 2)
    assert TrainConfig().make_augment() is None
    assert TrainConfig(augment="elastic").make_augment().elastic_alpha == 1.0


def test_a_run_whose_training_would_not_fit_is_refused_before_its_network_is_made(monkeypatch):
    # 8 copies of a 784-2000-10 network's parameters (Adam's two moments, the average,
    # the best weights, the snapshot...) do not fit in 50 MB, though the network does
    from deltanet import limits

    monkeypatch.setattr(limits, "physical_memory", lambda: 50_000_000)
    config = TrainConfig(layers=(784, 2000, 10), optimizer="adam", average=0.999)
    made = []
    monkeypatch.setattr("deltanet.network.MLP.from_config", lambda *a, **k: made.append(1))
    with pytest.raises(ConfigError, match=r"training a 784-2000-10 network would need"):
        config.make_network()
    assert not made


def test_the_data_settings_round_trip_and_are_checked(tmp_path):
    cfg = TrainConfig(
        data="t.csv", test="u.csv", target="y", test_size=0.3, channels=3, image_size=(24, 32)
    )
    assert cfg.data == os.path.abspath("t.csv") and cfg.image_size == (24, 32)
    back = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.standardize is None
    for changes, message in [
        ({"test_size": 1.0}, "test_size must be in (0, 1)"),
        ({"channels": 2}, "channels must be None or one of 1, 3"),
        ({"image_size": (0, 8)}, "image_size must be None or a size"),
        ({"standardize": "yes"}, "standardize must be None or True or False"),
    ]:
        with pytest.raises(ConfigError) as refusal:
            TrainConfig(**changes)
        assert message in str(refusal.value)
