"""The feature store: definitions in Python (:mod:`.model`), registered as immutable versions
(:mod:`.planner`, :mod:`.catalog`), point-in-time retrieval by DuckDB (:mod:`.offline`), an online
store kept fresh by materialization (:mod:`.materialize`, :mod:`.online`), training datasets
(:mod:`.datasets`) and statistics. :class:`shipyard.features.service.FeatureStore` is the facade the
SDK, the CLI and the server call. Point-in-time semantics are documented in :mod:`.model`.
"""
