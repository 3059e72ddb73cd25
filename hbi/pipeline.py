"""The per-book steps between the object bytes and the index rows, free of Dagster."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hbi.book import ExtractedBook
from hbi.chunking import MODEL_TOKEN_LIMIT, SPECIAL_TOKENS, TokenOffsetSource, chunk_book
from hbi.extract import extract_book
from hbi.records import BookRows, ChunkVectors, build_rows


@dataclass
class PreparedBook:
    """A book extracted, chunked and turned into rows, with how long each step took."""

    book: ExtractedBook
    rows: BookRows
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def over_limit_chunks(self) -> int:
        """Chunks the model would truncate (should be 0: the chunker sizes for the model)."""
        budget = MODEL_TOKEN_LIMIT - SPECIAL_TOKENS
        return sum(1 for c in self.rows.chunks if c.token_count > budget)


def prepare_book(
    data: bytes,
    *,
    book_id: str,
    object_key: str,
    etag: str | None,
    tokenizer: TokenOffsetSource,
) -> PreparedBook:
    """Extract, chunk and build the index rows of one book; raise BookError on bad input."""
    started = time.perf_counter()
    book = extract_book(data, object_key)
    extracted = time.perf_counter()
    chunks = chunk_book(book, tokenizer)
    chunked = time.perf_counter()
    rows = build_rows(
        book_id=book_id, book=book, chunks=chunks, object_key=object_key, etag=etag, data=data
    )
    return PreparedBook(
        book,
        rows,
        {
            "extract_s": extracted - started,
            "chunk_s": chunked - extracted,
            "rows_s": time.perf_counter() - chunked,
        },
    )


def toc_markdown(sections: list[dict], limit: int = 80) -> str:
    """Return the ToC as an indented Markdown list (first `limit` entries), for the Dagster UI."""
    lines = []
    base = min((len(s["path"]) for s in sections), default=1)
    for section in sections[:limit]:
        indent = "  " * (len(section["path"]) - base)
        page = f" — p. {section['page_label'] or section['page']}" if section["page"] else ""
        lines.append(f"{indent}- {section['title']}{page}")
    if len(sections) > limit:
        lines.append(f"- … {len(sections) - limit} more entries")
    return "\n".join(lines) or "_(no table of contents)_"


def embed_pending(
    texts: list[str],
    hashes: list[str],
    cached: dict[str, ChunkVectors],
    embed: Callable[[list[str]], list[ChunkVectors]],
) -> list[ChunkVectors]:
    """Return the vectors of texts: known ones by content hash, the rest embedded once each."""
    missing: dict[str, str] = {}
    for text, digest in zip(texts, hashes, strict=True):
        if digest not in cached and digest not in missing:
            missing[digest] = text
    lookup = dict(cached)
    if missing:
        lookup.update(zip(missing.keys(), embed(list(missing.values())), strict=True))
    return [lookup[digest] for digest in hashes]
