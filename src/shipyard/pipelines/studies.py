"""Where search studies live, so a search step re-run after a failure continues its study.

Optuna's own RDB storage keeps each study; it sits beside the metadata database, never in its
tables (Optuna brings its own schema and its own Alembic version table, which would collide with
ours): on PostgreSQL in the schema :data:`SCHEMA` of the same database, on SQLite in the file
``<name>-studies.db`` next to the database file. An in-memory SQLite database keeps studies in
memory. No second database server to run.

A step attempt carries a :class:`StudyScope`: the storage and a study name that stays the same
when the step runs again for the same pipeline run (a retry, or a resumed run) with the same code
and inputs. Trials a killed attempt left RUNNING are failed and marked :data:`INTERRUPTED`, and
do not count towards ``n_trials``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from shipyard.storage.metadata.engine import SQLITE_BUSY_TIMEOUT_S, is_sqlite, make_engine

if TYPE_CHECKING:
    import optuna

#: The PostgreSQL schema of Optuna's tables.
SCHEMA = "shipyard_optuna"
#: System attribute set on a trial that was running when its attempt died.
INTERRUPTED = "shipyard:interrupted"

_storages: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class StudyScope:
    """Where the searches of one step attempt keep their studies (``url`` None: in memory)."""

    url: str | None
    schema: str | None
    name: str


def location(db_url: str) -> tuple[str | None, str | None]:
    """The Optuna storage URL and schema beside the metadata database at ``db_url``."""
    if is_sqlite(db_url):
        database = make_url(db_url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None, None
        path = Path(database)
        return f"sqlite:///{path.with_name(path.stem + '-studies.db').as_posix()}", None
    url = make_url(db_url)
    if url.drivername in ("postgresql", "postgres"):  # psycopg 3, as for the metadata database
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False), SCHEMA


def open_storage(scope: StudyScope) -> optuna.storages.RDBStorage:
    """Optuna's storage for ``scope`` (created on first use; one per process and location)."""
    import optuna

    assert scope.url is not None
    key = (scope.url, scope.schema)
    with _lock:
        storage = _storages.get(key)
        if storage is None:
            if scope.schema is not None:
                _create_schema(scope.url, scope.schema)
                engine_kwargs: dict[str, Any] = {
                    "connect_args": {"options": f"-csearch_path={scope.schema}"},
                    "pool_pre_ping": True,
                }
            else:
                engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
            storage = _storages[key] = optuna.storages.RDBStorage(scope.url, engine_kwargs=engine_kwargs)
        return storage


def _create_schema(url: str, schema: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except DBAPIError:  # another process created it at the same moment
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
            ).first()
        if found is None:
            raise
    finally:
        engine.dispose()


def fail_interrupted(storage: optuna.storages.BaseStorage, study: optuna.Study) -> int:
    """Fail the trials a dead attempt left RUNNING (this step is their only runner); return how
    many finished trials count towards the study's ``n_trials``."""
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    counted = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state is TrialState.RUNNING:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_system_attr(trial_id, INTERRUPTED, True)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        elif trial.state.is_finished() and not trial.system_attrs.get(INTERRUPTED):
            counted += 1
    return counted
