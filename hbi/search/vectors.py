"""Nearest passages by cosine similarity, from the index's vectors held in memory.

sqlite-vec's vec0 KNN is an exact scan in C without SIMD in the PyPI wheel: on 2 cores it
takes about 64 ms at 100k vectors and 700 ms at 1M, too slow for hybrid search. HBI keeps the
vectors (unit length, so cosine similarity is a dot product) in one float32 matrix per process
and searches it in two stages when it is large:

1. a Hamming scan over 1-bit sign codes of the vectors (48 bytes each, `np.bitwise_count`),
   keeping the `rescore` nearest codes;
2. exact float32 dot products for those candidates only, best `depth` returned.

Below `exact_below` candidate rows (and whenever a filter leaves that few) it scans the float
matrix exactly. benchmarks/bench_search.py measures both stages against an exact scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_BELOW = 30_000
DEFAULT_RESCORE = 1_000


@dataclass(frozen=True)
class VectorSearchInfo:
    """How a vector search ran: rows considered, first stage, and candidates re-scored."""

    rows: int
    stage: str  # "exact" | "binary+rescore" | "empty"
    rescored: int

    def as_dict(self) -> dict:
        return {"rows": self.rows, "stage": self.stage, "rescored": self.rescored}


class VectorMatrix:
    """Every chunk vector of the index in memory: ids sorted, float32 rows, sign bit codes."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray):
        order = np.argsort(ids, kind="stable")
        self.ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        # Sign codes packed into 64-bit words, so the Hamming scan is a few XOR + popcounts.
        if dim % 64 == 0 and len(self.ids):
            packed = np.packbits(self.vectors > 0, axis=1)
            self.codes: np.ndarray | None = np.ascontiguousarray(packed).view(np.uint64)
        else:
            self.codes = None

    @classmethod
    def empty(cls, dim: int = 384) -> VectorMatrix:
        return cls(np.zeros(0, np.int64), np.zeros((0, dim), np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        codes = self.codes.nbytes if self.codes is not None else 0
        return self.ids.nbytes + self.vectors.nbytes + codes

    def rows_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Return the matrix rows of those chunk ids (ids without a vector are skipped)."""
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        positions = np.searchsorted(self.ids, chunk_ids)
        positions = np.minimum(positions, max(len(self.ids) - 1, 0))
        found = self.ids[positions] == chunk_ids if len(self.ids) else np.zeros(0, bool)
        return np.unique(positions[found])

    def search(
        self,
        query: np.ndarray,
        depth: int,
        *,
        rows: np.ndarray | None = None,
        exact_below: int = EXACT_BELOW,
        rescore: int = DEFAULT_RESCORE,
    ) -> tuple[list[tuple[int, float]], VectorSearchInfo]:
        """Return the `depth` nearest (chunk_id, cosine similarity), best first, and how.

        `rows` limits the search to those matrix rows (a filter); None searches everything.
        """
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        considered = len(self.ids) if rows is None else len(rows)
        if considered == 0 or depth <= 0:
            return [], VectorSearchInfo(considered, "empty", 0)
        rescore = max(rescore, depth)
        if considered <= max(exact_below, rescore) or self.codes is None:
            candidates = rows
            similarities = self.vectors @ query if rows is None else self.vectors[rows] @ query
            stage = "exact"
        else:
            candidates = self._nearest_codes(query, rescore, rows)
            similarities = self.vectors[candidates] @ query
            stage = "binary+rescore"
        ids = self.ids if candidates is None else self.ids[candidates]
        best = _top(similarities, ids, depth)
        hits = [(int(ids[i]), float(similarities[i])) for i in best]
        rescored = len(similarities) if stage != "exact" else 0
        return hits, VectorSearchInfo(considered, stage, rescored)

    def _nearest_codes(self, query: np.ndarray, count: int, rows: np.ndarray | None) -> np.ndarray:
        """Return the `count` rows whose sign codes are nearest the query's (Hamming)."""
        assert self.codes is not None
        query_code = np.packbits(query > 0).view(np.uint64)
        codes = self.codes if rows is None else self.codes[rows]
        distances = np.bitwise_count(codes ^ query_code).sum(axis=1, dtype=np.uint16)
        # A histogram finds the distance cut-off in one pass; ties at the cut-off fill up the
        # rest in row order, so exactly `count` candidates are re-scored.
        histogram = np.bincount(distances, minlength=query.size + 1)
        cutoff = int(np.searchsorted(np.cumsum(histogram), count))
        below = np.flatnonzero(distances < cutoff)
        at_cutoff = np.flatnonzero(distances == cutoff)[: count - len(below)]
        chosen = np.concatenate([below, at_cutoff])
        return chosen if rows is None else rows[chosen]


def _top(similarities: np.ndarray, ids: np.ndarray, depth: int) -> np.ndarray:
    """Return the positions of the `depth` highest similarities, best first (ties: lower id)."""
    if depth < len(similarities):
        part = np.argpartition(-similarities, depth - 1)[:depth]
    else:
        part = np.arange(len(similarities))
    return part[np.lexsort((ids[part], -similarities[part]))]
