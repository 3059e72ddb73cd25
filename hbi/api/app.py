"""`create_app`: the FastAPI application that serves search, books, ToCs, health and metrics."""

from __future__ import annotations

import hmac
import os
import threading
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from neo4j.exceptions import ServiceUnavailable
from starlette.types import ASGIApp, Receive, Scope, Send

from hbi import __version__
from hbi.api.health import library_health
from hbi.api.metrics import MetricsMiddleware, RequestMetrics
from hbi.api.page import SEARCH_PAGE
from hbi.config import layout, load_stack_env
from hbi.search.models import SearchError, SectionNotFoundError
from hbi_resources.graph import GraphResource
from hbi_resources.search import SearchResource
from hbi_resources.text_index import TextIndexResource, book_summaries

API_KEY_ENV = "HBI_API_KEY"
API_KEY_HEADER = "X-API-Key"
# Health is for load balancers and the page is static HTML that asks for the key itself.
OPEN_PATHS = frozenset({"/health", "/"})
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class ApiKeyMiddleware:
    """Refuses (401) every request but OPEN_PATHS whose X-API-Key header is not the key."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self._key):
                response = JSONResponse(
                    {"detail": f"missing or wrong {API_KEY_HEADER} header"},
                    status_code=401,
                    headers={"WWW-Authenticate": API_KEY_HEADER},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _SearchHolder:
    """Creates the app's SearchResource on first use, once, whatever the number of threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resource: SearchResource | None = None

    def get(self) -> SearchResource:
        with self._lock:
            if self._resource is None:
                self._resource = SearchResource.from_env(
                    query_log_path=str(layout().root / "catalog" / "queries.duckdb"),
                    log_source="api",
                )
            return self._resource


def create_app(api_key: str | None = None) -> FastAPI:
    """Return the HBI API; with an API key (argument, else HBI_API_KEY) all but /health need it."""
    load_stack_env()
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    app = FastAPI(
        title="HBI — Hybrid Book Index",
        version=__version__,
        description="Hybrid (BM25 + vector) search over a library of books.",
    )
    metrics = RequestMetrics()
    searches = _SearchHolder()

    @app.exception_handler(SectionNotFoundError)
    async def _unknown_section(request: Request, exc: SectionNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(SearchError)
    async def _bad_search(request: Request, exc: SearchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ServiceUnavailable)
    async def _graph_down(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return JSONResponse({"detail": "the ToC graph (Neo4j) is unavailable"}, status_code=503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page() -> str:
        return SEARCH_PAGE

    @app.get("/search", summary="Search the library")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=1000, description="The query")],
        mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
        book: Annotated[list[str], Query(description="Only these book ids")] = [],  # noqa: B006
        author: Annotated[list[str], Query(description="Only books by these authors")] = [],  # noqa: B006
        format: Annotated[list[str], Query(description="Only these formats")] = [],  # noqa: A002,B006
        section: Annotated[str | None, Query(description="Only inside this ToC section")] = None,
        explain: bool = False,
        per_book: bool = False,
        context: bool = False,
    ) -> dict:
        """Return `{"query", "mode", "took_ms", "hits"}`, as `hbi search --json` prints it."""
        result = searches.get().search(
            q,
            mode=mode,
            k=k,
            offset=offset,
            book_ids=book,
            authors=author,
            formats=format,
            section_id=section,
            explain=explain,
            collapse_books=per_book,
            context=context,
        )
        return result.as_dict(with_plan=explain)

    @app.get("/books", summary="List the indexed books")
    def books() -> list[dict]:
        """Return every indexed book, as `hbi books --json` prints it."""
        return book_summaries()

    @app.get("/books/{book_id}", summary="One indexed book")
    def book(book_id: str) -> dict:
        """Return the book's row of the text index."""
        row = TextIndexResource().book(book_id)
        if row is None:
            raise HTTPException(404, f"{book_id}: no such book in the index")
        return row

    @app.get("/books/{book_id}/toc", summary="A book's table of contents")
    def book_toc(book_id: str) -> list[dict]:
        """Return the book's ToC entries in reading order."""
        entries = GraphResource.from_env().toc(book_id)
        if not entries:
            raise HTTPException(404, f"{book_id}: no ToC in the graph")
        fields = ("level", "title", "page", "page_label", "section_id")
        return [{field: entry[field] for field in fields} for entry in entries]

    @app.get("/health", summary="Whether the index, Neo4j and MinIO answer")
    def health() -> JSONResponse:
        """Return each check; HTTP 200 when all are ok, 503 otherwise."""
        report = library_health()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=PROMETHEUS_TEXT)

    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)
    # Added last, so it is outermost and also counts the requests the key check refuses.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
