"""Rewrite one book of an index again and again until killed: the subject of the SIGKILL drills.

    python -m tests.resilience.index_writer text|vectors INDEX VERSIONS

VERSIONS is a pickle of the versions to cycle through. `text`: BookRows, each written with
TextIndexResource.replace_book. `vectors`: (book_id, model_id, {chunk_id: ChunkVectors}), each
written with VectorIndexResource.write_vectors. The process
prints "writing" once, just before its first write, and never stops on its own.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from itertools import cycle
from pathlib import Path

from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource


def text_writer(index: str) -> Callable[[object], None]:
    """Return a function that replaces the book's text rows in index with a BookRows version."""
    resource = TextIndexResource(path=index)
    return lambda rows: resource.replace_book(rows)


def vector_writer(index: str) -> Callable[[object], None]:
    """Return a function that writes a (book_id, model_id, vectors) version."""
    resource = VectorIndexResource(path=index)
    return lambda version: resource.write_vectors(*version)


def main(kind: str, index: str, versions_file: str) -> None:
    """Write the versions in turn, forever."""
    versions = pickle.loads(Path(versions_file).read_bytes())
    write = {"text": text_writer, "vectors": vector_writer}[kind](index)
    print("writing", flush=True)
    for version in cycle(versions):
        write(version)


if __name__ == "__main__":
    main(*sys.argv[1:])
