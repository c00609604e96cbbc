"""Pipelines: steps composed into DAGs, their runs, and the triggers that start them."""
