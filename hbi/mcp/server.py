"""The library as an MCP server: over stdio (`hbi mcp`) and over streamable HTTP (`/mcp`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from starlette.types import ASGIApp

from hbi import __version__
from hbi.api.graph_gate import GraphGate
from hbi.config import layout, load_stack_env
from hbi.mcp.tools import LibraryTools
from hbi.search.models import SearchResult
from hbi.search.query_log import QueryLog, QueryLogEntry

MCP_PATH = "/mcp"
QUERY_LOG_SOURCE = "mcp"
INSTRUCTIONS = (
    "HBI, the Hybrid Book Index: full-text and semantic search over a library of books (PDF, "
    "EPUB, text, Markdown), with each passage placed in its book, chapter and page. Start with "
    "search; read a hit's whole passage with get_passage, or a PDF's pages with get_pages; "
    "list_books and get_toc show what the library holds and how each book is organised; "
    "lookup_index_term reads the books' own back-of-book indexes. Every tool only reads."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def build_server(tools: LibraryTools) -> MCPServer:
    """Return an MCP server offering the library's read-only tools."""
    # WARNING: the SDK configures the root logger at this level, and `hbi serve` logs warnings.
    server = MCPServer("hbi", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    for tool, title in (
        (tools.search, "Search the library"),
        (tools.list_books, "List the books"),
        (tools.get_toc, "A book's table of contents"),
        (tools.get_passage, "Read a passage"),
        (tools.get_pages, "Read a PDF's pages"),
        (tools.lookup_index_term, "Look a term up in back-of-book indexes"),
        (tools.status, "Library size and health"),
    ):
        server.add_tool(tool, title=title, annotations=READ_ONLY, structured_output=True)
    return server


def serve_stdio() -> None:
    """Serve this HBI_HOME's library over stdin/stdout until the client closes it."""
    load_stack_env()
    query_log = QueryLog(layout().query_log)
    graph = GraphGate()

    def log_search(result: SearchResult) -> None:
        query_log.queue(QueryLogEntry.from_result(result, QUERY_LOG_SOURCE))

    try:
        build_server(LibraryTools(graph, log_search)).run("stdio")
    finally:
        graph.close()


@dataclass(frozen=True)
class McpHttp:
    """The streamable-HTTP endpoint to route at MCP_PATH, and what must run while it serves."""

    endpoint: ASGIApp
    session_manager: StreamableHTTPSessionManager

    def running(self) -> AbstractAsyncContextManager[None]:
        """Return the context (for the app's lifespan) inside which the endpoint answers."""
        return self.session_manager.run()


def mcp_http(graph: GraphGate, log_search: Callable[[SearchResult], None]) -> McpHttp:
    """Return the library's MCP endpoint for the HTTP API, reading the graph through `graph`.

    Stateless with JSON responses: every call is one POST answered at once, so no stream stays
    open past the API's request deadline and any worker can answer any call. The API's own
    middleware guards the key and, on loopback, the Host and Origin, so the SDK's are off.
    """
    server = build_server(LibraryTools(graph, log_search))
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    return McpHttp(StreamableHTTPASGIApp(manager), manager)
