"""What each role may do, written out by hand, independently of ``shipyard.accounts.permissions``:
the contract with users that the permissions module and every route are checked against."""

from __future__ import annotations

VIEWER = frozenset(
    {
        "tracking.read",
        "artifacts.read",
        "models.read",
        "features.read",
        "events.read",
        "system.metrics",
        "account.self",
        "deployments.predict",
    }
)
CONTRIBUTOR = VIEWER | {"tracking.write", "artifacts.write", "models.write", "features.write"}
REVIEWER = VIEWER | {"models.approve", "audit.read"}
DEPLOYER = VIEWER | {"models.deploy"}
ADMIN = CONTRIBUTOR | REVIEWER | DEPLOYER | {"admin"}

#: role -> the actions its (global) grant allows.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "contributor": CONTRIBUTOR,
    "reviewer": REVIEWER,
    "deployer": DEPLOYER,
    "admin": ADMIN,
}
