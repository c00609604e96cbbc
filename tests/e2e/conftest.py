"""Browser fixtures for the web UI tests (``test_ui*.py``).

Without ``/usr/bin/chromium`` the UI tests are skipped on a workstation and fail under CI
(``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from support.browser import CHROMIUM, CHROMIUM_ARGS
from support.databases import unavailable
from support.whole_demo import WholeDemo, run_whole_demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module (Playwright's loop ends with it, before other modules run); each
    test gets its own context (see :func:`page`)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: no cookies carried over."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def whole_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WholeDemo]:
    """The demo, run once per test process; see :mod:`support.whole_demo`."""
    yield from run_whole_demo(tmp_path_factory.mktemp("whole-demo"))
