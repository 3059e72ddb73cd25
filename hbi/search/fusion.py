"""Reciprocal rank fusion: one ranking from several, by rank alone, with every contribution kept.

RRF (Cormack, Clarke and Büttcher, SIGIR 2009) scores an item by the sum over the lists that
hold it of weight / (k + rank). It needs no score calibration between BM25 and cosine
similarity, and k (60 in the paper) flattens the head: with k = 60, rank 1 is worth only about
twice rank 60, so an item both lists agree on beats one that a single list puts first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hbi.search.models import ListRank

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
