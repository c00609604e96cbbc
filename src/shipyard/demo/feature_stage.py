"""The demo's feature store part: register the definitions, build the training set with a
point-in-time join, materialize the newest values online and read a few back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.demo.feature_repo import SERVICE, definitions, split_sources

if TYPE_CHECKING:
    from shipyard.client import Client
    from shipyard.features.model import TrainingDataset

DATASET = "churn_training"


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame  # labels + features, one row per customer-month
    dataset: TrainingDataset  # the saved, digested copy runs log as their input


def build_training_set(client: Client, data: pd.DataFrame, folder: Path, console: Console) -> TrainingSet:
    """Split ``data`` into source files, apply the feature definitions and join them onto the
    labels as of each label's time."""
    store = client.features
    paths = split_sources(data, folder)
    plan = store.apply(definitions(paths), actor=client.user)
    applied = ", ".join(f"{c.name} v{c.new_version}" for c in plan.to_write)
    console.print(f"Feature definitions applied: {escape(applied) or 'no changes'}.")
    labels = pd.read_parquet(paths["labels"])
    with console.status("Point-in-time join of the feature views onto the labels…"):
        frame = store.get_historical_features(labels, service=SERVICE)
        dataset = store.save_dataset(
            DATASET, frame, store.resolve(service=SERVICE), labels, actor=client.user
        )
    console.print(
        f"Training set {DATASET} v{dataset.version}: {dataset.num_rows:,} rows x {len(frame.columns)} "
        f"columns from feature service {SERVICE!r}, digest {dataset.digest[:19]}…"
    )
    return TrainingSet(frame, dataset)


def serve_online(client: Client, customers: list[str], end: datetime, console: Console) -> pd.DataFrame:
    """Materialize every online view up to ``end`` and read ``customers`` back from the online store."""
    store = client.features
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def report(view: str, done: int, total: int | None) -> None:
            if view not in tasks:
                tasks[view] = progress.add_task(f"Materializing {view:<18}", total=total)
            progress.update(tasks[view], completed=done, total=total)

        results = store.materialize_incremental(end=end + timedelta(seconds=1), progress=report)
    written = sum(r.keys_written for r in results)
    console.print(f"Materialized {len(results)} views online: {written:,} entity rows written.")
    response = store.get_online_features(service=SERVICE, entity_rows=[{"customer_id": c} for c in customers])
    frame = response.to_dataframe()
    frame["status"] = [_status(s) for s in response.statuses]
    table = Table(title=f"Online features (service {SERVICE!r})", title_justify="left", box=box.SIMPLE_HEAD)
    shown = ["customer_id", "contract", "tenure_months", "monthly_charges", "support_calls",
             "charge_per_tenure_month", "status"]  # fmt: skip
    for column in shown:
        table.add_column(
            column, justify="left" if column in ("customer_id", "contract", "status") else "right"
        )
    for row in frame[shown].itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    return frame


def _status(statuses: dict[str, str]) -> str:
    values = set(statuses.values())
    return "present" if values <= {"present"} else ", ".join(sorted(values - {"present"}))


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else escape(str(value))
