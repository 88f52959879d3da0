"""The web console: server-rendered pages for every role, on the API's own rules.

Pages live under ``/console`` (:mod:`fanzha.web.pages`), assets under ``/static``.
Nothing is fetched from outside: the centre's network is closed, so the console needs
no CDN, no web fonts and no build step.

Errors are negotiated, not special-cased per route: a browser navigating (``Accept:
text/html``) gets the login page for a 401 and a readable page for a 403 or 404;
every other caller gets the JSON API's usual answer. So the same route refuses an
anonymous script with 401 and sends an anonymous person to log in.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fanzha.web.i18n import N_, lang_of, translate
from fanzha.web.render import HERE, html

STATIC_DIR = HERE / "static"

TITLES = {400: N_("请求有误"), 401: N_("请先登录"), 403: N_("无权访问"), 404: N_("未找到"), 409: N_("状态冲突"),
          422: N_("填写有误")}


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, code: int, detail: str) -> Response:
    title = translate(TITLES.get(code, N_("出错了")), lang_of(request))
    return html(request, "error.html", {"code": code, "title": title, "detail": detail}, code)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 401:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/console/login" + (f"?next={quote(back)}" if request.method == "GET" else "")
        return RedirectResponse(target, status_code=303)
    return _error_page(request, exc.status_code, str(exc.detail))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    detail = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return _error_page(request, 422, detail)


def install_error_pages(app: FastAPI) -> None:
    """Answer browsers' errors with pages (and everyone else's as before)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
