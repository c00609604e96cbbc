"""A synthetic, seeded customer-churn dataset: customers observed once a month.

Every month each active customer gets one row; ``churned`` says whether they leave at the end of
that month, drawn from a logistic model of their contract, tenure, charges, support calls, payment
method and internet service. A customer who leaves is replaced by a new one (tenure 0), so the
number of rows is ``customers * months``. Two things are planted on purpose:

* a sensitive attribute with a mild effect: older customers (``age_band`` 65+) choose
  month-to-month contracts and electronic checks more often and churn a little more by themselves,
  so a fairness check across ``age_band`` (or ``gender``, with a smaller effect) has something to show;
* drift: from month 9 on, charges rise and support calls become more frequent, month by month, so a
  monitor comparing the last months with the training months sees it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MONTHS = 12
FIRST_MONTH = pd.Timestamp("2024-01-31", tz="UTC")
DRIFT_FROM = 8  # zero-based month index where drift starts

CONTRACTS = np.array(["month-to-month", "one-year", "two-year"])
PAYMENTS = np.array(["electronic check", "mailed check", "bank transfer", "credit card"])
INTERNET = np.array(["fiber optic", "dsl", "none"])
REGIONS = np.array(["north", "south", "east", "west"])
GENDERS = np.array(["female", "male"])
AGE_BANDS = np.array(["18-29", "30-44", "45-64", "65+"])

Array = np.ndarray[Any, Any]


def _pick(rng: np.random.Generator, options: Array, probabilities: Array) -> Array:
    """One choice per row of ``probabilities`` (shape: rows x options)."""
    cumulative = probabilities.cumsum(axis=1)
    cumulative /= cumulative[:, -1:]
    index = (rng.random((len(probabilities), 1)) > cumulative).sum(axis=1)
    picked: Array = options[np.minimum(index, len(options) - 1)]
    return picked


def _new_customers(rng: np.random.Generator, count: int, first_id: int, initial: bool) -> pd.DataFrame:
    """Static attributes of ``count`` customers; ``initial`` ones have been around a while."""
    age = rng.choice(AGE_BANDS, size=count, p=[0.22, 0.30, 0.30, 0.18])
    senior = (age == "65+").astype(float)
    young = (age == "18-29").astype(float)
    m2m = 0.50 + 0.15 * senior + 0.05 * young
    contract = _pick(rng, CONTRACTS, np.column_stack([m2m, (1 - m2m) * 0.55, (1 - m2m) * 0.45]))
    echeck = 0.28 + 0.12 * senior + 0.10 * (contract == "month-to-month")
    payment = _pick(
        rng, PAYMENTS, np.column_stack([echeck, (1 - echeck) / 3, (1 - echeck) / 3, (1 - echeck) / 3])
    )
    internet = rng.choice(INTERNET, size=count, p=[0.45, 0.35, 0.20])
    base = 20 + np.select([internet == "fiber optic", internet == "dsl"], [60.0, 35.0], 0.0)
    base = np.clip(base + rng.normal(10, 9, count), 18.0, None)
    if initial:
        scale = np.select([contract == "two-year", contract == "one-year"], [40.0, 24.0], 10.0)
        tenure = np.minimum(rng.exponential(scale), 72).astype(int)
    else:
        tenure = np.zeros(count, dtype=int)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(first_id, first_id + count)],
            "tenure_months": tenure,
            "base_charge": base,
            "total_charges": np.round(tenure * base, 2),
            "contract": contract,
            "payment_method": payment,
            "internet_service": internet,
            "region": rng.choice(REGIONS, size=count, p=[0.3, 0.25, 0.25, 0.2]),
            "gender": rng.choice(GENDERS, size=count),
            "age_band": age,
            "call_rate": rng.gamma(2.0, 0.2, count) + 0.25 * (internet == "fiber optic"),
        }
    )


def churn_probability(month: pd.DataFrame) -> Array:
    """The true probability that each customer leaves at the end of the month."""
    fiber = month["internet_service"] == "fiber optic"
    logit = (
        -4.0
        + 1.7 * (month["contract"] == "month-to-month")
        + 0.5 * (month["contract"] == "one-year")
        - 0.04 * month["tenure_months"]
        + 0.8 * (month["tenure_months"] < 4)
        + 0.025 * (month["monthly_charges"] - 65)
        + 0.4 * month["support_calls"]
        + 0.9 * (fiber & (month["support_calls"] >= 2))
        + 0.5 * (month["payment_method"] == "electronic check")
        + 0.3 * fiber
        + 0.30 * (month["age_band"] == "65+")
        + 0.10 * (month["gender"] == "male")
        + 0.15 * (month["region"] == "south")
    )
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def generate_churn_data(rows: int = 60_000, seed: int = 7, months: int = MONTHS) -> pd.DataFrame:
    """About ``rows`` customer-month rows (``rows // months`` customers), sorted by time."""
    if months < 2 or rows < months:
        raise ValueError(f"need at least 2 months and one customer, got rows={rows}, months={months}")
    rng = np.random.default_rng(seed)
    customers = rows // months
    active = _new_customers(rng, customers, 0, initial=True)
    next_id = customers
    frames = []
    for index in range(months):
        drift = max(0, index - DRIFT_FROM + 1)
        month = active.copy()
        month["event_timestamp"] = FIRST_MONTH + pd.offsets.MonthEnd(index)
        charges = month["base_charge"] * (1 + 0.025 * drift) * rng.normal(1.0, 0.02, len(month))
        month["monthly_charges"] = np.round(charges, 2)
        month["support_calls"] = rng.poisson(month["call_rate"] * (1 + 0.12 * drift))
        month["total_charges"] = np.round(month["total_charges"] + month["monthly_charges"], 2)
        month["churned"] = (rng.random(len(month)) < churn_probability(month)).astype("int8")
        frames.append(month)
        stay = month[month["churned"] == 0]
        active = stay[active.columns].assign(tenure_months=stay["tenure_months"] + 1)
        joined = _new_customers(rng, customers - len(active), next_id, initial=False)
        next_id += len(joined)
        active = pd.concat([active, joined], ignore_index=True)
    data = pd.concat(frames, ignore_index=True)
    columns = [
        "event_timestamp",
        "customer_id",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "contract",
        "payment_method",
        "support_calls",
        "internet_service",
        "region",
        "gender",
        "age_band",
        "churned",
    ]
    return data[columns].reset_index(drop=True)


def split_by_time(data: pd.DataFrame, validation_months: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on every month but the last ``validation_months``; validate on those."""
    months = np.sort(data["event_timestamp"].unique())
    if len(months) <= validation_months:
        raise ValueError(f"need more than {validation_months} months to split, got {len(months)}")
    cutoff = months[-validation_months]
    return (
        data[data["event_timestamp"] < cutoff].reset_index(drop=True),
        data[data["event_timestamp"] >= cutoff].reset_index(drop=True),
    )
