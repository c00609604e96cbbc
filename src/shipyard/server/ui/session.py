"""Signing in and out of the web UI: a pasted API token becomes the ``shipyard_token`` cookie.

The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict (other sites cannot make the
browser send it) and Secure when the page was served over HTTPS or the ``https`` setting is on (a
proxy terminating TLS). Login and logout refuse other sites' posts (see
:mod:`shipyard.server.guard`). Requests carrying it are
authenticated by :func:`shipyard.server.deps.authorize`, like bearer tokens.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shipyard.errors import Unauthenticated
from shipyard.server.deps import TOKEN_COOKIE, get_app
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import LOGIN_PATH, UI_PREFIX, UIRoute, safe_next

router = APIRouter(prefix=UI_PREFIX, route_class=UIRoute, include_in_schema=False)

#: Why the login page is shown, by the ``reason`` the redirect to it gives (never free text).
REASONS = {"expired": "Your session ended (the token expired or was revoked). Paste a new token."}
MAX_FORM_BYTES = 16 * 1024


@router.get("/login")
def login_form(
    request: Request,
    next_page: Annotated[str, Query(alias="next")] = "",
    reason: Annotated[str, Query()] = "",
) -> HTMLResponse:
    return render(request, "login.html", {"next": safe_next(next_page), "notice": REASONS.get(reason)})


@router.post("/login", response_model=None)
async def login(
    request: Request, sec_fetch_site: Annotated[str, Header()] = ""
) -> HTMLResponse | RedirectResponse:
    if sec_fetch_site == "cross-site":  # another site posting its own token into this browser
        return render(
            request, "login.html", {"next": UI_PREFIX, "error": "cross-site login refused"}, status_code=403
        )
    form = await _read_form(request)
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    try:
        await run_in_threadpool(get_app(request).accounts.authenticate, token)
    except Unauthenticated as exc:
        error = "Paste a token." if not token else f"That token was refused: {exc.message}."
        return render(request, "login.html", {"next": target, "error": error}, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or get_app(request).settings.https,
        path="/",
    )
    return response


async def _read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded login form (no multipart parser needed for two fields); a body past
    ``MAX_FORM_BYTES`` is cut there, which leaves no valid token in it."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: MAX_FORM_BYTES - len(body)]
        if len(body) >= MAX_FORM_BYTES:
            break
    return parse_qs(body.decode("utf-8", "replace"))


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    return response
