"""The run tags Shipyard itself sets and reads. Their names are API: users filter runs on them
(``tags.`shipyard.feature_service` = 'churn_features'``) and pipelines set them, so they do not
change. Tags whose names start with ``shipyard.`` are Shipyard's own."""

from __future__ import annotations

#: The feature service a run's training data was built from: set when a run logs a feature store
#: training dataset as its input; a model version registered from the run records it.
FEATURE_SERVICE = "shipyard.feature_service"

#: Set to :data:`VALIDATION_PASSED` once a pipeline's data validation step passed for the run's
#: data; the registry's ``require_validation`` gate accepts it in place of its own check.
VALIDATION = "shipyard.validation"
VALIDATION_PASSED = "passed"
