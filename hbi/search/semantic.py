"""The semantic list: the query's embedding against every chunk vector, held in memory.

The matrix is loaded from the index once per process and reloaded when the vectors change:
`PRAGMA data_version` tells (for free) that another connection committed, and a fingerprint of
the vector count and the per-book embedding records tells whether vectors changed. While a
library is being written to, reloads happen at most every `refresh_s` seconds; hits whose
chunk has gone in between are dropped when the page is read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hbi.index.search import IndexStore
from hbi.search.fusion import BookList
from hbi.search.models import DEFAULT_RESCORE, EXACT_BELOW

if TYPE_CHECKING:
    import numpy as np

    from hbi.search.vectors import VectorMatrix, VectorSearchInfo

# numpy and vectors.py are imported where vectors are first touched, not here: the engine
# builds these objects for every search, and a lexical one never needs them.
Embed = Callable[[Sequence[str]], "np.ndarray"]
QUERY_CACHE_SIZE = 256


class VectorCache:
    """Keeps one VectorMatrix of the index current for this process.

    Only the first load makes searches wait. Later, the search that finds the vectors changed
    reloads them while the others go on with the matrix they have (loading can take a second
    for a large library, and a library being ingested changes every few seconds).
    """

    def __init__(self, store: IndexStore, refresh_s: float = 5.0):
        self.store = store
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._reloading = False
        self._matrix: VectorMatrix | None = None
        self._version: int | None = None
        self._fingerprint: str | None = None
        self._loaded_at = 0.0
        self.load_s = 0.0
        self._books: tuple[VectorMatrix, tuple[np.ndarray, np.ndarray, list[str]]] | None = None

    def matrix(self, version: int | None = None) -> VectorMatrix:
        """Return the current matrix, loading or reloading it when the vectors changed."""
        with self._lock:
            current = self._matrix
            if current is not None and (
                version is None
                or version == self._version
                or time.monotonic() - self._loaded_at < self.refresh_s
                or self._reloading
            ):
                return current
            self._reloading = True
        try:
            with self._load_lock:
                return self._reload(version)
        finally:
            with self._lock:
                self._reloading = False

    def chunk_books(self, matrix: VectorMatrix) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return the books of the index's chunks as IndexStore.chunk_books gives them, read
        once per matrix: a chunk never changes book, and only chunks with vectors are searched."""
        with self._lock:
            if self._books is not None and self._books[0] is matrix:
                return self._books[1]
        books = self.store.chunk_books()
        with self._lock:
            self._books = (matrix, books)
        return books

    def _reload(self, version: int | None) -> VectorMatrix:
        fingerprint = self.store.vectors_fingerprint()
        if self._matrix is None or fingerprint != self._fingerprint:
            from hbi.search.vectors import VectorMatrix

            started = time.perf_counter()
            matrix = VectorMatrix(*self.store.vectors())
            with self._lock:
                self._matrix = matrix
                self.load_s = time.perf_counter() - started
                self._fingerprint = fingerprint
                self._loaded_at = time.monotonic()
        with self._lock:
            self._version = version
            return self._matrix


class QueryEmbeddings:
    """Embeds query texts, remembering recent ones (paging through results re-asks them)."""

    def __init__(self, embed: Embed | None, size: int = QUERY_CACHE_SIZE):
        self.embed = embed
        self.size = size
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, text: str) -> np.ndarray:
        """Return the text's unit embedding (ValueError when no model was given)."""
        with self._lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        if self.embed is None:
            raise ValueError("semantic search needs an embedding model")
        import numpy as np

        vector = np.asarray(self.embed([text]), dtype=np.float32)[0]
        with self._lock:
            self._cache[text] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector


def semantic_ranked(
    matrix: VectorMatrix,
    query_vector: np.ndarray,
    depth: int,
    *,
    allowed: np.ndarray | None = None,
    exact_below: int = EXACT_BELOW,
    rescore: int = DEFAULT_RESCORE,
) -> tuple[list[tuple[int, float]], VectorSearchInfo]:
    """Return the `depth` nearest (chunk_id, cosine similarity) among allowed chunk ids."""
    rows = None if allowed is None else matrix.rows_of(allowed)
    return matrix.search(query_vector, depth, rows=rows, exact_below=exact_below, rescore=rescore)


def semantic_by_book(
    cache: VectorCache,
    matrix: VectorMatrix,
    query_vector: np.ndarray,
    allowed: np.ndarray | None = None,
) -> tuple[BookList, dict[str, int]]:
    """Return every chunk (of allowed chunk ids) by exact similarity, best first (ties: lower
    id), with its book's number, and the numbers of the books (for other lists to share)."""
    import numpy as np

    chunk_ids, book_numbers, book_ids = cache.chunk_books(matrix)
    rows = None if allowed is None else matrix.rows_of(allowed)
    ids, similarities = matrix.chunk_similarities(query_vector, rows)
    # Chunks deleted since the matrix was read have no book and are not listed.
    at = np.minimum(np.searchsorted(chunk_ids, ids), max(len(chunk_ids) - 1, 0))
    known = chunk_ids[at] == ids if len(chunk_ids) else np.zeros(len(ids), bool)
    ids, similarities, books = ids[known], similarities[known], book_numbers[at[known]]
    order = np.lexsort((ids, -similarities))
    numbers = {book_id: number for number, book_id in enumerate(book_ids)}
    return BookList(ids[order], books[order], similarities[order]), numbers
