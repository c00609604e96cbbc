"""What each role may do, written out by hand, independently of ``shipyard.accounts.permissions``:
the contract with users that the permissions module and every route are checked against."""

from __future__ import annotations

VIEWER = frozenset(
    {
        "tracking.read",
        "artifacts.read",
        "models.read",
        "features.read",
        "pipelines.read",
        "deployments.read",
        "deployments.predict",
        "events.read",
        "monitoring.read",
        "system.metrics",
        "account.self",
    }
)
CONTRIBUTOR = VIEWER | {
    "tracking.write",
    "artifacts.write",
    "models.write",
    "features.write",
    "pipelines.write",
    "pipelines.run",
    "monitoring.write",
    "monitoring.labels",
}
REVIEWER = VIEWER | {"models.approve", "audit.read"}
DEPLOYER = VIEWER | {"models.deploy", "deployments.write", "monitoring.write", "monitoring.labels"}
ADMIN = CONTRIBUTOR | REVIEWER | DEPLOYER | {"admin"}

#: role -> the actions its (global) grant allows.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "contributor": CONTRIBUTOR,
    "reviewer": REVIEWER,
    "deployer": DEPLOYER,
    "admin": ADMIN,
}
