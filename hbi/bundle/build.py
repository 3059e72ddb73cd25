"""The per-book steps between a book's bytes and its bundle, free of Dagster.

A book run reads the object, extracts and chunks it, embeds the chunks whose text has no vector
yet and returns the bundle that becomes the book's source of truth in the object store. Nothing
here touches an index: the indexes are projections of bundles (hbi/index/projection.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hbi.books.book import ExtractedBook
from hbi.bundle.files import BookBundle
from hbi.bundle.rows import BookRows, ChunkVectors, build_rows, row_dict
from hbi.chunking import MODEL_TOKEN_LIMIT, SPECIAL_TOKENS, TokenOffsetSource, chunk_book
from hbi.extract import extract_book


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


@dataclass(frozen=True)
class EmbeddingStats:
    """How a bundle's vectors came about: embedded now, or taken from a bundle that had them."""

    chunks: int
    computed: int  # distinct texts the model embedded
    reused: int  # chunks whose text a known bundle already had a vector for
    embed_s: float

    @property
    def repeated(self) -> int:
        """Chunks whose text another chunk of this book, embedded now, repeats."""
        return self.chunks - self.reused - self.computed


def known_vectors(bundle: BookBundle | None, model_id: str) -> dict[str, ChunkVectors]:
    """Return the vectors a bundle holds by text hash, if the same model made them."""
    if bundle is None or bundle.model_id != model_id:
        return {}
    by_chunk = bundle.chunk_vectors()
    return {
        digest: by_chunk[chunk_id]
        for chunk_id, digest in zip(bundle.chunk_ids, bundle.content_hashes, strict=True)
    }


def bundle_rows(
    rows: BookRows,
    embed: Callable[[list[str]], list[ChunkVectors]],
    model_id: str,
    known: dict[str, ChunkVectors],
) -> tuple[BookBundle, EmbeddingStats]:
    """Return the book's bundle: its rows and a vector for every chunk, reusing known texts'."""
    hashes = [c.content_hash for c in rows.chunks]
    started = time.perf_counter()
    vectors = embed_pending([c.text for c in rows.chunks], hashes, known, embed)
    embed_s = time.perf_counter() - started
    computed = len({h for h in hashes if h not in known})
    dim = vectors[0].chunk.shape[0] if vectors else 384
    bundle = BookBundle(
        book=row_dict(rows.book),
        sections=[row_dict(s) for s in rows.sections],
        chunks=[row_dict(c) for c in rows.chunks],
        chunk_ids=[c.chunk_id for c in rows.chunks],
        vectors=np.stack([v.chunk for v in vectors]).astype(np.float32)
        if vectors
        else np.zeros((0, dim), np.float32),
        content_hashes=hashes,
        terms=[row_dict(t) for t in rows.terms],
        model_id=model_id,
        sentence_vectors={
            c.chunk_id: v.sentences
            for c, v in zip(rows.chunks, vectors, strict=True)
            if len(v.sentences)
        },
    )
    stats = EmbeddingStats(
        len(hashes), computed, sum(1 for h in hashes if h in known), round(embed_s, 3)
    )
    return bundle, stats
