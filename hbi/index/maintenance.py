"""Keeping the index lean: sizes, FTS5 merge, vec0 compaction, statistics, VACUUM."""

from __future__ import annotations

from pathlib import Path

import apsw

from hbi.index.db import VECTOR_TABLE, write_transaction


def index_sizes(connection: apsw.Connection, path: Path | str) -> dict[str, int]:
    """Return the index file's size (with its WAL), vec0's allocated slots, live chunk vectors
    and sentence vectors."""
    file_bytes = sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )
    slots = connection.execute("SELECT coalesce(sum(size), 0) FROM chunk_vectors_chunks").fetchone()
    live = connection.execute("SELECT count(*) FROM chunk_vectors_rowids").fetchone()
    sentences = connection.execute("SELECT count(*) FROM sentence_vectors").fetchone()
    return {
        "file_bytes": file_bytes,
        "vector_slots": slots[0],
        "vectors": live[0],
        "sentence_vectors": sentences[0],
    }


def compact_vectors(connection: apsw.Connection, min_waste: float = 0.25) -> bool:
    """Rebuild vec0 when deleted vectors leave at least min_waste of its slots empty.

    sqlite-vec 0.1 frees a block of 1,024 slots only when every vector in it is deleted, so
    re-indexed books leave holes; copying the live vectors into a fresh table reclaims them.
    """
    sizes = index_sizes(connection, ":memory:")
    waste = sizes["vector_slots"] - sizes["vectors"]
    if waste < 1024 or waste < min_waste * sizes["vector_slots"]:
        return False
    with write_transaction(connection):
        connection.execute(
            "CREATE TEMP TABLE vector_copy AS SELECT chunk_id, embedding FROM chunk_vectors"
        )
        connection.execute("DROP TABLE chunk_vectors")
        connection.execute(VECTOR_TABLE)
        connection.execute(
            "INSERT INTO chunk_vectors (chunk_id, embedding) "
            "SELECT chunk_id, embedding FROM vector_copy ORDER BY chunk_id"
        )
        connection.execute("DROP TABLE vector_copy")
    return True


def maintain(connection: apsw.Connection, path: Path | str) -> dict:
    """Merge FTS5 segments, compact vec0, refresh statistics, VACUUM and truncate the WAL;
    return the sizes before and after and whether vec0 was rebuilt."""
    before = index_sizes(connection, path)
    for fts in ("chunks_fts", "chunks_cjk"):
        connection.execute(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")
    compacted = compact_vectors(connection)
    connection.execute("ANALYZE")
    connection.execute("PRAGMA optimize")
    connection.execute("VACUUM")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"before": before, "after": index_sizes(connection, path), "vec0_rebuilt": compacted}
