"""The web app's routes: an HTML page per view and the static files under /static.

The pages hold no library data: each loads its script, which calls the JSON API with the key
the reader typed. So they need no key, and each is served with a Content-Security-Policy that
lets only this server's scripts, styles and images (and blob: images of rendered PDF pages)
load: nothing from a book's text can run script or call another server.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from hbi.web import STATIC_DIR

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The shells are small and change with HBI's version: revalidate rather than go stale.
    "Cache-Control": "no-cache",
}


class BrowserPageRoute(APIRoute):
    """A page's route that only matches requests accepting HTML, as a browser's navigation does.

    API clients at the same path (`GET /library` gives JSON) never ask for text/html, so they
    fall through to the JSON route after it.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if "text/html" not in Headers(scope=scope).get("accept", ""):
            return Match.NONE, {}
        return super().matches(scope)


class StaticAssets(StaticFiles):
    """The app's scripts and styles, never sniffed as another type and revalidated on use."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def _page(name: str):
    def serve() -> FileResponse:
        return FileResponse(STATIC_DIR / name, media_type="text/html", headers=PAGE_HEADERS)

    return serve


page_router = APIRouter(include_in_schema=False)
page_router.add_api_route("/", _page("search.html"))
page_router.add_api_route("/library", _page("library.html"), route_class_override=BrowserPageRoute)
page_router.add_api_route("/library/{book_id}", _page("book.html"))
page_router.add_api_route("/books/{book_id}/read", _page("reader.html"))
static_mount = Mount("/static", app=StaticAssets(directory=STATIC_DIR), name="static")
WEB_ROUTES: tuple[BaseRoute, ...] = (*page_router.routes, static_mount)


def is_web_request(scope: Scope) -> bool:
    """Return whether a request goes to a page or a static file of the web app (no key needed)."""
    return any(route.matches(scope)[0] is Match.FULL for route in WEB_ROUTES)
