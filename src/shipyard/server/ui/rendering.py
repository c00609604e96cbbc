"""Jinja2 templates (autoescaped) and the filters that format tracking values for people."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shipyard.accounts.model import Principal
from shipyard.server.ui.tracking_views import PER_PAGE, identifier

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
DASH = "—"


def when(value: datetime | None) -> str:
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def number(value: float | None) -> str:
    if value is None:
        return DASH
    if math.isnan(value):
        return "NaN"
    return f"{value:.5g}"


def short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def size(n: int | None) -> str:
    if n is None:
        return DASH
    amount = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def url_path(path: str) -> str:
    """A run-relative artifact path as a URL path (slashes kept, everything else quoted)."""
    return quote(path, safe="/")


@functools.cache
def templates() -> Jinja2Templates:
    """Built on first use, not at import (importing the server reads no files)."""
    tpl = Jinja2Templates(directory=TEMPLATES)
    tpl.env.filters.update(
        when=when, duration=duration, number=number, short=short_digest, size=size, url_path=url_path
    )
    from shipyard.server.ui.charts import plotly_js_url  # charts routes import this module

    tpl.env.globals.update(ident=identifier, per_page_default=PER_PAGE, plotly_js=plotly_js_url())
    return tpl


def render(
    request: Request, template: str, context: Mapping[str, object], *, status_code: int = 200
) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``user``, the signed-in principal (or None)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    full = {"user": principal.user.name if principal else None, **context}
    response: HTMLResponse = templates().TemplateResponse(request, template, full, status_code=status_code)
    return response
