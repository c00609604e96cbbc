"""Names of what the demo creates beyond its runs and model versions, so later stages (and a
monitoring loop that retrains through the same pipeline and watches the same deployment) can find
them."""

from __future__ import annotations

#: The training pipeline (its runs are in the experiment ``pipelines/churn-training``).
PIPELINE = "churn-training"
#: Fires the training pipeline at 03:00 UTC on the first day of every month.
SCHEDULE_TRIGGER = "churn-monthly"
SCHEDULE_CRON = "0 3 1 * *"
#: Fires the training pipeline when the activity feature view's source file changes.
NEW_DATA_TRIGGER = "churn-new-activity"
WATCHED_VIEW = "customer_activity"
#: The registry alias the pipeline points at the version it registers.
CANDIDATE_ALIAS = "candidate"
#: The deployment that serves the champion and canaries the candidate.
DEPLOYMENT = "churn-api"
#: The batch scoring output, in the demo's data folder.
SCORED_FILE = "scored.parquet"
