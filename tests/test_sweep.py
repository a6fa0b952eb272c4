"""``dn.sweep`` in this process: trials as run directories judged on validation error,
pruning, a seeded sweep that gives the same on SQLite and PostgreSQL, a retried trial
resuming its checkpoint, and what is refused before anything is written."""

import json

import optuna
import pytest
from optuna.trial import TrialState

import deltanet as dn
from deltanet.config import TrainConfig
from deltanet.errors import ConfigError
from deltanet.rundir import RunDir
from deltanet.sweep import best, counts

# tiny networks on 800 training and 200 validation images: a trial takes a fraction
# of a second
SMALL = {"val_size": 200, "width": {"low": 8, "high": 32, "log": True}, "depth": 1}
GOOD = {
    **SMALL,
    "width": 16,
    "optimizer": "adam",
    "hidden": "relu",
    "dropout": 0.0,
    "l2": 1e-6,
    "batch_size": 32,
    "average": 0.0,
}


def sqlite(tmp_path):
    return f"sqlite:///{tmp_path / 'sweeps.db'}"


def test_every_trial_is_a_run_directory_judged_on_validation_only(tmp_path, mnist_small):
    result = dn.sweep(
        "runs", 3, storage=sqlite(tmp_path), space=SMALL, epochs=2, data=mnist_small,
        out=tmp_path / "out", pruner="none", seed=0,
    )  # fmt: skip
    assert result.counts["complete"] == 3 and result.counts["done"] == 3
    for t in result.study.trials:
        rd = RunDir.read(t.user_attrs["run_dir"])
        assert rd.path == (tmp_path / "out" / f"trial-{t.number:04d}").resolve()
        assert rd.has_results()
        config = rd.config()
        assert config == TrainConfig.from_dict(t.user_attrs["config"])
        assert config.data == str(mnist_small) and config.epochs == 2
        assert config.layers[0] == 784 and config.layers[-1] == 10
        metrics = rd.metrics()
        assert t.value == metrics["val_error"]  # the weights kept, on validation
        assert metrics["test_error"] is None  # a trial never looks at the test set
        assert len(rd.history()) == 2
        assert t.intermediate_values == {e: r["val_error"] for e, r in enumerate(rd.history(), 1)}
        assert dn.load(rd.model_path).layers == config.layers
        assert rd.info()["sweep"]["trial"] == t.number
    found = best("runs", sqlite(tmp_path))
    assert found.value == min(t.value for t in result.study.trials)
    assert found.run_dir == result.best.run_dir
    # the report: Optuna's three plots, inside one self-contained page
    names = {p.name for p in result.report}
    assert names == {"optimization_history.png", "parallel_coordinate.png", "sweep.html"} | {
        "param_importances.png"
    }
    page = (tmp_path / "out" / "sweep.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "http" not in page
    text = result.table()
    assert "3 trials finished (3 complete, 0 pruned)" in text
    assert "parameter importances (fANOVA" in text


def test_pruning_stops_a_trial_with_an_absurd_learning_rate(tmp_path, mnist_small):
    url = sqlite(tmp_path)
    space = {**GOOD, "lr": [0.003, 1e-7]}
    study = optuna.create_study(study_name="prune", storage=url)
    for _ in range(5):  # five sensible trials for the median, then a hopeless one
        study.enqueue_trial({"lr": 0.003})
    study.enqueue_trial({"lr": 1e-7})
    result = dn.sweep(
        "prune", 6, storage=url, space=space, epochs=5, data=mnist_small, out=tmp_path / "out"
    )
    *good, hopeless = result.study.trials
    assert [t.state for t in good] == [TrialState.COMPLETE] * 5
    assert all(len(t.intermediate_values) == 5 for t in good)
    assert hopeless.params["lr"] == 1e-7 and hopeless.state == TrialState.PRUNED
    assert len(hopeless.intermediate_values) == 2  # stopped at the first epoch it may be
    rd = RunDir.read(hopeless.user_attrs["run_dir"])
    assert len(rd.history()) == 2 and rd.has_results()
    assert rd.metrics()["stop_reason"].startswith("pruned after epoch 2")
    assert hopeless.user_attrs["outcome"] == "pruned"
    assert result.counts == {**result.counts, "complete": 5, "pruned": 1, "done": 6}


def seeded_sweep(url, out, data):
    result = dn.sweep(
        "seeded", 6, storage=url, space=SMALL, epochs=2, data=data, out=out, seed=7, report=False
    )
    return [(t.number, t.params, t.value, t.state) for t in result.study.trials], result.best


@pytest.mark.postgres
def test_one_seeded_worker_finds_the_same_on_sqlite_and_postgresql(tmp_path, mnist_small, pg_url):
    on_sqlite, best_sqlite = seeded_sweep(sqlite(tmp_path), tmp_path / "a", mnist_small)
    on_postgres, best_postgres = seeded_sweep(pg_url, tmp_path / "b", mnist_small)
    assert on_sqlite == on_postgres
    assert best_sqlite.config == best_postgres.config
    assert best_sqlite.value == best_postgres.value
    assert len({str(p) for _, p, _, _ in on_sqlite}) == 6  # the sampler did search


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"study": "a b"}, "study name 'a b'"),
        ({"trials": 0}, "trials must be at least 1"),
        ({"pruner": "random"}, "unknown pruner 'random'"),
        ({"timeout": -1}, "timeout must be a positive number"),
        ({"space": {"val_size": 0}}, "val_size must be > 0"),
        ({"space": {"val_size": 5000}}, "val_size 5000 leaves no training samples"),
        ({"space": {"val_size": [100, 200]}}, "val_size decides what every trial is judged on"),
    ],
)
def test_what_is_refused_before_anything_is_written(tmp_path, mnist_small, kwargs, message):
    args = {"study": "s", "trials": 2, "space": SMALL, **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        dn.sweep(
            args.pop("study"), args.pop("trials"), storage=sqlite(tmp_path), data=mnist_small,
            out=tmp_path / "out", **args,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_workers_of_one_study_must_search_the_same_space(tmp_path, mnist_small):
    url = sqlite(tmp_path)
    dn.sweep("s", 1, storage=url, space=SMALL, epochs=1, data=mnist_small,
             out=tmp_path / "out", report=False)  # fmt: skip
    with pytest.raises(ConfigError, match=r"study s searches another space \(epochs differ\)"):
        dn.sweep("s", 2, storage=url, space=SMALL, epochs=2, data=mnist_small,
                 out=tmp_path / "out")  # fmt: skip
    study = optuna.load_study(study_name="s", storage=url)
    assert counts(study)["done"] == 1


def test_a_study_that_has_its_trials_runs_none(tmp_path, mnist_small):
    kwargs = {"storage": sqlite(tmp_path), "space": SMALL, "epochs": 1, "data": mnist_small}
    dn.sweep("s", 2, out=tmp_path / "out", report=False, **kwargs)
    again = dn.sweep("s", 2, out=tmp_path / "out", report=False, **kwargs)
    assert len(again.study.trials) == 2
    more = dn.sweep("s", 3, out=tmp_path / "out", report=False, **kwargs)
    assert [t.number for t in more.study.trials] == [0, 1, 2]
    assert json.loads((tmp_path / "out" / "trial-0002" / "metrics.json").read_text())["epochs"]


def test_a_trial_is_never_pruned_or_stopped_after_its_last_epoch():
    """Stopping a trial that has trained every epoch saves nothing and throws away a
    complete result: the pruner, and ^C, are heeded after every epoch but the last."""
    from deltanet.sweep import _Display, _Reporter, _Stopped, _StopRequest

    class Hopeless:
        number, reports = 0, []

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return True

    trial, stop = Hopeless(), _StopRequest()
    reporter = _Reporter(trial, _Display(False, None, 1, "s"), 3, stop)
    assert reporter({"epoch": 3, "val_error": 0.5}) is False and reporter.pruned_at is None
    assert reporter({"epoch": 2, "val_error": 0.5}) is True and reporter.pruned_at == 2
    assert trial.reports == [(3, 0.5), (2, 0.5)]
    # ^C: the epoch just checkpointed is reported, then the trial stops (unless it is done)
    stop.requested = True
    with pytest.raises(_Stopped):
        reporter({"epoch": 1, "val_error": 0.6})
    assert trial.reports[-1] == (1, 0.6)
    assert reporter({"epoch": 3, "val_error": 0.4}) is False


def test_timeout_hyperband_and_the_progress_bar(tmp_path, mnist_small, capsys):
    kwargs = {"storage": sqlite(tmp_path), "space": SMALL, "epochs": 2, "data": mnist_small}
    late = dn.sweep("late", 3, timeout=1e-9, out=tmp_path / "late", **kwargs)
    assert late.counts["done"] == 0 and late.best is None  # no trial starts after it
    assert "no complete trial yet" in late.table()
    assert [p.name for p in late.report] == ["sweep.html"]  # nothing to plot yet
    banded = dn.sweep("banded", 2, pruner="hyperband", out=tmp_path / "hb", report=False,
                      progress=True, **kwargs)  # fmt: skip
    assert banded.counts["done"] == 2
    err = capsys.readouterr().err
    assert "sweep banded" in err and "2/2" in err  # the bar counts the study's trials


def test_a_sweep_takes_a_table_as_deltanet_train_does(tmp_path, digits):
    """A CSV: widths from its columns and classes, validation a sixth of the training
    rows, standardized inputs, and each trial's model answers in the table's terms."""
    result = dn.sweep(
        "csv", 2, storage=sqlite(tmp_path), space={k: v for k, v in GOOD.items() if k != "val_size"} | {"lr": 0.003},
        epochs=2, data=digits / "digits.csv", out=tmp_path / "out", pruner="none", seed=0,
    )  # fmt: skip
    assert result.counts["complete"] == 2
    rd = RunDir.read(result.best.run_dir)
    config = rd.config()
    assert config.layers == (64, 16, 10)
    train_rows = len(dn.load_data(digits / "digits.csv").X_train)  # a fifth is test
    assert config.val_size == train_rows // 6
    model = dn.load_model(rd.model_path)
    assert model.standardizer is not None and model.feature_names[0] == "pixel0"
    assert rd.info()["data"]["standardized"] and rd.info()["data"]["kind"] == "table"
    # the trial trained on standardized rows: its network answers them, not raw ones
    X = model.standardizer.transform(dn.load_data(digits / "digits.csv").X_test)
    assert (
        model.net.predict(X.astype(model.net.dtype)) == dn.load_data(digits / "digits.csv").y_test
    ).mean() > 0.7


def test_a_space_decides_how_the_data_is_read(tmp_path, digits):
    # what it fixes is honoured, as deltanet train would read the data; what decides the
    # data cannot be searched (a worker loads it once), nor can a fixed setting misfit it
    space = {k: v for k, v in GOOD.items() if k != "val_size"} | {"standardize": False}
    result = dn.sweep(
        "raw", 1, storage=sqlite(tmp_path), space=space, epochs=1,
        data=digits / "digits.csv", out=tmp_path / "out", pruner="none", seed=0,
    )  # fmt: skip
    rd = RunDir.read(result.best.run_dir)
    assert rd.config().standardize is False and dn.load_model(rd.model_path).standardizer is None
    for bad, message in [
        ({"test_size": [0.1, 0.3]}, "test_size decides the data every trial trains on"),
        ({"augment": "elastic"}, "augment 'elastic' distorts 28×28 grey pictures"),
    ]:
        with pytest.raises(ConfigError, match=message):
            dn.sweep(
                "bad", 1, storage=sqlite(tmp_path), space={**space, **bad}, epochs=1,
                data=digits / "digits.csv", out=tmp_path / "bad",
            )  # fmt: skip
    assert not (tmp_path / "bad").exists()
