"""Hyperparameter search inside a step, on Optuna.

    @step
    def tune(frame: pd.DataFrame) -> Model:
        def objective(trial: optuna.Trial) -> tuple[float, Model]:
            c = trial.suggest_float("c", 1e-3, 10, log=True)
            for epoch in range(5):
                score = ...
                trial.report(score, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return score, Model(fitted, input_example=X.head())
        return search(objective, n_trials=20, direction="maximize").best_model

Trials run ``n_jobs`` at a time in the step's worker (wherever the executor put the step). Each
trial is recorded as a run nested under the step's run (its parameters, value, state and the
values it reported), and the step's run gets the best parameters (``best.<name>``) and value. The
best model is the step's output.

Inside a pipeline the study itself lives in Optuna's RDB storage beside the metadata database
(see :mod:`shipyard.pipelines.studies`), so a search step that runs again after a failure (a
retry, or ``resume``) continues its study: finished trials are not run again, only the
``n_trials`` still missing. The model of a best trial that finished before the failure is fitted
again once from its parameters (with a fixed trial, not recorded as a new trial). Outside a
pipeline the study is in memory.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.pipelines.codecs import Model
from shipyard.pipelines.studies import StudyScope, fail_interrupted, open_storage

#: Trials of the searches a step body ran, collected by :func:`shipyard.pipelines.executors.run_task`.
TRIALS: contextvars.ContextVar[list[TrialRecord] | None] = contextvars.ContextVar(
    "search_trials", default=None
)
#: Where this step attempt's studies live, set by :func:`shipyard.pipelines.executors.run_task`,
#: and how many searches the attempt has started (each search of a step is its own study).
SCOPE: contextvars.ContextVar[tuple[StudyScope, list[int]] | None] = contextvars.ContextVar(
    "search_scope", default=None
)
MAX_TRIALS = 10_000


@dataclass
class TrialRecord:
    """One finished trial, as recorded (a nested run of the step's run)."""

    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    params: dict[str, Any]
    value: float | None
    intermediate: dict[int, float] = field(default_factory=dict)
    best: bool = False  # the study's best trial


@dataclass
class SearchResult:
    best_params: dict[str, Any]
    best_value: float
    best_model: Model | None
    trials: list[TrialRecord]


def search(
    objective: Callable[[Any], float | tuple[float, Model]],
    *,
    n_trials: int,
    direction: str = "maximize",
    n_jobs: int = 1,
    seed: int | None = None,
    pruner: Any = None,
    timeout: float | None = None,
) -> SearchResult:
    """Run an Optuna study of ``objective`` (returning a score, or a score and its model);
    pruning uses ``pruner`` (default: Optuna's median pruner)."""
    import optuna

    if not isinstance(n_trials, int) or not 1 <= n_trials <= MAX_TRIALS:
        raise InvalidInput(f"n_trials must be 1-{MAX_TRIALS}, got {n_trials!r}", field="n_trials")
    if direction not in ("maximize", "minimize"):
        raise InvalidInput(f"direction must be maximize or minimize, got {direction!r}", field="direction")
    if not isinstance(n_jobs, int) or not 1 <= n_jobs <= 64:
        raise InvalidInput(f"n_jobs must be 1-64, got {n_jobs!r}", field="n_jobs")
    models: dict[int, Model] = {}
    gives_models: list[bool] = []  # what the objective returned in this attempt

    def wrapped(trial: optuna.Trial) -> float:
        outcome = objective(trial)
        gives_models.append(isinstance(outcome, tuple))
        if isinstance(outcome, tuple):
            value, model = outcome
            models[trial.number] = model
            return float(value)
        return float(outcome)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, name = _storage()
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        load_if_exists=True,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(n_startup_trials=2),
    )
    if study.direction.name.lower() != direction:
        raise InvalidInput(
            f"study {name!r} was started to {study.direction.name.lower()}, not {direction}",
            field="direction",
        )
    remaining = n_trials - fail_interrupted(storage, study) if storage is not None else n_trials
    earlier = len(study.get_trials(deepcopy=False))
    if seed is not None and earlier:  # a continued study: the same seed would repeat its trials
        study.sampler = optuna.samplers.TPESampler(seed=seed + earlier)
    if remaining > 0:
        study.optimize(wrapped, n_trials=remaining, n_jobs=n_jobs, timeout=timeout, catch=(Exception,))
    trials = [
        TrialRecord(
            number=t.number,
            state=t.state.name,
            params=dict(t.params),
            value=t.value,
            intermediate={int(k): float(v) for k, v in t.intermediate_values.items()},
        )
        for t in study.trials
        if t.state.is_finished()
    ]
    collected = TRIALS.get()
    if collected is not None:
        collected.extend(trials)
    if not any(t.state == "COMPLETE" for t in trials):
        raise RuntimeError(f"no trial of {len(trials)} completed (all pruned or failed)")
    best = study.best_trial
    for t in trials:
        t.best = t.number == best.number
    model = models.get(best.number)
    if model is None and storage is not None and (gives_models or [True])[-1]:
        model = _refit(objective, best)  # the best trial finished in an earlier attempt
    if model is not None:
        model.metrics = {**model.metrics, "best_value": float(best.value or 0.0)}
    return SearchResult(dict(best.params), float(best.value or 0.0), model, trials)


def _storage() -> tuple[Any, str | None]:
    """The storage and study name of the next search of this step attempt (None: in memory)."""
    scope = SCOPE.get()
    if scope is None or scope[0].url is None:
        return None, None
    where, started = scope
    started[0] += 1
    return open_storage(where), f"{where.name}/{started[0]}"


def _refit(objective: Callable[[Any], float | tuple[float, Model]], best: Any) -> Model | None:
    """The model of a best trial that finished in an earlier attempt: its objective again, with
    the trial's parameters fixed."""
    import optuna

    outcome = objective(optuna.trial.FixedTrial(dict(best.params), best.number))
    return outcome[1] if isinstance(outcome, tuple) else None
