"""One exception hierarchy for every Shipyard surface.

The SDK raises these; the server maps them to HTTP status codes (in ``server/errors.py``) and the
remote client maps the codes back, so a caller sees the same exception locally and remotely. The CLI
prints ``error: <message>`` on one line and exits non-zero. Nothing here knows about HTTP.
"""

from __future__ import annotations


class ShipyardError(Exception):
    """Base class of every error Shipyard raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The input field the error is about (``"filter"``, ``"metrics[3].value"``), when there is one.
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidInput(ShipyardError):
    """The caller gave a value that is malformed or out of range."""


class NotFound(ShipyardError):
    """The named object does not exist."""


class AlreadyExists(ShipyardError):
    """An object with that identity exists already."""


class Conflict(ShipyardError):
    """The request contradicts the current state (a param logged twice with another value, a run
    that has ended, ...)."""


class Unauthenticated(ShipyardError):
    """No credentials, or credentials that are unknown, expired or revoked."""


class PermissionDenied(ShipyardError):
    """The caller is known but may not do this."""


class CorruptArtifact(ShipyardError):
    """Stored bytes do not match their recorded digest."""


class BackendUnavailable(ShipyardError):
    """A configured backend (database, object store, server) cannot be reached."""


class ConfigError(ShipyardError):
    """The configuration is inconsistent or names something unknown."""


def error_class(name: str) -> type[ShipyardError] | None:
    """The Shipyard exception class called ``name`` (to rebuild an error sent over the wire)."""
    pending: list[type[ShipyardError]] = [ShipyardError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending.extend(cls.__subclasses__())
    return None


__all__ = [
    "AlreadyExists",
    "BackendUnavailable",
    "ConfigError",
    "Conflict",
    "CorruptArtifact",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "ShipyardError",
    "Unauthenticated",
    "error_class",
]
