"""Errors as pages in the app's style: sign-in redirects, 403, 404, a service's outage."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web.client import ApiProblem
from services.web.security import (
    CsrfRefused,
    PageForbidden,
    PageNotFound,
    SignInRequired,
    optional_session,
    sign_in_url,
)
from services.web.templating import page

MESSAGES = {
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Not found", "There is nothing here, or it belongs to someone you cannot see."),
    503: ("Temporarily unavailable", "A part of Northstar does not answer. Try again shortly."),
}


async def error_page(request: Request, status: int, message: str | None = None) -> Response:
    heading, default = MESSAGES.get(status, ("Something went wrong", "The request failed."))
    try:
        session = await optional_session(request)
    except Exception:  # the error page must render even when the session store is down
        session = None
    response = await page(
        request,
        "error.html",
        {"heading": heading, "message": message or default},
        session=session,
        status_code=status,
        title=heading,
    )
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def install_error_pages(app: FastAPI) -> None:
    """Replace the JSON problem handlers for pages (web answers browsers, not API clients)."""

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        target = sign_in_url(exc.next_url)
        if request.headers.get("hx-request"):
            # htmx follows HX-Redirect with a full page load, not a swap
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return await error_page(
            request, 403, "This form has expired or did not come from Northstar. Reload the page."
        )

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        return await error_page(request, 403)

    @app.exception_handler(PageNotFound)
    async def not_found(request: Request, exc: PageNotFound) -> Response:
        return await error_page(request, 404)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        # a problem a page did not handle itself: another tenant's id is 404, and so on
        status = exc.status if exc.status in MESSAGES else 400
        return await error_page(request, status, None if status in (403, 404) else exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in MESSAGES:
            return await error_page(request, exc.status_code)
        return await error_page(request, exc.status_code, str(exc.detail))
