"""The SDK: :class:`Client` (embedded or remote) and the run object it starts."""

from shipyard.client.client import Client
from shipyard.client.run import ActiveRun

__all__ = ["ActiveRun", "Client"]
