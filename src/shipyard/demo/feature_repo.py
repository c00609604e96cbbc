"""The demo's feature definitions: what a team would keep in its feature repository.

The churn data is split the way it would arrive in a company: a customer profile table, a monthly
activity table and the labels. Models are trained on a point-in-time join of the first two onto
the labels, and served the same features from the online store.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd

from shipyard.features.model import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
)

PROFILE_COLUMNS = (
    "tenure_months",
    "total_charges",
    "contract",
    "payment_method",
    "internet_service",
    "region",
)
ACTIVITY_COLUMNS = ("monthly_charges", "support_calls")
#: The columns that stay with the labels (the entity frame): who, when, the outcome, and the
#: attributes a fairness review needs but the model must not see.
LABEL_COLUMNS = ("customer_id", "event_timestamp", "churned", "age_band", "gender")
SERVICE = "churn_model"


def charge_per_tenure_month(frame: pd.DataFrame) -> pd.DataFrame:
    """What a customer pays now relative to how long they have stayed."""
    return pd.DataFrame({"charge_per_tenure_month": frame["monthly_charges"] / (frame["tenure_months"] + 1)})


def split_sources(data: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write the profile, activity and label files the definitions read; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = ["customer_id", "event_timestamp"]
    paths = {
        "profile": folder / "customer_profile.parquet",
        "activity": folder / "customer_activity.parquet",
        "labels": folder / "churn_labels.parquet",
    }
    data[[*keys, *PROFILE_COLUMNS]].to_parquet(paths["profile"], index=False)
    data[[*keys, *ACTIVITY_COLUMNS]].to_parquet(paths["activity"], index=False)
    data[list(LABEL_COLUMNS)].to_parquet(paths["labels"], index=False)
    return paths


def definitions(paths: dict[str, Path]) -> list[Definition]:
    customer = Entity(
        "customer", join_keys={"customer_id": "string"}, description="A subscriber.", owner="growth"
    )
    profile = FeatureView(
        "customer_profile",
        entities=[customer],
        features=[
            Field("tenure_months", "int64", description="Months since the customer joined."),
            Field("total_charges", "float64", description="Everything billed so far."),
            Field("contract", "string", description="month-to-month, one-year or two-year."),
            Field("payment_method", "string"),
            Field("internet_service", "string"),
            Field("region", "string"),
        ],
        source=FileSource("customer_profile_file", str(paths["profile"])),
        description="Contract and account attributes, snapshotted monthly.",
        owner="growth",
        tags={"team": "growth", "pii": "no"},
    )
    activity = FeatureView(
        "customer_activity",
        entities=[customer],
        features=[
            Field("monthly_charges", "float64", description="This month's bill."),
            Field("support_calls", "int64", description="Calls to support this month."),
            Field("frequent_caller", "bool", description="Two or more support calls this month."),
        ],
        source=FileSource("customer_activity_file", str(paths["activity"])),
        transformation="SELECT *, support_calls >= 2 AS frequent_caller FROM source",
        ttl=timedelta(days=45),
        description="Monthly usage; older than 45 days is too stale to score with.",
        owner="growth",
        tags={"team": "growth"},
    )
    ratio = OnDemandFeatureView(
        "charge_ratio",
        sources=[activity, profile],
        features=[Field("charge_per_tenure_month", "float64")],
        function=charge_per_tenure_month,
        description="Computed at request time from the two views above.",
        owner="growth",
    )
    service = FeatureService(
        SERVICE,
        [
            "customer_profile",
            "customer_activity:monthly_charges",
            "customer_activity:support_calls",
            "customer_activity:frequent_caller",
            "charge_ratio",
        ],
        description="What the churn model is trained and served with.",
        owner="growth",
    )
    return [customer, profile, activity, ratio, service]
