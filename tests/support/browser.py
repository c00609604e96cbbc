"""Driving the web UI in a real headless browser: Debian's Chromium under Playwright.

Playwright never downloads a browser here: the system's ``/usr/bin/chromium`` is launched. The
``browser`` and ``page`` fixtures live in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Site(Protocol):
    """A live server and the token of the user the pages are read as."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


def login(page: Page, site: Site, path: str = "/ui", token: str | None = None) -> None:
    """Open ``path``, log in on the form it redirects to, and wait to be back on ``path``."""
    page.goto(site.url + path)
    page.get_by_label("Token").fill(token or site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(site.url + path) + r"$"))
