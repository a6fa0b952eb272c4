"""Hyper-parameter sweeps: many short runs, searched by Optuna, in one process or in many
processes on many machines that share one study database.

``dn.sweep("mnist", 40)`` (or ``deltanet sweep --study mnist --trials 40``) runs trials
until the study holds 40 finished ones (complete or pruned) between all its workers.
Every worker is the same call against the same ``storage``; Optuna's TPE sampler picks
each trial's settings from the :class:`~deltanet.space.SearchSpace`, and the study
database is the only thing the workers share.

What a trial is, and what the sweep promises:

* every trial is a normal run directory (``OUT/trial-0007``: ``config.json`` with its
  :class:`~deltanet.config.TrainConfig`, the checkpoint, ``history.csv``, the model,
  ``metrics.json``), so ``deltanet report``, ``evaluate`` and ``train --resume`` work
  on it;
* a trial is judged on its validation error only: it reports the validation error of
  every epoch to the pruner, returns that of the weights it keeps, and never looks at
  the test set (``deltanet evaluate`` gives the final number of the one you choose);
* a worker that dies stops beating: the next worker to look fails its trial, Optuna's
  retry callback queues it again with the same settings, and a worker that can see its
  run directory resumes it from its last checkpoint (see :mod:`deltanet.storage`).  A
  trial's directory holds ``metrics.json`` only once it has finished;
* ^C stops a worker once the epoch in progress is checkpointed (a second ^C at once):
  the trial is failed and queued again like a dead worker's, to be resumed there;
* ``trials`` counts the whole study: workers stop when it holds that many finished
  trials, wait while the last ones run elsewhere (one may die and need a retry), and a
  trial that two workers start at the same moment beyond the count is not run (it is
  recorded as failed, with ``surplus`` set).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import optuna
    from optuna.trial import TrialState
except ImportError:  # pragma: no cover - the sweep extra is not installed
    from deltanet.errors import UserError

    raise UserError(
        "sweeps need Optuna, SQLAlchemy and psycopg: pip install 'deltanet[sweep]'"
    ) from None

from deltanet import storage as storages
from deltanet.config import TrainConfig
from deltanet.constraints import Integer, Options
from deltanet.errors import ConfigError, RunDirError
from deltanet.history import Outcome
from deltanet.limits import blas_threads
from deltanet.rundir import RunDir
from deltanet.space import EPOCHS, PRUNERS, SearchSpace
from deltanet.training import Trainer, TrainingDiverged, final_metrics, run_info

__all__ = ["PRUNERS", "BestTrial", "SweepResult", "best", "sweep"]

PRUNER = Options(PRUNERS, "pruner")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SPACE_ATTR = "deltanet.space"  # the study's record of what its workers search


class _Surplus(Exception):
    """A trial started beyond the study's count: it is not run."""


class _Stopped(Exception):
    """^C: the trial stops after the epoch it had checkpointed last."""


class _StopRequest:
    """^C during a sweep.  The first asks the worker to stop once the epoch in progress
    is checkpointed (Python's own KeyboardInterrupt can land anywhere, even where it is
    swallowed, such as a library's clean-up); a second one stops it at once."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread receives signals
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            self.requested = True
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class BestTrial:
    """The best complete trial of a study: its number, validation error, config, and
    where its run directory is (``host``: the machine that ran it)."""

    number: int
    value: float
    config: TrainConfig
    run_dir: str
    host: str


@dataclass
class SweepResult:
    """How a sweep ended: the study, its trials by state, and the report."""

    study: optuna.Study
    storage: str
    counts: dict[str, int]
    importances: dict[str, float] | str
    report: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> BestTrial | None:
        return _best_of(self.study)

    def table(self, top: int = 10) -> str:
        """The best ``top`` trials and the parameter importances, as text."""
        from deltanet.sweepreport import summary

        return summary(self, top)


# ---------------------------------------------------------------------- the options


def _check_options(
    study: str, trials: int, pruner: str, timeout: float | None, epochs: int
) -> None:
    if not isinstance(study, str) or not NAME.fullmatch(study):
        raise ConfigError(
            f"study name {study!r}: use letters, digits, '.', '_' and '-' (up to 100), "
            "starting with a letter or digit"
        )
    Integer(1).check("trials", trials)
    Integer(1).check("epochs", epochs)
    PRUNER.check("pruner", pruner)
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _space(space: SearchSpace | str | Path | dict | None, epochs: int) -> SearchSpace:
    if isinstance(space, dict):
        space = SearchSpace.load().updated(space)
    elif not isinstance(space, SearchSpace):
        space = SearchSpace.load(space)
    space = space.with_fixed(epochs=epochs)
    if "val_size" in space.dimensions:
        raise ConfigError(
            "val_size decides what every trial is judged on: it can be fixed, not searched"
        )
    searched = [name for name in DATA_SETTINGS if name in space.dimensions]
    if searched:
        raise ConfigError(
            f"{searched[0]} decides the data every trial trains on (loaded once per "
            "worker): it can be fixed, not searched"
        )
    return space


def _make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "median":
        # a trial is compared with the median of the others from its second epoch on,
        # once five trials have finished: the first epoch says little, least of all with
        # weight averaging, whose average still remembers the initial weights
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()


# the settings that decide a trial's data, which every trial of a worker shares: the
# space may fix them, not search them (the seed also draws a table's test split)
DATA_SETTINGS = ("target", "test", "test_size", "channels", "image_size", "standardize", "seed")


class _Data:
    """The data every trial of this worker trains on, loaded once: any source
    ``deltanet train --data`` reads, read and standardized as that command would with
    the space's fixed data settings."""

    def __init__(self, path: str | None, space: SearchSpace):
        from deltanet.sources import from_config, settings

        self.path = path
        fixed = {k: v for k, v in space.fixed.items() if k in DATA_SETTINGS}
        base = TrainConfig(data=path, **fixed)
        data = from_config(base)
        self.dataset = data
        # standardized unless the space says otherwise (tables and .npz: on by default)
        self.scaler = settings.standardizer(base, data)
        X = data.X_train if self.scaler is None else self.scaler.transform(data.X_train)
        self.X, self.y, self.test_size = X, data.y_train, len(data.X_test)
        self.inputs = self.X.shape[1]
        self.outputs = data.n_classes
        # unless the space fixes it, the validation split deltanet train would take:
        # at most a sixth of the training rows, so small data keeps most of its rows
        if "val_size" in space.fixed:
            val_size = space.fixed["val_size"]
        else:
            val_size = min(TrainConfig.val_size, int(len(self.X) * settings.VAL_FRACTION))
        self.val_size = val_size
        if not val_size:
            raise ConfigError(
                "a sweep judges every trial on validation error: val_size must be > 0"
            )
        if val_size >= len(self.X):
            raise ConfigError(
                f"val_size {val_size} leaves no training samples (there are {len(self.X):,}): "
                "fix a smaller val_size in the search space"
            )
        # what the space fixes must fit the data before any trial is drawn
        fixed_only = space.config(dict(space.fixed), self.inputs, self.outputs)
        self.check(fixed_only.replace(data=path, val_size=val_size))

    def check(self, config: TrainConfig) -> None:
        """Refuse a trial's ``config`` that does not fit the data (augmentation of what
        is not a 28×28 picture, fixed layers of other widths), before it trains."""
        from deltanet.sources import settings

        settings.check_config(config, self.dataset)

    def info(self) -> dict[str, Any]:
        """What a trial's config.json records of the data, as ``deltanet train``'s does."""
        from deltanet.sources import settings

        return settings.describe(self.dataset, self.scaler)

    def model(self, net: Any) -> Any:
        """``net`` with the data's class names, standardization and picture shape."""
        from deltanet.sources import settings

        return settings.model_of(net, self.dataset, self.scaler)


# ---------------------------------------------------------------------- the study


def _open_study(
    name: str, storage: Any, space: SearchSpace, seed: int | None, pruner: str, epochs: int
) -> optuna.Study:
    """The study ``name`` (created if new), refusing one whose workers search another
    space: trials of different spaces cannot be compared."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_make_pruner(pruner, epochs),
        direction="minimize",
        load_if_exists=True,
    )
    mine = json.loads(json.dumps(space.to_data()))
    if SPACE_ATTR not in study.user_attrs:
        study.set_user_attr(SPACE_ATTR, mine)
    recorded = study.user_attrs[SPACE_ATTR]
    if recorded != mine:
        differ = sorted(k for k in set(recorded) | set(mine) if recorded.get(k) != mine.get(k))
        raise ConfigError(
            f"study {name} searches another space ({', '.join(differ)} differ): give its "
            "workers the same --space and --epochs, or start a new --study"
        )
    return study


def counts(study: optuna.Study) -> dict[str, int]:
    """The study's trials by what became of them: ``done`` (complete + pruned),
    ``running``, ``waiting``, ``failed`` and ``surplus`` (failed, never run)."""
    tally = dict.fromkeys(("complete", "pruned", "running", "waiting", "failed", "surplus"), 0)
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.FAIL and t.user_attrs.get("surplus"):
            tally["surplus"] += 1
        else:
            tally[t.state.name.lower().replace("fail", "failed")] += 1
    tally["done"] = tally["complete"] + tally["pruned"]
    return tally


@contextlib.contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Optuna's own log lines would repeat ours; its warnings about trials we fail on
    purpose would mislead.  Restored afterwards."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


# ---------------------------------------------------------------------- a worker


class _Display:
    """A bar over the study's finished trials, and one line per trial of this worker."""

    def __init__(self, enabled: bool, log: Callable[[str], None] | None, total: int, name: str):
        self.log, self.bar = log, None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=f"sweep {name}", unit="trial", dynamic_ncols=True)

    def status(self, text: str, done: int | None = None) -> None:
        if self.bar is not None:
            if done is not None:
                self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))
            self.bar.set_postfix_str(text)

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)
        elif self.bar is not None:
            self.bar.write(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Reporter:
    """The trainer's callback: each epoch's validation error to the pruner."""

    def __init__(self, trial: optuna.Trial, display: _Display, epochs: int, stop: _StopRequest):
        self.trial, self.display, self.epochs, self.stop = trial, display, epochs, stop
        self.pruned_at: int | None = None
        self.done = 0

    def __call__(self, record: dict[str, float], net: Any = None) -> bool:
        self.done = step = int(record["epoch"])
        self.trial.report(record["val_error"], step)
        self.display.status(
            f"trial {self.trial.number}: epoch {step}/{self.epochs}, "
            f"val {100 * record['val_error']:.2f}%"
        )
        if self.stop.requested and step < self.epochs:
            raise _Stopped  # the trainer checkpointed this epoch before calling back
        # after its last epoch a trial has cost all it will: it completes
        if step < self.epochs and self.trial.should_prune():
            self.pruned_at = step
            return True
        return False


class _Worker:
    """One process's part of a sweep."""

    def __init__(
        self,
        study: optuna.Study,
        storage: Any,
        space: SearchSpace,
        data: _Data,
        out: Path,
        trials: int,
        threads: int | None,
        poll: float,
        display: _Display,
    ):
        self.study, self.storage, self.space, self.data = study, storage, space, data
        self.out, self.trials, self.threads, self.poll = out, trials, threads, poll
        self.display = display
        self.stop = _StopRequest()
        self.host = socket.gethostname()
        self.current: tuple[int, Path, _Reporter] | None = None

    def run(self, deadline: float | None) -> None:
        """Run trials until the study has its count (or ``deadline`` passes); ^C stops
        after the epoch in progress (KeyboardInterrupt)."""
        with self.stop.installed():
            self._run(deadline)

    def _run(self, deadline: float | None) -> None:
        while deadline is None or time.monotonic() < deadline:
            if self.stop.requested:
                raise KeyboardInterrupt
            storages.fail_stale_trials(self.study)
            tally = counts(self.study)
            self.display.status("", tally["done"])
            if tally["done"] >= self.trials:
                return
            if tally["waiting"] or tally["done"] + tally["running"] < self.trials:
                self._one_trial()
            else:  # the last trials run elsewhere; one may die and need a retry
                self.display.status(f"waiting for {tally['running']} running elsewhere")
                time.sleep(self.poll)

    def _one_trial(self) -> None:
        self.current = None
        try:
            self.study.optimize(self.objective, n_trials=1, gc_after_trial=False)
        except _Surplus:
            pass
        except optuna.exceptions.UpdateFinishedTrialError:
            # this worker stalled past the grace period (a suspended machine, say): the
            # study failed its trial and queued it again, and the retry owns it now
            if self.current is not None:
                number, path, _ = self.current
                self.display.say(
                    f"trial {number} was failed by another worker while this one stalled; "
                    f"what it trained is in {path}, its retry counts instead"
                )
        except (_Stopped, KeyboardInterrupt):
            if self.current is not None:
                number, path, reporter = self.current
                storages.retry(self.study, self.storage, number)
                self.display.say(
                    f"trial {number} stopped after epoch {reporter.done}; its checkpoint is in "
                    f"{path}: it is queued for the next worker to resume"
                )
            raise KeyboardInterrupt from None

    # ------------------------------------------------------------------ one trial
    def objective(self, trial: optuna.Trial) -> float:
        self._check_count(trial)
        config = self.space.suggest(trial, self.data.inputs, self.data.outputs)
        config = config.replace(val_size=self.data.val_size)
        if self.data.path is not None:
            config = config.replace(data=self.data.path)
        self.data.check(config)
        trainer = Trainer.from_config(config.make_network(), self.data.X, self.data.y, config)
        reporter = _Reporter(trial, self.display, config.epochs, self.stop)
        t0 = time.perf_counter()
        with self._run_dir(trial, config, trainer) as (rd, resumed):
            trial.set_user_attr("config", config.to_dict())
            trial.set_user_attr("run_dir", str(rd.path.resolve()))
            trial.set_user_attr("host", self.host)
            self.current = (trial.number, rd.path, reporter)
            if resumed:
                trainer.resume(rd)
            start = len(trainer.history)
            history = self._train(trainer, rd, reporter)
            if reporter.pruned_at is not None:
                history.stop(
                    Outcome.STOPPED,
                    f"pruned after epoch {reporter.pruned_at}: its validation error was "
                    "worse than the other trials' at that epoch",
                )
            metrics = final_metrics(trainer, history, time.perf_counter() - t0)
            rd.save_results(self.data.model(trainer.net), history, metrics, config.to_dict())
        outcome = "pruned" if reporter.pruned_at is not None else history.outcome.value
        if resumed:
            outcome += f" (resumed after epoch {start})"
        trial.set_user_attr("outcome", outcome)
        self.display.say(_trial_line(trial.number, outcome, metrics, trial.params))
        if reporter.pruned_at is not None:
            raise optuna.TrialPruned(history.stop_reason)
        return float(metrics["val_error"])

    def _check_count(self, trial: optuna.Trial) -> None:
        """Refuse ``trial`` if the trials before it (failed ones aside) already make the
        study's count: two workers asked for the last one at the same moment."""
        before = [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.number <= trial.number and t.state != TrialState.FAIL
        ]
        if len(before) > self.trials:
            trial.set_user_attr("surplus", True)
            raise _Surplus(f"trial {trial.number} is beyond the study's {self.trials}")

    def _train(self, trainer: Trainer, rd: RunDir, reporter: _Reporter) -> Any:
        # a resumed trial starts with no reports: give it the epochs already done
        for record in trainer.history:
            if reporter(record):
                return trainer.history
        with blas_threads(self.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingDiverged)  # the outcome records it
            return trainer.run([reporter], checkpoint=rd)

    @contextlib.contextmanager
    def _run_dir(
        self, trial: optuna.Trial, config: TrainConfig, trainer: Trainer
    ) -> Iterator[tuple[RunDir, bool]]:
        """The trial's run directory, locked, and whether it resumes a checkpoint.

        A retried trial continues in the directory of the trial it retries, from its
        checkpoint if it has one, when this machine can see it and no live process
        holds it; any other trial gets a new ``trial-NNNN`` of its own.
        """
        info = run_info(
            trainer, config, self.data.test_size, self.threads, sweep=self._sweep_info(trial)
        )
        info["data"].update(self.data.info())
        first = self._retried_number(trial.number)
        rd = None if first is None else self._reopen(self.out / _dir_name(first), config, info)
        resumed = rd is not None and rd.checkpoint_path.exists()
        if rd is None:
            rd = _create(self.out / _dir_name(trial.number), config, info)
        with rd:
            yield rd, resumed

    def _retried_number(self, number: int) -> int | None:
        """The number of the first trial that ``number`` retries, or None."""
        frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)

    def _reopen(self, path: Path, config: TrainConfig, info: dict) -> RunDir | None:
        """The run directory of a retried trial, if it is here and free."""
        if not (path / RunDir.CONFIG).is_file():
            return None
        try:
            rd = RunDir.open(path)
        except RunDirError:  # its worker still holds it (stalled, not dead)
            return None
        if rd.checkpoint_path.exists() and rd.config() == config:
            return rd
        rd.close()
        return RunDir.create(path, config, info, overwrite=True)

    def _sweep_info(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "study": self.study.study_name,
            "trial": trial.number,
            "storage": storages.shown(self.storage.url),
            "host": self.host,
        }


def _dir_name(number: int) -> str:
    return f"trial-{number:04d}"


def _create(path: Path, config: TrainConfig, info: dict) -> RunDir:
    try:
        return RunDir.create(path, config, info)
    except RunDirError:
        if not (path / RunDir.CONFIG).exists():
            raise
        raise RunDirError(
            f"{path} holds a run that is not this study's trial (was the study database "
            "replaced?): give the sweep another --out"
        ) from None


def _trial_line(number: int, outcome: str, metrics: dict, params: dict[str, Any]) -> str:
    shown = " ".join(f"{k}={_short(v)}" for k, v in params.items())
    return (
        f"trial {number:>4}  {outcome:<9}  val {100 * metrics['val_error']:6.2f}%  "
        f"{metrics['epochs']} epochs {metrics['seconds']:6.1f} s  {shown}"
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------- the calls


def sweep(
    study: str,
    trials: int,
    *,
    storage: str | None = None,
    space: SearchSpace | str | Path | dict | None = None,
    epochs: int = EPOCHS,
    data: str | Path | None = None,
    pruner: str = "median",
    timeout: float | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    threads: int | None = None,
    heartbeat: int = 10,
    report: bool = True,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run trials of the study ``study`` until it holds ``trials`` finished ones, between
    this process and every other worker on the same ``storage``.

    Args:
        storage: a SQLAlchemy URL (None: ``sqlite:///runs/sweeps.db``); give every worker
            the same ``postgresql+psycopg://user@host/db`` to spread a study over machines.
        space: a :class:`~deltanet.space.SearchSpace`, a TOML file's path, or a dict of
            the same entries, changing the default space.
        epochs: every trial's length (the space may not override it).
        data: what ``deltanet train --data`` takes: a folder of IDX files, a ``.npz``, a
            CSV/TSV/Parquet table or a folder of pictures (None: the embedded MNIST).
        pruner: "median", "hyperband" or "none": stops hopeless trials early, on their
            per-epoch validation error.
        timeout: start no trial after this many seconds.
        out: where the trials' run directories go (None: ``runs/<study>``).
        seed: seeds the sampler; two workers with the same seed repeat each other.
        threads: BLAS threads of this worker (None: the library's choice).
        heartbeat: seconds between a running trial's signs of life; a trial silent for
            three is failed and retried.
        report: work out the importances and write ``sweep.html`` and its plots into
            ``out`` at the end.
        progress: a bar over the study's finished trials; ``log``: where the line of
            each finished trial goes (default: above the bar, or nowhere).

    Returns:
        A :class:`SweepResult`; ``result.table()`` is what ``deltanet sweep`` prints.
    """
    _check_options(study, trials, pruner, timeout, epochs)
    the_space = _space(space, epochs)
    the_data = _Data(None if data is None else str(Path(data).expanduser().resolve()), the_space)
    out = Path("runs") / study if out is None else Path(out)
    t0 = time.perf_counter()
    rdb = storages.open_storage(storage, heartbeat)  # the first write: all checked by now
    with _optuna_quiet():
        the_study = _open_study(study, rdb, the_space, seed, pruner, epochs)
        display = _Display(progress, log, trials, study)
        worker = _Worker(
            the_study, rdb, the_space, the_data, out, trials, threads, min(2.0, heartbeat), display
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            worker.run(deadline)
        finally:
            display.close()
        result = _result(the_study, storages.shown(rdb.url), out if report else None)
    result.seconds = time.perf_counter() - t0
    return result


def _result(study: optuna.Study, url: str, out: Path | None) -> SweepResult:
    from deltanet import sweepreport

    if out is None:  # a worker among many: another one tells what mattered
        return SweepResult(study, url, counts(study), "importances: not worked out (no report)")
    importances = sweepreport.importances(study)
    result = SweepResult(study, url, counts(study), importances)
    result.report = sweepreport.write_report(result, out)
    return result


def _best_of(study: optuna.Study) -> BestTrial | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    t = min(complete, key=lambda t: (t.value, t.number))
    return BestTrial(
        t.number,
        float(t.value),
        TrainConfig.from_dict(t.user_attrs["config"]),
        t.user_attrs.get("run_dir", ""),
        t.user_attrs.get("host", ""),
    )


def best(study: str, storage: str | None = None) -> BestTrial:
    """The best complete trial of the study ``study`` in ``storage``.

    Raises:
        UserError: no such study there, or none of its trials has completed.
    """
    url = storage or storages.DEFAULT_URL
    storages.refuse_missing_file(url)
    rdb = storages.open_storage(url)
    with _optuna_quiet():
        try:
            found = optuna.load_study(study_name=study, storage=rdb)
        except KeyError:
            names = sorted(optuna.get_all_study_names(rdb))
            there = ", ".join(names) if names else "none"
            raise ConfigError(
                f"no study {study!r} in {storages.shown(url)} (the studies there: {there})"
            ) from None
        found_best = _best_of(found)
    if found_best is None:
        raise ConfigError(f"study {study!r} has no complete trial yet")
    if not math.isfinite(found_best.value):  # pragma: no cover - Optuna refuses NaN values
        raise ConfigError(f"study {study!r}: the best trial has no value")
    return found_best
