"""Pipelines the tests run: importable by their code reference like a user's module."""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard.pipelines.codecs import Model
from shipyard.pipelines.definition import pipeline, step

#: How many times each step body ran in this process.
CALLS: collections.Counter[str] = collections.Counter()


@step
def load(rows: int = 10) -> pd.DataFrame:
    CALLS["load"] += 1
    print(f"loading {rows} rows")
    return pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [i % 2 for i in range(rows)]})


@step
def features(frame: pd.DataFrame, scale: float) -> pd.DataFrame:
    CALLS["features"] += 1
    out = frame.copy()
    out["x2"] = out["x"] * scale
    return out


@step
def train(frame: pd.DataFrame, c: float) -> Model:
    CALLS["train"] += 1
    X = frame[["x", "x2"]]
    model = LogisticRegression(C=c).fit(X, frame["y"])
    return Model(model, input_example=X.head(3))


@step
def evaluate(model: Model, frame: pd.DataFrame) -> dict[str, float]:
    CALLS["evaluate"] += 1
    X = frame[["x", "x2"]]
    return {"accuracy": float((model.model.predict(X) == frame["y"]).mean())}


@pipeline
def training(rows: int = 10, scale: float = 2.0, c: float = 1.0) -> None:
    """Load, featurize, train, evaluate."""
    frame = features(load(rows), scale)
    evaluate(train(frame, c), frame)


@step
def add(a: int, b: int) -> int:
    CALLS["add"] += 1
    return a + b


@step
def noop(previous: int) -> int:
    return previous + 1


@pipeline
def chain(length: int = 100) -> None:
    value = add(0, 0)
    for _ in range(99):
        value = noop(value)


@step(retries=2, retry_backoff=0.01)
def flaky(marker: str) -> str:
    """Fails until the marker file holds 2 (one failure per attempt before)."""
    CALLS["flaky"] += 1
    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError(f"flaky attempt {count + 1}")
    return "ok"


@pipeline
def retrying(marker: str) -> None:
    flaky(marker)


@step
def fail_unless(path: str) -> int:
    CALLS["fail_unless"] += 1
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return 1


@pipeline
def resumable(path: str) -> None:
    first = add(1, 2)
    noop(fail_unless(path))
    noop(first)


@step(timeout=0.2)
def slow(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@pipeline
def timing_out(seconds: float = 5.0) -> None:
    slow(seconds)


class Opaque:
    pass


@step
def opaque() -> object:
    return Opaque()


@pipeline
def unstorable() -> None:
    opaque()


@step(pickle=True)
def pickled() -> object:
    return Opaque()


@pipeline
def with_pickle() -> None:
    pickled()


@step
def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


@pipeline
def parallel(seconds: float = 1.0) -> None:
    add(sleep_then(seconds, 1), sleep_then(seconds, 2))


@step
def tune(frame: pd.DataFrame, n_trials: int) -> Model:
    import optuna

    from shipyard.pipelines import search

    X, y = frame[["x", "x2"]], frame["y"]

    def objective(trial: optuna.Trial) -> tuple[float, Model]:
        c = trial.suggest_float("c", 1e-3, 10.0, log=True)
        model = LogisticRegression(C=c).fit(X, y)
        score = float((model.predict(X) == y).mean())
        # Trials from the fourth on report a poor first value: the median pruner stops them.
        trial.report(score if trial.number < 3 else -1.0, 0)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return score, Model(model, input_example=X.head(3))

    best = search(objective, n_trials=n_trials, direction="maximize", n_jobs=2, seed=7).best_model
    assert best is not None
    return best


@pipeline
def tuning(n_trials: int = 6) -> None:
    tune(features(load(20), 2.0), n_trials)


class Crash(BaseException):
    """Stops a step body as a dying worker would: a search does not catch it as a failed trial."""


@step(retries=1, retry_backoff=0.01)
def tune_until_crash(marker: str, n_trials: int, crash_at: str, how: str, early: bool) -> Model:
    """A search whose objective appends each trial's number to ``marker`` (``refit N`` when the best
    model is fitted again); it crashes in the trials
    numbered in ``crash_at`` ("2,4") (``how``: ``raise`` a :class:`Crash`, or ``exit`` the process)."""
    import optuna

    from shipyard.pipelines import search

    log, crashes = Path(marker), {int(n) for n in crash_at.split(",") if n}
    X = pd.DataFrame({"x": [float(i) for i in range(20)]})
    y = [int(i >= 10) for i in range(20)]

    def objective(trial: optuna.Trial) -> tuple[float, Model]:
        c = trial.suggest_float("c", 1e-3, 10.0, log=True)
        refit = isinstance(trial, optuna.trial.FixedTrial)
        with log.open("a") as out:
            out.write(f"{'refit ' if refit else ''}{trial.number}\n")
        if trial.number in crashes and not refit:
            if how == "exit":
                os._exit(1)
            raise Crash(f"crashed in trial {trial.number}")
        model = LogisticRegression(C=c).fit(X, y)
        # The largest c is the best, or (``early``) the first trial.
        return (-trial.number if early else c), Model(model, input_example=X.head(3))

    best = search(objective, n_trials=n_trials, direction="maximize", seed=3).best_model
    assert best is not None
    return best


@pipeline
def crashing_search(
    marker: str, n_trials: int = 5, crash_at: str = "2", how: str = "raise", early: bool = False
) -> None:
    tune_until_crash(marker, n_trials, crash_at, how, early)


@pipeline
def sleeping(seconds: float = 60.0) -> None:
    """One long step: a live run whose only sign of life is its heartbeat."""
    sleep_then(seconds, 1)
