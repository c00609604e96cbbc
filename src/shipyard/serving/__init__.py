"""Deployment and serving: deployments with their rollout strategies, the prediction server, the
inference log, batch and stream scoring. See ``docs/serving.md``."""
