"""The base of every domain event: a frozen dataclass of primitives with a dotted ``TYPE``.

Each domain declares its events in ``shipyard/<domain>/events.py``, a leaf module that imports only
``shipyard.core``, so another domain may import it to subscribe by type. The event log
(:mod:`shipyard.events`) stores them; this module does no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar

#: A dotted event type: lower-case words joined by dots, e.g. ``model.promoted``.
TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
TYPE_MAX_LENGTH = 100


@dataclass(frozen=True)
class Event:
    """A fact a domain publishes in the transaction of the change it describes."""

    TYPE: ClassVar[str]

    def payload(self) -> dict[str, object]:
        """The event's fields as a JSON-safe dict (fields are primitives: ids, names, versions)."""
        return dataclasses.asdict(self)


def is_event_type(value: str) -> bool:
    return len(value) <= TYPE_MAX_LENGTH and TYPE_PATTERN.fullmatch(value) is not None
