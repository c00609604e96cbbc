"""Serving feature values: entity key encoding (:mod:`.keys`), value records (:mod:`.codec`) and
the online reader (:mod:`.reader`). Materialization writes what the reader reads
(:mod:`shipyard.features.materialize`)."""

from __future__ import annotations

from shipyard.features.online.codec import ValueCodec
from shipyard.features.online.keys import KeyEncoder
from shipyard.features.online.reader import (
    EXPIRED,
    NOT_FOUND,
    PRESENT,
    OnlineReader,
    OnlineResponse,
    namespace,
)

__all__ = [
    "EXPIRED",
    "NOT_FOUND",
    "PRESENT",
    "KeyEncoder",
    "OnlineReader",
    "OnlineResponse",
    "ValueCodec",
    "namespace",
]
