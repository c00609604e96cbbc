"""Monitoring: monitors over a deployment's inference log (data quality, drift against the training
reference, performance once labels arrive and estimated before, operations, stability, age), alerts
that notify and publish ``drift.detected`` / ``performance.degraded`` into the event log."""
