"""Pipelines: ``@step`` functions composed by ``@pipeline`` into a DAG, run on an executor, every run
and step recorded as a tracking run. See docs/pipelines.md.

    from shipyard.pipelines import Model, pipeline, search, step
"""

from shipyard.pipelines.codecs import Model
from shipyard.pipelines.definition import pipeline, step
from shipyard.pipelines.search import SearchResult, search

__all__ = ["Model", "SearchResult", "pipeline", "search", "step"]
