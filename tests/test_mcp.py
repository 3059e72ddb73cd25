"""The MCP server, through the SDK's own client: `hbi mcp` over stdio, `/mcp` under `hbi serve`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack, closing

import httpx
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.index.writer import apply_books
from hbi.mcp.tools import MAX_PAGES_CHARS
from hbi.stack.process import free_port
from tests.api_clients import HBI, ServedApi, start_api
from tests.conftest import shared_dir
from tests.reader.test_reads import paged_bundle
from tests.small_books import projected

pytestmark = pytest.mark.integration

TOOLS = {
    "search", "list_books", "get_toc", "get_passage", "get_pages", "lookup_index_term", "status",
}  # fmt: skip
API_KEY = "mcp-test-key"
NIST_88 = "nist-sp-800-88r1_guidelines-for-media-sanitization.pdf"


def corpus_books() -> list[str]:
    folder = shared_dir() / "corpus"
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "MANIFEST.md")


class McpSession:
    """A connected SDK client, called from synchronous tests through a portal's event loop."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def tools(self) -> dict:
        return {tool.name: tool for tool in self.portal.call(self.client.list_tools).tools}

    def call(self, name: str, **arguments: object):
        """Return the tool's CallToolResult (errors are results with is_error set)."""
        return self.portal.call(self.client.call_tool, name, arguments)

    def answer(self, name: str, **arguments: object) -> dict:
        """Return the tool's structured answer, failing on an error result."""
        result = self.call(name, **arguments)
        assert not result.is_error, result.content
        return result.structured_content


def connect_client(stack: ExitStack, server: object) -> McpSession:
    """Return a session with server (stdio parameters or a transport), closed with stack."""
    portal = stack.enter_context(start_blocking_portal())
    client = stack.enter_context(portal.wrap_async_context_manager(Client(server)))
    return McpSession(portal, client)


@pytest.fixture(scope="module")
def stdio(ingested) -> Iterator[McpSession]:
    """`hbi mcp` started by the SDK's stdio client, in the session stack's environment."""
    with ExitStack() as stack:
        yield connect_client(
            stack, StdioServerParameters(command=HBI, args=["mcp"], env=dict(os.environ))
        )


@pytest.fixture(scope="module")
def served(ingested) -> Iterator[ServedApi]:
    """A real `hbi serve` on loopback with an API key."""
    served = start_api(free_port(), api_key=API_KEY, environ={"HBI_API_KEY": API_KEY})
    yield served
    served.stop()


def http_session(stack: ExitStack, served: ServedApi, headers: dict[str, str]) -> McpSession:
    """Return a session with the served API's /mcp, sending headers with every request."""
    portal = stack.enter_context(start_blocking_portal())
    http_client = httpx2.AsyncClient(headers=headers, timeout=120)
    stack.callback(portal.call, http_client.aclose)
    transport = streamable_http_client(served.url + "/mcp", http_client=http_client)
    client = stack.enter_context(portal.wrap_async_context_manager(Client(transport)))
    return McpSession(portal, client)


def distinctive_sentence(book_id: str) -> tuple[str, dict]:
    """Return a long sentence from the middle of a book and the indexed passage holding it."""
    with closing(connect(default_index_path())) as connection:
        rows = reads.chunks(connection, book_id)
        for row in rows[len(rows) // 2 :]:
            sentences = re.split(r"(?<=[.!?])\s+", " ".join(row["text"].split()))
            fitting = [s for s in sentences if 80 <= len(s) <= 240 and len(s.split()) >= 14]
            if row["section_id"] and fitting:
                return max(fitting, key=len), reads.chunk(connection, row["chunk_id"])
    raise AssertionError(f"{book_id}: no sentence long enough")


def test_stdio_lists_every_tool_with_a_description_and_schemas(stdio: McpSession) -> None:
    tools = stdio.tools()
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description) > 80, tool.name
        assert tool.input_schema["type"] == "object" and tool.output_schema is not None
        assert tool.annotations.read_only_hint is True
    assert tools["search"].input_schema["required"] == ["query"]
    assert set(tools["search"].input_schema["properties"]) == {
        "query", "mode", "k", "book_ids", "section_id", "page_from", "page_to", "offset",
    }  # fmt: skip


@pytest.mark.parametrize("book_id", corpus_books())
def test_search_finds_a_sentence_of_each_book_first_in_its_chapter(
    stdio: McpSession, book_id: str
) -> None:
    sentence, passage = distinctive_sentence(book_id)
    top = stdio.answer("search", query=sentence)["hits"][0]
    assert top["book_id"] == book_id, (sentence, top)
    assert top["section_path"] == passage["section_path"], (sentence, top)
    assert top["section_path"] and top["title"] and top["snippet"]
    if passage["page_start"] is not None:
        assert top["page"] <= (passage["page_end"] or passage["page_start"])
        assert (top["page_end"] or top["page"]) >= passage["page_start"]


@pytest.mark.parametrize("book_id", corpus_books())
def test_get_toc_is_the_books_true_toc(stdio: McpSession, book_id: str) -> None:
    stem = book_id.rsplit(".", 1)[0]
    expected = json.loads(
        (shared_dir() / "corpus" / "expected-toc" / f"{stem}.toc.json").read_text()
    )
    toc = stdio.answer("get_toc", book_id=book_id)
    assert toc["total"] == len(expected) and toc["next_offset"] is None
    assert [(e["level"], e["title"], e.get("page")) for e in expected] == [
        (e["level"], e["title"], e["page"]) for e in toc["entries"]
    ]
    assert all(e["section_id"] for e in toc["entries"])


def test_get_toc_pages_with_next_offset(stdio: McpSession) -> None:
    whole = stdio.answer("get_toc", book_id=NIST_88)["entries"]
    first = stdio.answer("get_toc", book_id=NIST_88, limit=3)
    rest = stdio.answer("get_toc", book_id=NIST_88, offset=first["next_offset"])
    assert first["next_offset"] == 3 and first["entries"] + rest["entries"] == whole


def test_search_inside_a_toc_section_stays_in_it(stdio: McpSession) -> None:
    book_id = "lewis-carroll_alices-adventures-in-wonderland.txt"
    chapter = stdio.answer("get_toc", book_id=book_id)["entries"][0]
    hits = stdio.answer("search", query="rabbit", section_id=chapter["section_id"])["hits"]
    assert hits and all(hit["section_path"][0] == chapter["title"] for hit in hits)


def test_search_continues_with_next_offset(stdio: McpSession) -> None:
    whole = stdio.answer("search", query="data sanitization", k=6)
    first = stdio.answer("search", query="data sanitization", k=3)
    second = stdio.answer("search", query="data sanitization", k=3, offset=first["next_offset"])
    assert first["next_offset"] == 3
    assert [h["chunk_id"] for h in first["hits"] + second["hits"]] == [
        h["chunk_id"] for h in whole["hits"]
    ]


def test_search_keeps_only_hits_on_the_page_range(stdio: McpSession) -> None:
    page = stdio.answer(
        "search", query="media sanitization", book_ids=[NIST_88], page_from=10, page_to=12, k=5
    )
    assert page["hits"]
    for hit in page["hits"]:
        assert hit["page"] <= 12 and (hit["page_end"] or hit["page"]) >= 10


def test_get_passage_gives_the_passage_and_its_neighbours(stdio: McpSession) -> None:
    _, passage = distinctive_sentence(NIST_88)
    answer = stdio.answer("get_passage", chunk_id=passage["chunk_id"], around=2)
    assert answer["text"] == passage["text"] and answer["book_id"] == NIST_88
    assert answer["section_path"] == passage["section_path"]
    with closing(connect(default_index_path())) as connection:
        before, after = reads.chunks_around(connection, passage["chunk_id"], 2, 2)
    assert [p["chunk_id"] for p in answer["before"]] == [r["chunk_id"] for r in before]
    assert [p["chunk_id"] for p in answer["after"]] == [r["chunk_id"] for r in after]
    assert len(answer["before"]) == len(answer["after"]) == 2


def test_get_pages_is_bounded_and_continues(stdio: McpSession) -> None:
    with closing(connect(default_index_path())) as connection:
        expected = [r["chunk_id"] for r in reads.chunks_on_pages(connection, NIST_88, 1, 40)]
    seen, offset, calls = [], 0, 0
    while offset is not None:
        answer = stdio.answer(
            "get_pages", book_id=NIST_88, first_page=1, last_page=40, offset=offset
        )
        assert sum(len(p["text"]) for p in answer["passages"]) <= MAX_PAGES_CHARS
        seen += [p["chunk_id"] for p in answer["passages"]]
        offset, calls = answer["next_offset"], calls + 1
    assert seen == expected and calls > 1


def test_get_pages_of_a_book_without_pages_is_an_error(stdio: McpSession) -> None:
    result = stdio.call("get_pages", book_id="sun-tzu_the-art-of-war.md", first_page=1, last_page=2)
    assert result.is_error and "has no pages" in result.content[0].text


@pytest.fixture(scope="module")
def terms_index(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpSession]:
    """`hbi mcp` on an index of its own, holding a small book with a back-of-book index: no
    corpus book has one."""
    path = tmp_path_factory.mktemp("terms") / "index.sqlite"
    with closing(connect(path)) as connection:
        apply_books(connection, [projected(paged_bundle())])
    env = {**os.environ, "HBI_INDEX_PATH": str(path)}
    with ExitStack() as stack:
        yield connect_client(stack, StdioServerParameters(command=HBI, args=["mcp"], env=env))


def test_lookup_index_term_gives_books_sections_and_pages(terms_index: McpSession) -> None:
    answer = terms_index.answer("lookup_index_term", term="ZEBRA", exact=True)
    assert answer["total"] == 1 and answer["next_offset"] is None
    (zebra,) = answer["terms"]
    assert (zebra["book_id"], zebra["title"], zebra["term"]) == ("paged", "Paged", "Zebra")
    assert zebra["pages"] == ["3"] and [s["title"] for s in zebra["sections"]] == ["Chapter 1"]


def test_lookup_index_term_matches_the_start_of_terms_and_pages(terms_index: McpSession) -> None:
    first = terms_index.answer("lookup_index_term", term="a", limit=1)
    assert first["total"] == 2 and first["next_offset"] == 1
    rest = terms_index.answer("lookup_index_term", term="a", offset=1)
    assert [t["term"] for t in first["terms"] + rest["terms"]] == ["a_b%", "apple"]
    assert rest["terms"][0]["sections"][0]["title"] == "Chapter 1"  # the unknown one left out


def test_list_books_pages_through_the_library(stdio: McpSession) -> None:
    whole = stdio.answer("list_books")
    # Other tests add books to the session's library: the corpus is among what the index holds.
    indexed = [b["book_id"] for b in reads.books(connect(default_index_path()))]
    assert whole["total"] == len(indexed) and whole["next_offset"] is None
    assert {b["book_id"] for b in whole["books"]} == set(indexed) >= set(corpus_books())
    first = stdio.answer("list_books", limit=5)
    rest = stdio.answer("list_books", offset=first["next_offset"])
    assert first["books"] + rest["books"] == whole["books"]


def test_status_counts_the_library_and_its_health(stdio: McpSession) -> None:
    status = stdio.answer("status")
    summaries = reads.book_summaries(connect(default_index_path()))
    assert status["books"] == len(summaries) >= len(corpus_books())
    assert status["ready_books"] == sum(1 for s in summaries if s["status"] == "ready")
    assert status["chunks"] == status["vectors"] > 0
    assert status["ok"] is True and set(status["checks"]) == {
        "sqlite",
        "sqlite_vec",
        "neo4j",
        "minio",
    }


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_toc", {"book_id": "no-such-book.pdf"}),
        ("get_pages", {"book_id": "no-such-book.pdf", "first_page": 1, "last_page": 2}),
        ("search", {"query": "rabbit", "book_ids": ["no-such-book.pdf"]}),
        ("lookup_index_term", {"term": "data", "book_ids": ["no-such-book.pdf"]}),
    ],
)
def test_an_unknown_book_is_an_error_with_a_reason(
    stdio: McpSession, tool: str, arguments: dict
) -> None:
    result = stdio.call(tool, **arguments)
    assert result.is_error
    assert "no such book in the index: no-such-book.pdf" in result.content[0].text


def test_an_unknown_passage_or_section_is_an_error_with_a_reason(stdio: McpSession) -> None:
    passage = stdio.call("get_passage", chunk_id=10**12)
    assert passage.is_error and "no such passage" in passage.content[0].text
    search = stdio.call("search", query="rabbit", section_id="no-such-section")
    assert search.is_error and "no-such-section: no such section" in search.content[0].text


def test_bad_arguments_are_refused_by_the_schema(stdio: McpSession) -> None:
    result = stdio.call("search", query="rabbit", k=1_000)
    assert result.is_error


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}],
    ids=["key", "bearer"],
)
def test_http_with_the_key_answers_as_stdio(
    served: ServedApi, stdio: McpSession, headers: dict[str, str]
) -> None:
    sentence, _ = distinctive_sentence(NIST_88)
    with ExitStack() as stack:
        http = http_session(stack, served, headers)
        assert set(http.tools()) == TOOLS
        over_http = http.answer("search", query=sentence, k=3)
        toc = http.answer("get_toc", book_id=NIST_88)
    # The same ranking; scores agree to float rounding only, across two processes.
    over_stdio = stdio.answer("search", query=sentence, k=3)
    assert [hit["chunk_id"] for hit in over_http["hits"]] == [
        hit["chunk_id"] for hit in over_stdio["hits"]
    ]
    assert over_http["hits"][0]["book_id"] == NIST_88
    assert toc == stdio.answer("get_toc", book_id=NIST_88)


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer no"}])
def test_http_without_the_key_is_refused(served: ServedApi, headers: dict[str, str]) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    response = httpx.post(
        served.url + "/mcp",
        json=initialize,
        headers={"Accept": "application/json, text/event-stream", **headers},
        timeout=30,
    )
    assert response.status_code == 401
