"""Reciprocal rank fusion: one ranking from several, by rank alone, with every contribution kept.

RRF (Cormack, Clarke and Büttcher, SIGIR 2009) scores an item by the sum over the lists that
hold it of weight / (k + rank). It needs no score calibration between BM25 and cosine
similarity, and k (60 in the paper) flattens the head: with k = 60, rank 1 is worth only about
twice rank 60, so an item both lists agree on beats one that a single list puts first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hbi.search.models import ListRank

if TYPE_CHECKING:
    import numpy as np

DEFAULT_RRF_K = 60


@dataclass
class FusedItem:
    """An item's fused score and its rank and score in each list that holds it."""

    item: int
    score: float
    lists: dict[str, ListRank] = field(default_factory=dict)


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[tuple[int, float]]],
    *,
    k: float = DEFAULT_RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[FusedItem]:
    """Return the items of all lists ordered by weighted RRF score (ties: better best rank, id).

    `ranked` maps a list's name to its (item, score) pairs, best first.
    """
    if k <= 0:
        raise ValueError(f"RRF k must be positive, got {k}")
    fused: dict[int, FusedItem] = {}
    for name, entries in ranked.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (item, list_score) in enumerate(entries, start=1):
            entry = fused.setdefault(item, FusedItem(item, 0.0))
            if name in entry.lists:  # a list naming an item twice counts it once
                continue
            entry.lists[name] = ListRank(rank, list_score)
            entry.score += weight / (k + rank)
    return sorted(
        fused.values(),
        key=lambda e: (-e.score, min(r.rank for r in e.lists.values()), e.item),
    )


def single_list(entries: Sequence[tuple[int, float]], name: str) -> list[FusedItem]:
    """Return one list's entries as FusedItems whose score is the list's own score."""
    return [
        FusedItem(item, list_score, {name: ListRank(rank, list_score)})
        for rank, (item, list_score) in enumerate(entries, start=1)
    ]


@dataclass(frozen=True)
class BookList:
    """A complete list: every passage it ranks, best first, with its book's number and score."""

    chunk_ids: np.ndarray  # int64
    books: np.ndarray  # int64, the number of each passage's book
    scores: np.ndarray


def best_per_book(
    ranked: Mapping[str, BookList],
    *,
    fuse: bool,
    k: float = DEFAULT_RRF_K,
    weights: Mapping[str, float] | None = None,
    ahead: np.ndarray | None = None,
) -> list[FusedItem]:
    """Return each book's first passage in the ranking of complete lists, best book first.

    The ranking is the one `reciprocal_rank_fusion` (`fuse`) or `single_list` (one list) gives,
    with the passages in `ahead` (chunk ids) moved before the others in that order, as the
    engine puts quotations first: ties broken alike, by the better best rank, then the lower
    id. Scores are summed in the lists' order, as there, so they are equal to the bit.
    """
    import numpy as np

    if fuse and k <= 0:
        raise ValueError(f"RRF k must be positive, got {k}")
    names = [name for name, entries in ranked.items() if len(entries.chunk_ids)]
    if not names:
        return []
    ids = np.unique(np.concatenate([ranked[name].chunk_ids for name in names]))
    books = np.zeros(len(ids), np.int64)
    scores = np.zeros(len(ids), np.float64)
    best_rank = np.full(len(ids), np.iinfo(np.int64).max)
    places = {}
    for name in names:
        entries = ranked[name]
        at = np.searchsorted(ids, entries.chunk_ids)
        ranks = np.arange(1, len(at) + 1)
        books[at] = entries.books
        if fuse:
            weight = 1.0 if weights is None else weights.get(name, 1.0)
            scores[at] += weight / (k + ranks)
        else:
            scores[at] = entries.scores
        best_rank[at] = np.minimum(best_rank[at], ranks)
        places[name] = np.full(len(ids), -1)
        places[name][at] = ranks - 1
    later = ~np.isin(ids, ahead) if ahead is not None else np.zeros(len(ids), bool)
    order = np.lexsort((ids, best_rank, -scores, later))
    _, firsts = np.unique(books[order], return_index=True)
    items = []
    for position in order[np.sort(firsts)]:
        item = FusedItem(int(ids[position]), float(scores[position]))
        for name in names:
            place = int(places[name][position])
            if place >= 0:
                item.lists[name] = ListRank(place + 1, float(ranked[name].scores[place]))
        items.append(item)
    return items
