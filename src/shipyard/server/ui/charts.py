"""The charting library of the UI: plotly.js, as the ``plotly`` Python package ships it, served by
our own server (no CDN: a Shipyard server often has no internet, and neither do its users).

A page that draws charts includes ``{{ plotly_js }}`` in a ``<script src>``; the URL carries the
package's version, so browsers may cache it for good.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shipyard.errors import NotFound
from shipyard.server.ui.routing import UI_PREFIX

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


@cache
def plotly_version() -> str:
    return version("plotly")


def plotly_js_url() -> str:
    return f"{UI_PREFIX}/vendor/plotly-{plotly_version()}.min.js"


@cache
def _bundle() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@router.get("/vendor/plotly-{requested}.min.js")
def plotly_js(requested: str) -> FileResponse:
    if requested != plotly_version():
        raise NotFound(
            f"no plotly.js {requested!r} here; this server has {plotly_version()}", field="version"
        )
    return FileResponse(
        _bundle(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
