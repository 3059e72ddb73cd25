"""Nearest passages by cosine similarity, from the index's vectors held in memory.

sqlite-vec's vec0 KNN is an exact scan in C without SIMD in the PyPI wheel: on 2 cores it
takes about 64 ms at 100k vectors and 700 ms at 1M, too slow for hybrid search. HBI keeps the
vectors (unit length, so cosine similarity is a dot product) in one float32 matrix per process:
each chunk's own vector and its sentence vectors (4.6 per chunk on the shared corpus), all
rows under the chunk's id, a chunk scoring as its best row. It searches the matrix in three
steps when it is large:

1. a Hamming scan over 1-bit sign codes of the chunk vectors only (48 bytes each,
   `np.bitwise_count`), keeping the `rescore` nearest chunks;
2. exact float32 dot products for those chunks' vectors;
3. exact dot products for the sentence vectors of the best `sentence_rescore` of them (at
   least `depth`), best `depth` chunks returned.

Scanning every sentence's code, or scoring the sentences of all `rescore` candidates, measured
8 and 2 times slower at 100k chunks. Restricting sentences to the best chunks loses little: a
sentence is part of its chunk, so a chunk holding a sentence near the query is itself near it
(the quoted chunks of the shared corpus ranked at most 63rd of ~6,000 by chunk vector); and the
`depth` chunks returned are all among those whose sentences were scored, since a chunk scores
at least its chunk vector. Below `exact_below` rows (and whenever a filter leaves that few)
every row is scored exactly. benchmarks/bench_search.py measures the stages against an exact
scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbi.search.models import DEFAULT_RESCORE, EXACT_BELOW

SENTENCE_RESCORE = 200


@dataclass(frozen=True)
class VectorSearchInfo:
    """How a vector search ran: rows considered, first stage, candidates re-scored, and which
    of the hits matched through a sentence vector rather than their chunk vector."""

    rows: int
    stage: str  # "exact" | "binary+rescore" | "empty"
    rescored: int
    by_sentence: frozenset[int] = frozenset()

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "stage": self.stage,
            "rescored": self.rescored,
            "matched_by_sentence": len(self.by_sentence),
        }


class VectorMatrix:
    """Every chunk and sentence vector of the index in memory, rows grouped by chunk id.

    A chunk has one chunk vector and any number of sentence vectors, all under its chunk id;
    `sentence` marks the sentence rows. A chunk's similarity to a query is the best of its rows.
    """

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, sentence: np.ndarray | None = None):
        order = np.argsort(ids, kind="stable")
        self.ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        marks = np.zeros(len(ids), bool) if sentence is None else np.asarray(sentence, bool)
        self.sentence = marks[order]
        self.chunk_rows = np.flatnonzero(~self.sentence)
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        # Sign codes of the chunk rows packed into 64-bit words, so the Hamming scan is a few
        # XOR + popcounts; code i belongs to row chunk_rows[i].
        if dim % 64 == 0 and len(self.chunk_rows):
            packed = np.packbits(self.vectors[self.chunk_rows] > 0, axis=1)
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
        rows = self.ids.nbytes + self.sentence.nbytes + self.chunk_rows.nbytes
        return rows + self.vectors.nbytes + codes

    def rows_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Return every matrix row of those chunk ids, ascending (ids without a vector skipped)."""
        wanted = np.unique(np.asarray(chunk_ids, dtype=np.int64))
        first = np.searchsorted(self.ids, wanted, side="left")
        lengths = np.searchsorted(self.ids, wanted, side="right") - first
        # Row r of a chunk's run is first + (r's place in the run): one arange, shifted per run.
        run_starts = np.cumsum(lengths) - lengths
        return np.repeat(first - run_starts, lengths) + np.arange(lengths.sum())

    def search(
        self,
        query: np.ndarray,
        depth: int,
        *,
        rows: np.ndarray | None = None,
        exact_below: int = EXACT_BELOW,
        rescore: int = DEFAULT_RESCORE,
        sentence_rescore: int = SENTENCE_RESCORE,
    ) -> tuple[list[tuple[int, float]], VectorSearchInfo]:
        """Return the `depth` nearest (chunk_id, cosine similarity), best first, and how.

        A chunk's similarity is that of its nearest row. `rows` (ascending) limits the search
        to those matrix rows (a filter); None searches everything.
        """
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        considered = len(self.ids) if rows is None else len(rows)
        if considered == 0 or depth <= 0:
            return [], VectorSearchInfo(considered, "empty", 0)
        rescore = max(rescore, depth)
        if considered <= max(exact_below, rescore) or self.codes is None:
            positions = np.arange(len(self.ids)) if rows is None else rows
            similarities = self.vectors @ query if rows is None else self.vectors[rows] @ query
            hits, by_sentence = self._best_chunks(positions, similarities, depth)
            return hits, VectorSearchInfo(considered, "exact", 0, by_sentence)
        codes = (
            None if rows is None else np.searchsorted(self.chunk_rows, rows[~self.sentence[rows]])
        )
        candidates = self.chunk_rows[self._nearest_codes(query, rescore, codes)]
        chunk_similarities = self.vectors[candidates] @ query
        order = _top(chunk_similarities, self.ids[candidates], max(sentence_rescore, depth))
        best = candidates[order]
        positions = self.rows_of(self.ids[best])
        similarities = self.vectors[positions] @ query
        hits, by_sentence = self._best_chunks(positions, similarities, depth)
        return hits, VectorSearchInfo(considered, "binary+rescore", len(candidates), by_sentence)

    def chunk_similarities(
        self, query: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return every chunk's id (ascending) and exact similarity (its best row's), of all
        chunks or of those `rows` (ascending): the list `search` gives at full depth, unsorted."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if rows is not None and len(rows) == 0 or len(self.ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        similarities = self.vectors @ query if rows is None else self.vectors[rows] @ query
        ids = self.ids if rows is None else self.ids[rows]
        starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        return ids[starts], np.maximum.reduceat(similarities, starts)

    def won_by_sentence(self, query: np.ndarray, chunk_ids: list[int]) -> frozenset[int]:
        """Return which of those chunks are nearest the query through a sentence vector."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        won = set()
        for chunk_id in chunk_ids:
            rows = self.rows_of(np.array([chunk_id]))
            if len(rows) and self.sentence[rows[int(np.argmax(self.vectors[rows] @ query))]]:
                won.add(chunk_id)
        return frozenset(won)

    def _best_chunks(
        self, positions: np.ndarray, similarities: np.ndarray, depth: int
    ) -> tuple[list[tuple[int, float]], frozenset[int]]:
        """Return the `depth` best chunks among ascending rows, and those a sentence row won."""
        ids = self.ids[positions]
        starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        best = np.maximum.reduceat(similarities, starts)
        chunk_ids = ids[starts]
        ends = np.append(starts[1:], len(ids))
        hits, by_sentence = [], set()
        for group in _top(best, chunk_ids, depth):
            start = starts[group]
            winner = positions[start + int(np.argmax(similarities[start : ends[group]]))]
            hits.append((int(chunk_ids[group]), float(best[group])))
            if self.sentence[winner]:
                by_sentence.add(hits[-1][0])
        return hits, frozenset(by_sentence)

    def _nearest_codes(self, query: np.ndarray, count: int, codes: np.ndarray | None) -> np.ndarray:
        """Return the `count` codes (of all, or of those indices) nearest the query's (Hamming)."""
        assert self.codes is not None
        query_code = np.packbits(query > 0).view(np.uint64)
        scanned = self.codes if codes is None else self.codes[codes]
        distances = np.bitwise_count(scanned ^ query_code).sum(axis=1, dtype=np.uint16)
        # A histogram finds the distance cut-off in one pass; ties at the cut-off fill up the
        # rest in code order, so exactly `count` candidates (or all there are) are re-scored.
        histogram = np.bincount(distances, minlength=query.size + 1)
        cutoff = int(np.searchsorted(np.cumsum(histogram), count))
        below = np.flatnonzero(distances < cutoff)
        at_cutoff = np.flatnonzero(distances == cutoff)[: count - len(below)]
        chosen = np.concatenate([below, at_cutoff])
        return chosen if codes is None else codes[chosen]


def _top(similarities: np.ndarray, ids: np.ndarray, depth: int) -> np.ndarray:
    """Return the positions of the `depth` highest similarities, best first (ties: lower id)."""
    if depth < len(similarities):
        part = np.argpartition(-similarities, depth - 1)[:depth]
    else:
        part = np.arange(len(similarities))
    return part[np.lexsort((ids[part], -similarities[part]))]
