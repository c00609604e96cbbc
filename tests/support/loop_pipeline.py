"""The retraining pipeline of the closed-loop test: fit on recent (drifted) labelled data, register
the candidate, put it through the registry's gates, and start a canary of it on the deployment.
Steps reach the stores through the process's default client, as a user's pipeline would."""

from __future__ import annotations

import pandas as pd
from sklearn.base import clone

from shipyard.client.fluent import get_client
from shipyard.pipelines import Model, pipeline, step
from shipyard.registry.entities import Stage
from shipyard.serving.model import CanaryPolicy
from support.monitoring import drifted
from support.registry_models import FEATURES, LABEL, churn_data, train

DEPLOYMENT = "churn-loop"
#: Decides within a test: every step needs 30 requests per version, no time at a step.
POLICY = CanaryPolicy(
    steps=(50, 100), step_seconds=0, min_requests=30, max_error_rate=0.05, max_p99_ratio=20.0,
    min_agreement=0.5, progress_deadline_seconds=3600, promote_alias="champion",
)  # fmt: skip


@step(cache=False)
def recent(rows: int) -> pd.DataFrame:
    """The latest labelled customers: the drifted population the alert saw."""
    train_frame, _ = churn_data()
    return drifted(train_frame).head(rows).reset_index(drop=True)


@step
def fit(frame: pd.DataFrame) -> Model:
    model = clone(train(FEATURES)).fit(frame[FEATURES], frame[LABEL])
    return Model(model, input_example=frame[FEATURES].head(5))


@step
def release(model: Model, frame: pd.DataFrame) -> dict[str, object]:
    """Register the candidate, gate it for staging, and canary it on the deployment if it passes."""
    client = get_client()
    with client.start_run(experiment="churn", name="retrained", tags={"source": "closed-loop"}) as run:
        run.log_model(model.model, "model", input_example=model.input_example)
    version = client.registry.create_version("churn", run.id, actor=client.user)
    report = client.registry.evaluate_gates(
        "churn", version.version, Stage.STAGING, frame, label=LABEL, actor=client.user
    )
    if not report.passed:
        return {"version": version.version, "canary": False}
    client.registry.transition("churn", version.version, Stage.STAGING, actor=client.user)
    client.deployments.deploy(
        DEPLOYMENT, "churn@champion", strategy="canary", challenger=f"churn@{version.version}",
        canary=POLICY, actor=client.user,
    )  # fmt: skip
    return {"version": version.version, "canary": True}


@pipeline(name="churn-retrain")  # type: ignore[untyped-decorator]
def retrain(rows: int = 1500) -> None:
    """Retrain on recent data, gate, canary."""
    frame = recent(rows)
    release(fit(frame), frame)
