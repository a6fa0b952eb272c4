"""The benchmark machinery: the bound's products, round-robin timing, the epoch runner."""

import itertools

import numpy as np
import pytest

from deltanet import bench


def test_epoch_flops_counts_every_product_of_every_batch():
    # 250 samples in batches of 100: 100, 100, 50.  Layer 1 (4→3): forward and weight
    # gradient; layer 2 (3→2): those and the delta passed down.
    per_sample = 2 * (4 * 3 * 2 + 3 * 2 * 3)
    assert bench.epoch_flops([4, 3, 2], 250, 100) == per_sample * 250


def test_gemm_epochs_times_one_epoch_per_next():
    runs = bench.gemm_epochs([20, 8, 3], 50, 16, "float64")
    times = list(itertools.islice(runs, 3))
    assert all(t > 0 for t in times)


def test_interleave_is_round_robin_and_drops_the_warm_up():
    calls = []

    def runner(name, seconds):
        for s in seconds:
            calls.append(name)
            yield s

    measured = bench.interleave(
        {"a": runner("a", [9, 1, 2, 3]), "b": runner("b", [9, 4, 5, 6])}, rounds=3, warmup=1
    )
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]  # the order rotates
    assert [(m.name, m.epoch_seconds) for m in measured] == [("a", [1, 2, 3]), ("b", [4, 5, 6])]
    assert measured[1].median == 5 and measured[1].fastest == 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_deltanet_epochs_trains_the_default_configuration(dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(300, 784)).astype(np.float32) / np.float32(255)
    y = rng.integers(0, 10, 300)
    seconds = list(itertools.islice(bench.deltanet_epochs(X, y, dtype=dtype), 2))
    assert len(seconds) == 2 and all(s > 0 for s in seconds)


def test_epoch_flops_count_the_validation_forward_pass():
    # 4,500 validation rows in evaluation batches of 2,000: forward products only
    forward = 2 * (4 * 3 + 3 * 2)
    assert (
        bench.epoch_flops([4, 3, 2], 250, 100, 4500)
        == bench.epoch_flops([4, 3, 2], 250, 100) + forward * 4500
    )


def test_the_train_path_runs_epochs_as_train_does(tmp_path):
    # the run's own checkpoint is written after every epoch, as deltanet train writes it
    from deltanet.config import TrainConfig

    rng = np.random.default_rng(0)
    X, y = rng.random((400, 20)).astype(np.float32), rng.integers(0, 3, 400)
    config = TrainConfig(layers=(20, 8, 3), val_size=100, augment="none", epochs=5)
    seconds = list(itertools.islice(bench.train_path_epochs(config, X, y, tmp_path), 2))
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert (tmp_path / "checkpoint.safetensors").is_file()
