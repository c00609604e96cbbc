"""Every domain's tables on the one ``MetaData``: what the migrations must produce."""

from __future__ import annotations

from sqlalchemy import MetaData

import shipyard.accounts.tables
import shipyard.audit.tables
import shipyard.events.tables
import shipyard.features.tables
import shipyard.monitoring.tables
import shipyard.pipelines.tables
import shipyard.pipelines.triggers.tables
import shipyard.registry.tables
import shipyard.serving.tables
import shipyard.tracking.tables
from shipyard.storage.metadata.base import Base


def target_metadata() -> MetaData:
    return Base.metadata


__all__ = ["shipyard", "target_metadata"]
