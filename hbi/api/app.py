"""`create_app`: the FastAPI application that serves search, books, ToCs, health and metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from hbi import __version__
from hbi.api.graph_gate import GraphGate, GraphUnavailableError
from hbi.api.health import library_health
from hbi.api.hosts import LoopbackHostMiddleware
from hbi.api.library_metrics import LibraryMetrics
from hbi.api.limits import (
    MAX_BOOKS_PAGE,
    MAX_FILTER_VALUES,
    MAX_ID_CHARS,
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    FilterValue,
    RequestSizeLimitMiddleware,
)
from hbi.api.metrics import ApiMetrics, MetricsMiddleware
from hbi.api.page import is_web_request, page_router, static_mount
from hbi.api.query_log_writer import QueryLogWriter
from hbi.api.ratelimit import RateLimit, RateLimitMiddleware, client_address
from hbi.api.reader_routes import reader_router
from hbi.api.request_log import RequestLogMiddleware
from hbi.config import layout, load_stack_env
from hbi.graph.queries import reading_order
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.search.models import SearchError, SearchFilters, SearchResult, SectionNotFoundError
from hbi.search.query_log import QueryLog, QueryLogEntry
from hbi.search.service import Neo4jSettings, graph_queries, search_from_env
from hbi.search.snippets import DEFAULT_MARKS

API_KEY_ENV = "HBI_API_KEY"
API_KEY_HEADER = "X-API-Key"
# Health is for load balancers; the web app's pages and static files (is_web_request) hold no
# library data and ask for the key themselves.
OPEN_PATHS = frozenset({"/health"})
# How /search marks query terms in snippets: brackets for people and scripts, or private-use
# characters that no book text holds, which the web app turns into <mark> elements.
SNIPPET_MARKS = {"brackets": DEFAULT_MARKS, "private-use": ("\ue000", "\ue001")}
BookId = Annotated[str, Path(max_length=MAX_ID_CHARS)]


def api_key_matches(given: str | bytes, api_key: str | bytes) -> bool:
    """Return whether a request's X-API-Key value is the key, in constant time."""
    given = given.encode() if isinstance(given, str) else given
    api_key = api_key.encode() if isinstance(api_key, str) else api_key
    return hmac.compare_digest(given, api_key)


def given_key(headers: dict[bytes, bytes]) -> bytes:
    """Return the key a request gives: its X-API-Key, else its `Authorization: Bearer` token.

    MCP clients send a key as a bearer token; browsers and scripts use X-API-Key.
    """
    key = headers.get(API_KEY_HEADER.lower().encode())
    if key:
        return key
    scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


class ApiKeyMiddleware:
    """Refuses (401) requests whose X-API-Key is not the key, but OPEN_PATHS and the web app's."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in OPEN_PATHS
            and not is_web_request(scope)
            and not api_key_matches(given_key(dict(scope["headers"])), self._key)
        ):
            response = JSONResponse(
                {"detail": f"missing or wrong {API_KEY_HEADER} header"},
                status_code=401,
                headers={"WWW-Authenticate": API_KEY_HEADER},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def rate_limit_client(api_key: str | None) -> Callable[[Scope], str]:
    """Return what names a request's client for rate limiting: its address, and the key it gives
    when the server accepts that key.

    HBI has one key, shared by all its users: a bucket per key alone would be one bucket for the
    whole deployment. A wrong key counts against the address, so guessing keys is limited too.
    """

    def client_of(scope: Scope) -> str:
        address = client_address(scope)
        key = given_key(dict(scope["headers"]))
        if not key or (api_key and not api_key_matches(key, api_key)):
            return address
        return f"{address} key:{hashlib.sha256(key).hexdigest()[:16]}"

    return client_of


class HeadAsGetMiddleware:
    """Answers HEAD on every GET route, as health checkers expect; the server drops the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            # A copy: uvicorn decides from its own scope, still HEAD, to send headers only.
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


def create_app(api_key: str | None = None, loopback_port: int | None = None) -> FastAPI:
    """Return the HBI API; with an API key (argument, else HBI_API_KEY) all but /health need it.

    With loopback_port (the server listens on loopback there), requests whose Host or Origin
    names another server are refused, against DNS rebinding.
    """
    load_stack_env()
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    rate_limit = RateLimit.from_env(os.environ)
    query_log = QueryLogWriter(QueryLog(layout().query_log))
    graph = GraphGate()
    # Imported here, not above: hbi.mcp reads through this package's graph gate and health.
    from hbi.mcp.server import MCP_PATH, QUERY_LOG_SOURCE, mcp_http

    mcp = mcp_http(
        graph, lambda result: query_log.submit(QueryLogEntry.from_result(result, QUERY_LOG_SOURCE))
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.running():
            yield
        graph.close()
        await asyncio.to_thread(query_log.close)

    app = FastAPI(
        title="HBI — Hybrid Book Index",
        version=__version__,
        description="Hybrid (BM25 + vector) search over a library of books.",
        lifespan=lifespan,
    )
    # First, so that a browser's navigation to /library gets the page, not GET /library's JSON.
    app.include_router(page_router)
    app.router.routes.append(static_mount)
    app.add_route(MCP_PATH, mcp.endpoint, include_in_schema=False)
    metrics = ApiMetrics()
    metrics.count_from(
        "hbi_query_log_dropped_total",
        "Searches the query log did not record.",
        lambda: query_log.dropped,
    )
    metrics.register(LibraryMetrics.from_env())

    @app.exception_handler(SectionNotFoundError)
    async def _unknown_section(request: Request, exc: SectionNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(SearchError)
    async def _bad_search(request: Request, exc: SearchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(GraphUnavailableError)
    async def _graph_down(request: Request, exc: GraphUnavailableError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.get("/search", summary="Search the library")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query")],
        mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
        k: Annotated[int, Query(ge=1, le=MAX_K, description="Hits per page")] = 10,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip")] = 0,
        book: Annotated[
            list[FilterValue],
            Query(max_length=MAX_FILTER_VALUES, description="Only these book ids"),
        ] = [],  # noqa: B006
        author: Annotated[
            list[FilterValue],
            Query(max_length=MAX_FILTER_VALUES, description="Only books by these authors"),
        ] = [],  # noqa: B006
        format: Annotated[  # noqa: A002
            list[FilterValue], Query(max_length=MAX_FILTER_VALUES, description="Only these formats")
        ] = [],  # noqa: B006
        section: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description="Only inside this ToC section")
        ] = None,
        explain: bool = False,
        per_book: bool = False,
        context: bool = False,
        marks: Annotated[
            Literal["brackets", "private-use"],
            Query(description="How snippets mark query terms: [ ] or U+E000 U+E001"),
        ] = "brackets",
    ) -> dict:
        """Return `{"query", "mode", "took_ms", "hits"}`, as `hbi search --json` prints it."""
        filters = SearchFilters(
            book_ids=tuple(book), authors=tuple(author), formats=tuple(format), section_id=section
        )

        def run() -> SearchResult:
            return search_from_env().search(
                q,
                mode=mode,
                k=k,
                offset=offset,
                filters=filters,
                explain=explain,
                collapse_books=per_book,
                context=context,
                marks=SNIPPET_MARKS[marks],
            )

        started = time.perf_counter()
        # A section is resolved through Neo4j: such searches wait on the graph's threads.
        result = await (graph.call(run) if section is not None else run_in_threadpool(run))
        metrics.observe_search(mode, time.perf_counter() - started)
        query_log.submit(QueryLogEntry.from_result(result, "api"))
        return result.as_dict(with_plan=explain)

    @app.get("/books", summary="List the indexed books")
    def books(
        response: Response,
        limit: Annotated[int, Query(ge=1, le=MAX_BOOKS_PAGE, description="Books per page")] = (
            MAX_BOOKS_PAGE
        ),
        offset: Annotated[int, Query(ge=0, description="Books to skip")] = 0,
    ) -> list[dict]:
        """Return a page of the indexed books, as `hbi books --json` prints them.

        The X-Total-Count header gives the number of books, so a client knows when to stop.
        """
        rows = reads.book_summaries(connect(default_index_path()))
        response.headers["X-Total-Count"] = str(len(rows))
        return rows[offset : offset + limit]

    @app.get("/books/{book_id}", summary="One indexed book")
    def book(book_id: BookId) -> dict:
        """Return the book's row of the text index."""
        row = reads.book(connect(default_index_path()), book_id)
        if row is None:
            raise HTTPException(404, f"{book_id}: no such book in the index")
        return row

    @app.get("/books/{book_id}/toc", summary="A book's table of contents")
    async def book_toc(book_id: BookId) -> list[dict]:
        """Return the book's ToC entries in reading order."""
        settings = Neo4jSettings.from_env()
        if settings is None:
            raise HTTPException(503, "the ToC graph (Neo4j) is not configured")
        outline = await graph.call(graph_queries(settings).outline, book_id)
        entries = reading_order(outline["sections"]) if outline else []
        if not entries:
            raise HTTPException(404, f"{book_id}: no ToC in the graph")
        fields = ("level", "title", "page", "page_label", "section_id")
        return [{field: entry[field] for field in fields} for entry in entries]

    @app.get("/health", summary="Whether the index, Neo4j and MinIO answer")
    def health(request: Request) -> JSONResponse:
        """Return each check; HTTP 200 when all are ok, 503 otherwise.

        With an API key set, a request without it gets only `{"ok": …}`: the checks name
        endpoints, file paths, versions and errors, which describe the deployment.
        """
        report = library_health()
        status = 200 if report["ok"] else 503
        if api_key and not api_key_matches(given_key(dict(request.headers.raw)), api_key):
            return JSONResponse({"ok": report["ok"]}, status_code=status)
        return JSONResponse(report, status_code=status)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    app.include_router(reader_router())

    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)
    if rate_limit is not None:
        app.add_middleware(
            RateLimitMiddleware, limit=rate_limit, client_of=rate_limit_client(api_key)
        )
    app.add_middleware(RequestSizeLimitMiddleware)
    if loopback_port is not None:
        app.add_middleware(LoopbackHostMiddleware, port=loopback_port)
    # Outside the checks, so it also counts the requests they refuse.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outermost, so a HEAD is counted under the GET route it is answered by.
    app.add_middleware(HeadAsGetMiddleware)
    # Outside HEAD's rewrite, so a request's line shows the method the client sent.
    app.add_middleware(RequestLogMiddleware)
    return app
