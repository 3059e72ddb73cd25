"""Session fixtures of the search tests: the embedding model and a small real library."""

from __future__ import annotations

import pytest
from search_corpus import Library, build_library

from hbi.search import LibrarySearch
from hbi_resources.embedder import EmbedderResource


@pytest.fixture(scope="session")
def model():
    return EmbedderResource().model()


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory, model) -> Library:
    return build_library(tmp_path_factory.mktemp("search-library") / "index.sqlite", model)


@pytest.fixture(scope="session")
def searcher(library: Library, model) -> LibrarySearch:
    search = LibrarySearch(str(library.path), embed=model.embed)
    yield search
    search.close()
