"""Open HBI's SQLite index (FTS5 + sqlite-vec) and declare its schema.

The Python on our machines was built without `enable_load_extension`, so HBI uses APSW, which
bundles a current SQLite (with FTS5) and can load extensions on any platform it has wheels for.
Every connection to the index comes from `connect`.

The index is a projection of the per-book bundles in the object store (projection.py here):
every row of a book comes from its bundle, and `projected_books` records which bundle each book
holds. Each chunk has one vector in `chunk_vectors` (vec0, cosine) and, when it holds more than one
sentence, one per sentence in `sentence_vectors`: a plain table keyed (chunk_id, ordinal) rather
than a second vec0 table, because search scans the vectors in memory (hbi/search/vectors.py)
while deletes find a chunk's sentences by key, and a plain table has no vec0 slot blocks for
deletions to leave holes in.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import apsw

from hbi import config
from hbi.index import folding, unsegmented

BUSY_TIMEOUT_MS = 30_000
EMBEDDING_DIM = 384

VECTOR_TABLE = f"""CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vectors USING vec0(
    chunk_id INTEGER PRIMARY KEY,
    embedding float[{EMBEDDING_DIM}] distance_metric=cosine
)"""

# Words of every script, folded alike (folding.py), Porter-stemmed.
WORDS_TABLE = f"""CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section_path, book_title,
    content='chunks', content_rowid='chunk_id',
    tokenize='porter {folding.TOKENIZER_NAME}'
)"""

# The whole index schema, declared once. Chunk ids are stable integers derived from
# (book_id, ordinal), so FTS5 rows, vectors and Neo4j sections agree on them across rebuilds.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS books (
    book_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    authors TEXT NOT NULL,            -- JSON list
    language TEXT,
    language_source TEXT,             -- 'metadata' | 'detected'
    publisher TEXT,
    date TEXT,
    identifiers TEXT NOT NULL,        -- JSON list
    description TEXT,
    format TEXT NOT NULL,
    page_count INTEGER,
    object_key TEXT NOT NULL,
    etag TEXT,
    content_hash TEXT NOT NULL,       -- sha256 of the book file
    size_bytes INTEGER NOT NULL,
    toc_derived INTEGER NOT NULL,
    toc_entries INTEGER NOT NULL,
    toc_depth INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    token_count INTEGER NOT NULL,
    index_terms INTEGER NOT NULL,
    warnings TEXT NOT NULL,           -- JSON list
    ocr_pages TEXT NOT NULL DEFAULT '[]',  -- JSON list of the pages read by OCR
    ocr_confidence REAL,              -- mean Tesseract word confidence over them, 0-100
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sections (
    section_id TEXT PRIMARY KEY,
    book_id TEXT NOT NULL REFERENCES books(book_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    level INTEGER NOT NULL,
    title TEXT NOT NULL,
    parent_id TEXT,
    path TEXT NOT NULL,               -- JSON list of titles, root first
    page INTEGER,
    page_label TEXT,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    is_matter INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sections_book ON sections(book_id, ordinal);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY,
    book_id TEXT NOT NULL REFERENCES books(book_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section_id TEXT,
    section_path TEXT NOT NULL,       -- breadcrumb joined with ' > ', indexed by FTS5
    book_title TEXT NOT NULL,         -- indexed by FTS5
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    page_label_start TEXT,
    page_label_end TEXT,
    token_count INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    is_matter INTEGER NOT NULL,
    UNIQUE (book_id, ordinal)
);
CREATE INDEX IF NOT EXISTS chunks_section ON chunks(section_id);
CREATE INDEX IF NOT EXISTS chunks_content ON chunks(content_hash);
{WORDS_TABLE};
-- The same chunks as bigrams of Chinese, Japanese, Thai… characters only (unsegmented.py).
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_cjk USING fts5(
    text, section_path, book_title,
    content='chunks', content_rowid='chunk_id',
    tokenize='{unsegmented.TOKENIZER_NAME}'
);
CREATE TABLE IF NOT EXISTS index_terms (
    term_id TEXT PRIMARY KEY,
    book_id TEXT NOT NULL REFERENCES books(book_id) ON DELETE CASCADE,
    term TEXT NOT NULL,
    parents TEXT NOT NULL,            -- JSON list
    pages TEXT NOT NULL,              -- JSON list of cited page labels
    section_ids TEXT NOT NULL         -- JSON list of the sections those pages fall in
);
{VECTOR_TABLE};
CREATE TABLE IF NOT EXISTS sentence_vectors (
    chunk_id INTEGER NOT NULL,        -- the chunk whose text holds the sentence
    ordinal INTEGER NOT NULL,         -- the sentence's place in its chunk, from 0
    embedding BLOB NOT NULL,          -- float32[384], unit length
    PRIMARY KEY (chunk_id, ordinal)
);
CREATE TABLE IF NOT EXISTS projected_books (
    book_id TEXT PRIMARY KEY,         -- written in the same transaction as the book's rows
    fingerprint TEXT NOT NULL,        -- the bundle the rows come from
    pointer_etag TEXT NOT NULL,       -- ETag of the library pointer that named that bundle
    model_id TEXT NOT NULL,
    vectors INTEGER NOT NULL,
    projected_at TEXT NOT NULL
);
"""


def default_index_path() -> str:
    """Return the index file of the current HBI_HOME (overridable with HBI_INDEX_PATH)."""
    return os.environ.get("HBI_INDEX_PATH") or str(config.layout().index_db)


@cache
def sqlite_vec_extension() -> str:
    """Return the path of sqlite-vec's loadable extension, as `sqlite_vec.loadable_path()` does.

    Found from the package's location rather than by importing it: its `__init__` imports
    numpy, which would double the start-up of a lexical search from the CLI.
    """
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("sqlite-vec is not installed")
    return os.path.join(spec.submodule_search_locations[0], "vec0")


def connect(path: Path | str, *, readonly: bool = False) -> apsw.Connection:
    """Return a connection to the index at path with sqlite-vec loaded, WAL and a busy timeout."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    flags = (
        apsw.SQLITE_OPEN_READONLY
        if readonly
        else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    )
    connection = apsw.Connection(str(path), flags=flags)
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec_extension())
    connection.enable_load_extension(False)
    connection.set_busy_timeout(BUSY_TIMEOUT_MS)
    if not readonly and path != ":memory:":
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    unsegmented.register(connection)
    folding.register(connection)
    if not readonly:
        refold_word_index(connection)
        had_bigrams = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'chunks_cjk'"
        ).fetchone()
        connection.execute(SCHEMA)
        add_book_columns(connection)
        if had_bigrams is None:
            fill_bigram_index(connection)
    return connection


# Columns of `books` added after indexes were first made, with their declarations: an index
# made before them gets them on its first writable open (`CREATE TABLE IF NOT EXISTS` keeps
# an existing table as it is). Books already in it show no OCR pages and no language source
# until they are indexed again.
ADDED_BOOK_COLUMNS = {
    "language_source": "TEXT",
    "ocr_pages": "TEXT NOT NULL DEFAULT '[]'",
    "ocr_confidence": "REAL",
}


def add_book_columns(connection: apsw.Connection) -> None:
    """Add the columns of ADDED_BOOK_COLUMNS an older index lacks (inside the write lock, so
    two processes opening it at once do not both add one)."""

    def missing() -> list[str]:
        present = {row[1] for row in connection.execute("PRAGMA table_info(books)")}
        return [name for name in ADDED_BOOK_COLUMNS if name not in present]

    if not missing():
        return
    with write_transaction(connection):
        for name in missing():
            connection.execute(f"ALTER TABLE books ADD COLUMN {name} {ADDED_BOOK_COLUMNS[name]}")


def refold_word_index(connection: apsw.Connection) -> None:
    """Rebuild `chunks_fts` of an index made with plain unicode61 with `hbi_fold`, once.

    Until a writer opens such an index, readers search it as it is: queries fold Greek or
    Cyrillic accents that its tokens keep, so only words with those accents are missed.
    """

    def plain() -> bool:
        row = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'"
        ).fetchone()
        return row is not None and folding.TOKENIZER_NAME not in row[0]

    if not plain():
        return
    with write_transaction(connection):
        if plain():
            connection.execute("DROP TABLE chunks_fts")
            connection.execute(WORDS_TABLE)
            connection.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")


def fill_bigram_index(connection: apsw.Connection) -> None:
    """Index the chunks already in an index made before `chunks_cjk` existed, once.

    Cheap where books have no Chinese, Japanese or Thai text: their chunks yield no token.
    """
    if connection.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None:
        connection.execute("INSERT INTO chunks_cjk(chunks_cjk) VALUES ('rebuild')")


@contextmanager
def write_transaction(connection: apsw.Connection) -> Iterator[apsw.Connection]:
    """Run a block in one IMMEDIATE transaction: all of its writes land, or none do.

    IMMEDIATE takes the write lock up front, so a writer waits (busy timeout) instead of
    failing half-way when another writer holds the file.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def versions(connection: apsw.Connection) -> dict[str, str]:
    """Return the SQLite and sqlite-vec versions the connection runs."""
    sqlite_version, vec_version = connection.execute(
        "SELECT sqlite_version(), vec_version()"
    ).fetchone()
    return {"sqlite": sqlite_version, "sqlite_vec": vec_version}
