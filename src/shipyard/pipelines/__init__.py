"""Pipelines: ``@step`` functions composed by ``@pipeline`` into a DAG, run on an executor, every run
and step recorded as a tracking run. See docs/pipelines.md."""
