"""The process's searches: one `LibrarySearch` per index and configuration, shared by every caller.

A `LibrarySearch` holds the in-memory vectors, the term statistics and two worker threads, which
one search must not rebuild, so the CLI, the HTTP API and the Dagster resource all get theirs
here. The embedding model and the Neo4j driver are loaded on first use: a lexical search without
a section filter imports neither ONNX Runtime nor the driver.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from hbi import config
from hbi.index.db import default_index_path
from hbi.search.engine import LibrarySearch, SearchSettings, SubtreeResolver
from hbi.search.semantic import Embed

if TYPE_CHECKING:
    import neo4j
    import numpy as np

    from hbi.embedding import MiniLMEmbedder
    from hbi.graph.queries import GraphQueries

_lock = threading.Lock()
_searches: dict[tuple, LibrarySearch] = {}
_graphs: dict[Neo4jSettings, GraphQueries] = {}


@dataclass(frozen=True)
class Neo4jSettings:
    """Where the ToC graph's Neo4j listens and how to log in."""

    uri: str
    user: str
    password: str
    database: str = config.DEFAULT_NEO4J_DATABASE

    @classmethod
    def from_env(cls) -> Neo4jSettings | None:
        """Return the settings in HBI_NEO4J_* (after `load_stack_env`), or None if unset."""
        if not os.environ.get(config.ENV_NEO4J_URI):
            return None
        try:
            return cls(**config.neo4j_settings())
        except KeyError:
            return None

    def driver(self) -> neo4j.Driver:
        """Return a new driver to this server that gives up within seconds when it is down.

        The graph client's options with the read timeouts of `hbi.config`; the caller closes it.
        """
        from hbi.graph.store import Graph

        return Graph(
            uri=self.uri,
            password=self.password,
            user=self.user,
            database=self.database,
            transaction_retry_s=config.NEO4J_READ_RETRY_S,
        ).driver(
            connection_timeout_s=config.NEO4J_READ_CONNECT_TIMEOUT_S,
            acquisition_timeout_s=config.NEO4J_READ_ACQUISITION_TIMEOUT_S,
        )


def shared_search(
    index_path: str,
    settings: SearchSettings,
    embed: Embed | None,
    *,
    subtree: SubtreeResolver | None = None,
    key: Hashable = None,
) -> LibrarySearch:
    """Return this process's LibrarySearch of an index, created on the first call.

    `embed` and `subtree` are only used to create it: `key` names what they are made from (the
    model's cache and threads, the Neo4j server), so callers with other ones get their own.
    """
    cache_key = (index_path, settings, key)
    with _lock:
        search = _searches.get(cache_key)
        if search is None:
            search = LibrarySearch(index_path, embed=embed, subtree=subtree, settings=settings)
            _searches[cache_key] = search
        return search


def search_from_env(settings: SearchSettings | None = None) -> LibrarySearch:
    """Return this process's search of HBI_HOME's index, with MiniLM and HBI_NEO4J_*'s graph."""
    graph = Neo4jSettings.from_env()
    return shared_search(
        default_index_path(),
        settings or SearchSettings(),
        minilm_embed(),
        subtree=graph_subtree(graph) if graph is not None else None,
        key=(None, None, graph),
    )


def minilm_embed(cache_dir: str | None = None, threads: int | None = None) -> Embed:
    """Return a query embedder that loads all-MiniLM-L6-v2 on its first call, not before."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        return _minilm(cache_dir, threads).embed(texts, batch_size=1)

    return embed


@lru_cache(maxsize=2)
def _minilm(cache_dir: str | None, threads: int | None) -> MiniLMEmbedder:
    from hbi.embedding import MiniLMEmbedder

    return MiniLMEmbedder(cache_dir=Path(cache_dir) if cache_dir else None, threads=threads)


def graph_queries(
    settings: Neo4jSettings, driver: Callable[[], neo4j.Driver] | None = None
) -> GraphQueries:
    """Return this process's graph reader for a Neo4j server; its driver opens on first query.

    `driver` makes the driver (default: `settings.driver`), for a caller with its own options.
    """
    from hbi.graph.queries import GraphQueries

    with _lock:
        queries = _graphs.get(settings)
        if queries is None:
            queries = GraphQueries(driver or settings.driver, settings.database)
            _graphs[settings] = queries
        return queries


def graph_subtree(
    settings: Neo4jSettings, driver: Callable[[], neo4j.Driver] | None = None
) -> SubtreeResolver:
    """Return the ToC subtree lookup of a Neo4j server, which connects on its first call."""
    return lambda section_id: graph_queries(settings, driver).subtree(section_id)


@atexit.register
def _close_all() -> None:
    for queries in _graphs.values():
        queries.close()
    for search in _searches.values():
        search.close()
