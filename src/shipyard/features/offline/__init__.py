"""The offline feature store: DuckDB over files, SQL tables and pushed rows."""

from __future__ import annotations

from shipyard.features.offline.store import OfflineStore

__all__ = ["OfflineStore"]
