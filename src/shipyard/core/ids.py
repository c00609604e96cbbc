"""Identifiers: 32 hex characters, time-ordered (48-bit milliseconds + 80 random bits, like UUIDv7),
so ids sort by creation and index well."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


def is_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
