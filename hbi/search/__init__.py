"""Search over HBI's index, free of Dagster: query parsing, lexical/semantic lists, fusion, hits.

`LibrarySearch` (engine.py) is the entry point; service.py keeps one per process and index for
the CLI, the HTTP API and Dagster's `hbi_resources.search.SearchResource`, and query_log.py
records searches. How a hybrid query stays fast on 2 cores:

- lexical (lexical.py): FTS5 BM25, but words in most passages are never matched, and common
  words are only scored on the candidates the rare words find (MaxScore), with a proof of
  exactness or a second pass; phrases, prefixes and booleans go to FTS5 as written;
- semantic (vectors.py, semantic.py): the vectors in one in-memory float32 matrix per process,
  searched exactly when small and through 1-bit codes plus float re-scoring when large;
- both legs run in parallel threads and are fused by reciprocal rank fusion (fusion.py).

benchmarks/bench_search.py measures all of it against the bare engines.
"""

from hbi.search.engine import LibrarySearch, SearchSettings
from hbi.search.models import (
    MODES,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchResult,
    SectionNotFoundError,
)

__all__ = [
    "MODES",
    "LibrarySearch",
    "SearchError",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchResult",
    "SearchSettings",
    "SectionNotFoundError",
]
