import json
import warnings

import numpy as np
import pytest

import deltanet as dn
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError, DataError, ModelFileError
from deltanet.modelfile import load_checkpoint
from deltanet.optimizers import SGD, Adam, RMSprop
from deltanet.training import (
    EarlyStopping,
    History,
    Outcome,
    Trainer,
    TrainingDiverged,
    fit,
    train,
)


@pytest.fixture(scope="module")
def mnist():
    return dn.datasets.load_mnist()


@pytest.fixture
def small(mnist):
    return mnist.X_train[:2000], mnist.y_train[:2000]


def test_short_run_on_5000_images_learns(mnist):
    # 5,000 images cap what any MLP reaches near 7%; this one gets about 7.3%
    net = dn.MLP([784, 100, 10], hidden="relu", loss="cross_entropy", seed=0)
    history = net.fit(
        mnist.X_train[:5000],
        mnist.y_train[:5000],
        epochs=10,
        batch_size=50,
        optimizer=RMSprop(lr=0.001),
        seed=0,
    )
    err = net.error_rate(mnist.X_test, mnist.y_test)
    assert err < 0.08, err
    assert history["loss"][-1] < history["loss"][0]
    assert len(history) == 10 and set(history.last) >= {"loss", "train_error", "lr", "seconds"}


def test_same_seed_gives_identical_weights(small):
    nets = [dn.MLP([784, 30, 10], seed=1) for _ in range(3)]
    for net, seed in zip(nets, (5, 5, 6), strict=True):
        fit(net, *small, epochs=2, seed=seed)
    assert nets[0].params.tobytes() == nets[1].params.tobytes()
    assert nets[0].params.tobytes() != nets[2].params.tobytes()


def test_validation_split_is_the_tail_and_drives_best_epoch(small):
    X, y = small
    net = dn.MLP([784, 30, 10], seed=1)
    history = fit(net, X, y, epochs=3, val_size=500, seed=0)
    assert not np.isnan(history["val_error"]).any()
    assert np.isnan(history["test_error"]).all()
    assert history.best_epoch == int(np.argmin(history["val_error"])) + 1
    # the same result as passing the tail explicitly
    net2 = dn.MLP([784, 30, 10], seed=1)
    history2 = fit(net2, X[:1500], y[:1500], epochs=3, validation=(X[1500:], y[1500:]), seed=0)
    assert history2["val_error"] == history["val_error"]
    assert net2.params.tobytes() == net.params.tobytes()


def test_test_set_is_monitored_not_used(small, mnist):
    X, y = small
    a, b = dn.MLP([784, 20, 10], seed=2), dn.MLP([784, 20, 10], seed=2)
    fit(a, X, y, epochs=2, val_size=500, seed=0, early_stopping=1)
    h = fit(
        b,
        X,
        y,
        epochs=2,
        val_size=500,
        seed=0,
        early_stopping=1,
        test=(mnist.X_test[:500], mnist.y_test[:500]),
    )
    assert not np.isnan(h["test_error"]).any()
    assert a.params.tobytes() == b.params.tobytes()


def test_early_stopping_restores_the_best_weights(small):
    X, y = small
    snapshots = {}

    def remember(record, net):
        snapshots[record["epoch"]] = net.params.copy()

    net = dn.MLP([784, 30, 10], seed=0)
    # a large learning rate makes validation error wander, so patience runs out
    history = fit(
        net,
        X,
        y,
        epochs=25,
        val_size=500,
        optimizer=RMSprop(lr=0.02),
        seed=0,
        early_stopping=EarlyStopping(patience=2),
        callbacks=[remember],
    )
    assert history.outcome is Outcome.EARLY_STOPPED
    assert history.stop_reason.startswith("early stopping")
    assert len(history) < 25
    assert history.best_epoch < len(history)
    np.testing.assert_array_equal(net.params, snapshots[history.best_epoch])


def test_divergence_stops_names_epoch_and_batch_and_rolls_back(small):
    X, y = small
    net = dn.MLP(
        [784, 30, 10], loss="squared_error", output="linear", hidden="relu", dtype="float64", seed=0
    )
    seen = [net.params.copy()]  # the state before epoch 1, then after each good epoch
    with pytest.warns(TrainingDiverged, match=r"epoch \d+, batch \d+ of 20"):
        history = fit(
            net,
            X,
            y,
            epochs=5,
            optimizer=SGD(lr=50.0),
            seed=0,
            callbacks=[lambda r, n: seen.append(n.params.copy())],
        )
    assert history.outcome is Outcome.DIVERGED
    assert "diverged" in history.stop_reason and "rolled back" in history.stop_reason
    assert np.isfinite(net.params).all()
    np.testing.assert_array_equal(net.params, seen[-1])  # the last good epoch's weights


@pytest.mark.parametrize("average", [None, 0.99])
def test_resume_is_bit_identical_to_an_uninterrupted_run(small, tmp_path, average):
    X, y = small
    kwargs = dict(
        epochs=4, val_size=500, seed=3, early_stopping=EarlyStopping(patience=10), average=average
    )

    whole = dn.MLP([784, 30, 10], seed=0)
    fit(whole, X, y, optimizer=dn.optimizers.RMSpropGains(lr=0.001), **kwargs)

    ckpt = tmp_path / "ckpt.safetensors"

    def interrupt(record, net):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    first = dn.MLP([784, 30, 10], seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit(
            first,
            X,
            y,
            optimizer=dn.optimizers.RMSpropGains(lr=0.001),
            checkpoint=ckpt,
            callbacks=[interrupt],
            **kwargs,
        )
    _, _, state = load_checkpoint(ckpt)
    assert len(state["history"]["records"]) == 2

    second = dn.MLP([784, 30, 10], seed=99)  # different start: everything comes from the file
    history = fit(
        second,
        X,
        y,
        optimizer=dn.optimizers.RMSpropGains(lr=0.001),
        checkpoint=ckpt,
        resume=True,
        **kwargs,
    )
    assert len(history) == 4
    assert second.params.tobytes() == whole.params.tobytes()


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(small, tmp_path, monkeypatch):
    X, y = small
    ckpt = tmp_path / "ckpt.safetensors"
    import os

    real_fsync = os.fsync
    calls = {"n": 0}

    def flaky(fd):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("power cut")
        real_fsync(fd)

    monkeypatch.setattr("os.fsync", flaky)
    net = dn.MLP([784, 20, 10], seed=0)
    with pytest.raises(OSError, match="power cut"):
        fit(net, X, y, epochs=3, seed=0, checkpoint=ckpt)
    saved, _, state = load_checkpoint(ckpt)  # the epoch-1 checkpoint is intact
    assert len(state["history"]["records"]) == 1
    assert np.isfinite(saved.params).all()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


def test_history_csv(small):
    net = dn.MLP([784, 10, 10], seed=0)
    h = fit(net, *small, epochs=2, seed=0)
    lines = h.to_csv().splitlines()
    assert lines[0] == "epoch,lr,loss,train_error,val_error,test_error,seconds"
    assert len(lines) == 3 and lines[1].startswith("1,0.001,")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be"),
        ({"epochs": 0}, "epochs must be"),
        ({"lr": -0.1}, "lr must be a positive number"),
        ({"early_stopping": 3}, "needs a validation set"),
        ({"val_size": 5000}, "val_size 5000 leaves no training samples"),
        ({"val_size": -1}, "val_size must be 0 or more"),
        ({"optimizer": "newton"}, "unknown optimizer"),
        ({"seed": 1.5}, "seed must be 0 or more"),
    ],
)
def test_bad_arguments(small, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fit(dn.MLP([784, 10, 10]), *small, **kwargs)


def test_float32_stays_float32_through_a_training_step(small):
    net = dn.MLP([784, 10, 10], dtype="float32")
    opt = RMSprop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(net, small[0][:200], small[1][:200], epochs=1, optimizer=opt)
    assert net.params.dtype == np.float32 and net.grad.dtype == np.float32
    assert all(a.dtype == np.float32 for a in opt.state.values())


def test_weight_average_is_what_is_evaluated_and_kept(small):
    X, y = small
    raw = {}
    net = dn.MLP([784, 20, 10], seed=0)
    h = fit(
        net,
        X,
        y,
        epochs=2,
        val_size=500,
        seed=0,
        average=0.9,
        callbacks=[lambda r, n: raw.update(params=n.params.copy())],
    )
    assert not np.array_equal(net.params, raw["params"])  # the average, not the last step
    assert net.error_rate(X[-500:], y[-500:]) == h["val_error"][-1]


def test_average_must_be_a_decay(small):
    with pytest.raises(ConfigError, match="average must be"):
        fit(dn.MLP([784, 10, 10]), *small, average=1.0)


def test_max_norm_caps_every_incoming_weight_vector(small):
    net = dn.MLP([784, 30, 10], hidden="relu", seed=0)
    fit(net, *small, epochs=1, optimizer=RMSprop(lr=0.01), max_norm=0.5, seed=0)
    for W in net.W:
        assert np.sqrt((W.astype(np.float64) ** 2).sum(axis=0)).max() <= 0.5 * (1 + 1e-5)


def test_augmentation_and_dropout_train_reproducibly(small):
    from deltanet.augment import Augment

    runs = []
    for _ in range(2):
        net = dn.MLP([784, 30, 10], hidden="relu", dropout=0.3, input_dropout=0.1, seed=0)
        fit(net, *small, epochs=2, seed=4, augment=Augment(elastic_alpha=1.0))
        runs.append(net.params.tobytes())
    assert runs[0] == runs[1]
    plain = dn.MLP([784, 30, 10], hidden="relu", seed=0)
    fit(plain, *small, epochs=2, seed=4)
    assert plain.params.tobytes() != runs[0]


def test_a_tampered_checkpoint_is_refused_on_resume(small, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from deltanet import modelfile

    X, y = small
    ckpt = tmp_path / "ckpt.safetensors"
    fit(dn.MLP([784, 20, 10], seed=0), X, y, epochs=1, seed=0, checkpoint=ckpt)
    tensors = load_file(ckpt)
    with safe_open(ckpt, "numpy") as f:
        metadata = f.metadata()
    tensors["state.opt.mean_square"] = tensors["state.opt.mean_square"][:10]  # too short
    save_file(tensors, ckpt, metadata=metadata)
    with pytest.raises(ModelFileError, match="do not match their SHA-256"):
        fit(dn.MLP([784, 20, 10], seed=0), X, y, epochs=2, seed=0, checkpoint=ckpt, resume=True)
    # made to match its digest, it still cannot reach the compiled updates
    covered = {k: json.loads(metadata[k]) for k in ("architecture", "state")}
    metadata["sha256"] = modelfile.digest(covered, tensors)
    save_file(tensors, ckpt, metadata=metadata)
    with pytest.raises(ModelFileError, match=r"state array opt\.mean_square has shape"):
        fit(dn.MLP([784, 20, 10], seed=0), X, y, epochs=2, seed=0, checkpoint=ckpt, resume=True)


def test_resuming_to_fewer_epochs_is_refused_before_anything_changes(small, tmp_path):
    X, y = small
    ckpt = tmp_path / "ckpt.safetensors"
    fit(dn.MLP([784, 20, 10], seed=0), X, y, epochs=2, seed=0, checkpoint=ckpt)
    net = dn.MLP([784, 20, 10], seed=1)
    before = net.params.copy()
    with pytest.raises(ConfigError, match="already trained 2 epochs"):
        fit(net, X, y, epochs=1, seed=0, checkpoint=ckpt, resume=True)
    np.testing.assert_array_equal(net.params, before)


# ---------------------------------------------------------------------- the run's shape


def test_outcomes(small):
    X, y = small
    h = fit(dn.MLP([784, 10, 10], seed=0), X, y, epochs=2, seed=0)
    assert h.outcome is Outcome.COMPLETED and h.stop_reason == ""
    h = fit(dn.MLP([784, 10, 10], seed=0), X, y, epochs=3, callbacks=[lambda r, n: True])
    assert h.outcome is Outcome.STOPPED and len(h) == 1
    assert h.stop_reason == "stopped by a callback after epoch 1"


def test_a_loss_that_explodes_is_divergence_even_while_finite(small):
    X, y = small
    net = dn.MLP([784, 30, 10], seed=0)
    before = net.params.copy()
    with pytest.warns(TrainingDiverged, match="loss exploded to .* at epoch 1, batch"):
        h = fit(net, X, y, epochs=2, optimizer=RMSprop(lr=1e6), seed=0)
    assert h.outcome is Outcome.DIVERGED and len(h) == 0
    np.testing.assert_array_equal(net.params, before)  # rolled back to where it started


def test_fit_on_no_samples_is_a_clear_error():
    with pytest.raises(DataError, match="nothing to train on"):
        fit(dn.MLP([4, 3, 2]), np.zeros((0, 4)), np.zeros(0, int), epochs=1)


def test_history_is_a_sequence_of_records(small):
    h = fit(dn.MLP([784, 10, 10], seed=0), *small, epochs=3, seed=0)
    assert len(h) == len(list(h)) == 3
    assert h[0]["epoch"] == 1 and h[-1] is h.last and h[1:] == h.records[1:]
    assert h["loss"] == h.column("loss") == [r["loss"] for r in h]
    back = History.from_state(json.loads(json.dumps(h.state())))
    assert back.to_csv() == h.to_csv() and back.outcome is Outcome.COMPLETED


def test_fit_takes_a_config_like_the_keywords_it_stands_for(small):
    X, y = small
    cfg = TrainConfig(
        layers=(784, 20, 10),
        epochs=2,
        val_size=500,
        optimizer="adam",
        schedule="cosine",
        warmup=1,
        average=0.99,
        augment="affine",
        max_norm=3.0,
        seed=4,
    )
    by_config = cfg.make_network()
    h1 = fit(by_config, X, y, config=cfg)
    by_keywords = dn.MLP([784, 20, 10], seed=4)
    h2 = fit(
        by_keywords,
        X,
        y,
        epochs=2,
        val_size=500,
        optimizer=Adam(lr=0.001, average=0.99),
        schedule=dn.optimizers.Schedule("cosine", warmup=1),
        augment=dn.augment.Augment(),
        max_norm=3.0,
        seed=4,
    )
    assert by_config.params.tobytes() == by_keywords.params.tobytes()
    assert h1.column("val_error") == h2.column("val_error")
    with pytest.raises(TypeError, match="takes epochs from the config"):
        fit(cfg.make_network(), X, y, config=cfg, epochs=3)
    with pytest.raises(ConfigError, match="hidden differ"):
        fit(dn.MLP([784, 20, 10], hidden="relu"), X, y, config=cfg)


def test_train_builds_the_network_from_the_config(small):
    cfg = TrainConfig(layers=(784, 16, 10), epochs=1, val_size=0, seed=2)
    net, history = train(cfg, *small)
    assert net.to_config() == dn.MLP.from_config(cfg).to_config() and len(history) == 1


class PublicOnly:
    """A network that fails the test if anything reaches past its public interface."""

    def __init__(self, net):
        object.__setattr__(self, "net", net)

    def __getattr__(self, name):
        assert not name.startswith("_"), f"the trainer used the private {name}"
        return getattr(self.net, name)

    def __setattr__(self, name, value):
        assert not name.startswith("_"), f"the trainer set the private {name}"
        setattr(self.net, name, value)


def test_the_trainer_uses_only_the_networks_public_interface(small, tmp_path):
    X, y = small
    net = dn.MLP([784, 20, 10], hidden="relu", dropout=0.2, seed=0)
    trainer = Trainer(
        PublicOnly(net),
        X,
        y,
        optimizer=RMSprop(average=0.99),
        epochs=2,
        val_size=500,
        test=(X[:100], y[:100]),
        early_stopping=EarlyStopping(patience=5),
        max_norm=2.0,
    )
    store = dn.training.CheckpointFile(tmp_path / "c.safetensors")
    history = trainer.run(checkpoint=store)
    assert len(history) == 2
    again = Trainer(
        PublicOnly(dn.MLP([784, 20, 10], hidden="relu", dropout=0.2)),
        X,
        y,
        optimizer=RMSprop(average=0.99),
        epochs=2,
        val_size=500,
    )
    assert again.resume(store) and again.history.outcome is None  # saved before it ended


def test_the_trainer_is_complete_when_made(small):
    trainer = Trainer(dn.MLP([784, 10, 10], seed=0), *small, epochs=3, batch_size=50)
    record = trainer.epoch()  # nothing else to set up
    assert record["epoch"] == 1 and len(trainer.history) == 1
    assert trainer.opt.t == len(small[0]) // 50


def test_the_weight_average_lives_in_the_optimizer_and_counts_its_steps(small):
    X, y = small
    opt = RMSprop(average=0.9)
    net = dn.MLP([784, 10, 10], seed=0)
    fit(net, X, y, epochs=1, optimizer=opt, batch_size=200)
    assert opt.t == 10 and opt.averages is not None
    np.testing.assert_array_equal(net.params, opt.averages)  # kept at the end


def test_a_network_too_big_for_memory_is_refused_before_allocating():
    with pytest.raises(ConfigError, match=r"would need .* more than this machine"):
        dn.MLP([784, 10**6, 10**6, 10])
