"""The per-book backup bundle: Parquet tables plus a manifest, enough to rebuild every index.

A bundle folder holds `book.parquet`, `sections.parquet`, `chunks.parquet`,
`embeddings.parquet` (chunk id, content hash, the vector as 384 little-endian float32 in a
BLOB), `sentence_embeddings.parquet` (chunk id, the sentence's ordinal in its chunk, the vector
encoded the same way) and `terms.parquet`, written by DuckDB, and `manifest.json` with each
file's SHA-256 and row count, the embedding model, and the bundle format version. Restoring
reads these rows back into the same shapes the pipeline writes, so nothing is re-extracted or
re-embedded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from hbi import __version__
from hbi.bundle.rows import ChunkVectors

BUNDLE_FORMAT = 2
TABLES = ("book", "sections", "chunks", "embeddings", "sentence_embeddings", "terms")
VECTOR_CASTS = {"chunk_id": "BIGINT", "ordinal": "INTEGER", "embedding": "BLOB"}


class BundleError(RuntimeError):
    """A bundle is incomplete or does not match its manifest."""


@dataclass(frozen=True)
class BookBundle:
    """The rows of one book as a bundle carries them."""

    book: dict
    sections: list[dict]
    chunks: list[dict]
    chunk_ids: list[int]
    vectors: np.ndarray
    content_hashes: list[str]
    terms: list[dict]
    model_id: str
    # chunk id -> (sentences, 384) vectors, for the chunks that have sentence vectors
    sentence_vectors: dict[int, np.ndarray] = field(default_factory=dict)

    def chunk_vectors(self) -> dict[int, ChunkVectors]:
        """Return every chunk's vector and sentence vectors, as `write_vectors` takes them."""
        none = np.zeros((0, self.vectors.shape[1]), np.float32)
        return {
            chunk_id: ChunkVectors(self.vectors[i], self.sentence_vectors.get(chunk_id, none))
            for i, chunk_id in enumerate(self.chunk_ids)
        }


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _columns(rows: list[dict], names: list[str]) -> dict[str, np.ndarray]:
    return {name: np.array([row[name] for row in rows], dtype=object) for name in names}


def _write_table(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rows: list[dict],
    names: list[str],
    casts: dict[str, str],
) -> None:
    con.register("source_rows", _columns(rows, names))
    select = ", ".join(f"CAST({n} AS {casts.get(n, 'VARCHAR')}) AS {n}" for n in names)
    con.execute(f"COPY (SELECT {select} FROM source_rows) TO '{path}' (FORMAT parquet)")
    con.unregister("source_rows")


BOOK_CASTS = {
    "page_count": "INTEGER",
    "size_bytes": "BIGINT",
    "toc_derived": "BOOLEAN",
    "toc_entries": "INTEGER",
    "toc_depth": "INTEGER",
    "chunk_count": "INTEGER",
    "token_count": "BIGINT",
    "index_terms": "INTEGER",
    "ocr_confidence": "DOUBLE",
}
# Book fields added after bundles were first written: an older bundle reads as having none.
BOOK_DEFAULTS = {"language_source": None, "ocr_pages": "[]", "ocr_confidence": None}
SECTION_CASTS = {
    "ordinal": "INTEGER",
    "level": "INTEGER",
    "page": "INTEGER",
    "char_start": "BIGINT",
    "char_end": "BIGINT",
    "is_matter": "BOOLEAN",
}
CHUNK_CASTS = {
    "chunk_id": "BIGINT",
    "ordinal": "INTEGER",
    "char_start": "BIGINT",
    "char_end": "BIGINT",
    "page_start": "INTEGER",
    "page_end": "INTEGER",
    "token_count": "INTEGER",
    "is_matter": "BOOLEAN",
}


def write_bundle(folder: Path, bundle: BookBundle) -> dict:
    """Write the bundle's files into folder and return its manifest (also written there)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    json_book = {k: json.dumps(v) if isinstance(v, list) else v for k, v in bundle.book.items()}
    _write_table(con, folder / "book.parquet", [json_book], list(json_book), BOOK_CASTS)
    sections = [{**s, "path": json.dumps(s["path"])} for s in bundle.sections]
    section_names = [
        "section_id",
        "book_id",
        "ordinal",
        "level",
        "title",
        "parent_id",
        "path",
        "page",
        "page_label",
        "char_start",
        "char_end",
        "is_matter",
    ]
    _write_table(con, folder / "sections.parquet", sections, section_names, SECTION_CASTS)
    chunk_names = list(CHUNK_CASTS) + [
        "book_id",
        "section_id",
        "section_path",
        "book_title",
        "text",
        "page_label_start",
        "page_label_end",
        "content_hash",
    ]
    _write_table(con, folder / "chunks.parquet", bundle.chunks, chunk_names, CHUNK_CASTS)
    vectors = np.ascontiguousarray(bundle.vectors, dtype="<f4")
    embedding_rows = [
        {"chunk_id": cid, "content_hash": digest, "embedding": vectors[i].tobytes()}
        for i, (cid, digest) in enumerate(zip(bundle.chunk_ids, bundle.content_hashes, strict=True))
    ]
    _write_table(
        con,
        folder / "embeddings.parquet",
        embedding_rows,
        ["chunk_id", "content_hash", "embedding"],
        VECTOR_CASTS,
    )
    sentence_rows = [
        {"chunk_id": cid, "ordinal": ordinal, "embedding": vector.astype("<f4").tobytes()}
        for cid, sentences in sorted(bundle.sentence_vectors.items())
        for ordinal, vector in enumerate(sentences)
    ]
    _write_table(
        con,
        folder / "sentence_embeddings.parquet",
        sentence_rows,
        ["chunk_id", "ordinal", "embedding"],
        VECTOR_CASTS,
    )
    terms = [
        {**t, **{k: json.dumps(t[k]) for k in ("parents", "pages", "section_ids")}}
        for t in bundle.terms
    ]
    _write_table(
        con,
        folder / "terms.parquet",
        terms,
        ["term_id", "book_id", "term", "parents", "pages", "section_ids"],
        {},
    )
    counts = {
        "book": 1,
        "sections": len(sections),
        "chunks": len(bundle.chunks),
        "embeddings": len(embedding_rows),
        "sentence_embeddings": len(sentence_rows),
        "terms": len(terms),
    }
    manifest = {
        "format": BUNDLE_FORMAT,
        "hbi_version": __version__,
        "book_id": bundle.book["book_id"],
        "source_content_hash": bundle.book["content_hash"],
        "model_id": bundle.model_id,
        "embedding_dim": int(vectors.shape[1]) if vectors.size else 384,
        "embedding_encoding": "float32-le",
        "files": {
            f"{name}.parquet": {
                "sha256": sha256_file(folder / f"{name}.parquet"),
                "rows": counts[name],
            }
            for name in TABLES
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def verify_bundle(folder: Path) -> dict:
    """Return the folder's manifest after checking every file's checksum; raise BundleError."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise BundleError(f"{folder}: no manifest.json")
    manifest = json.loads(manifest_path.read_text())
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.exists():
            raise BundleError(f"{folder}: {name} is missing")
        if sha256_file(path) != expected["sha256"]:
            raise BundleError(f"{folder}: {name} does not match its SHA-256 in the manifest")
    return manifest


def read_bundle(folder: Path) -> BookBundle:
    """Return the rows of a verified bundle, in the shapes the indexes are written from."""
    manifest = verify_bundle(folder)
    con = duckdb.connect()

    def rows(name: str, order: str | None = None) -> list[dict]:
        sql = f"SELECT * FROM read_parquet('{folder / name}.parquet')"
        cursor = con.execute(sql + (f" ORDER BY {order}" if order else ""))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    book = {**BOOK_DEFAULTS, **rows("book")[0]}
    for key in ("authors", "identifiers", "warnings", "ocr_pages"):
        book[key] = json.loads(book[key])
    sections = rows("sections", "ordinal")
    for section in sections:
        section["path"] = json.loads(section["path"])
    chunks = rows("chunks", "ordinal")
    embeddings = {r["chunk_id"]: r for r in rows("embeddings")}
    chunk_ids = [c["chunk_id"] for c in chunks if c["chunk_id"] in embeddings]
    vectors = (
        np.stack([np.frombuffer(embeddings[c]["embedding"], "<f4") for c in chunk_ids])
        if chunk_ids
        else np.zeros((0, manifest["embedding_dim"]), np.float32)
    )
    sentence_rows = rows("sentence_embeddings", "chunk_id, ordinal")
    terms = rows("terms", "term_id")
    for term in terms:
        for key in ("parents", "pages", "section_ids"):
            term[key] = json.loads(term[key])
    for name, expected in manifest["files"].items():
        found = {
            "book.parquet": 1,
            "sections.parquet": len(sections),
            "chunks.parquet": len(chunks),
            "embeddings.parquet": len(embeddings),
            "sentence_embeddings.parquet": len(sentence_rows),
            "terms.parquet": len(terms),
        }[name]
        if found != expected["rows"]:
            raise BundleError(
                f"{folder}: {name} has {found} rows, manifest says {expected['rows']}"
            )
    return BookBundle(
        book,
        sections,
        chunks,
        chunk_ids,
        vectors,
        [embeddings[c]["content_hash"] for c in chunk_ids],
        terms,
        manifest["model_id"],
        _sentence_vectors(sentence_rows),
    )


def _sentence_vectors(rows: list[dict]) -> dict[int, np.ndarray]:
    """Return chunk id -> its (sentences, 384) vectors from rows ordered by chunk, ordinal."""
    grouped: dict[int, list[np.ndarray]] = {}
    for row in rows:
        grouped.setdefault(row["chunk_id"], []).append(np.frombuffer(row["embedding"], "<f4"))
    return {chunk_id: np.stack(vectors) for chunk_id, vectors in grouped.items()}


def bundle_fingerprint(bundle: BookBundle) -> str:
    """Return a digest of the bundle's content that ignores when and from which ETag it was made.

    Two materializations of an unchanged book give the same fingerprint, so its stored bundle
    is reused instead of written again.
    """
    book = {k: v for k, v in bundle.book.items() if k not in ("indexed_at", "etag")}
    payload = {
        "format": BUNDLE_FORMAT,
        "book": book,
        "model": bundle.model_id,
        "sections": bundle.sections,
        "chunks": [
            [c["chunk_id"], c["content_hash"], c["section_id"], c["page_start"], c["page_end"]]
            for c in bundle.chunks
        ],
        "vectors": hashlib.sha256(
            np.ascontiguousarray(bundle.vectors, "<f4").tobytes()
        ).hexdigest(),
        "sentence_vectors": _sentence_digest(bundle.sentence_vectors),
        "terms": bundle.terms,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _sentence_digest(sentence_vectors: dict[int, np.ndarray]) -> str:
    """Return a SHA-256 of the sentence vectors, by chunk id then ordinal."""
    digest = hashlib.sha256()
    for chunk_id, vectors in sorted(sentence_vectors.items()):
        digest.update(f"{chunk_id}:{len(vectors)}".encode())
        digest.update(np.ascontiguousarray(vectors, "<f4").tobytes())
    return digest.hexdigest()
