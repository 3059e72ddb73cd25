"""Reciprocal rank fusion: weights / (k + rank) summed over lists, every contribution kept."""

from __future__ import annotations

import numpy as np
import pytest

from hbi.search.fusion import BookList, best_per_book, reciprocal_rank_fusion, single_list
from hbi.search.models import ListRank


def test_item_in_both_lists_beats_a_single_first_place() -> None:
    fused = reciprocal_rank_fusion(
        {"lexical": [(1, 9.0), (2, 8.0)], "semantic": [(3, 0.9), (2, 0.8)]}, k=60
    )
    assert fused[0].item == 2
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 62)


def test_explain_keeps_rank_and_score_per_list() -> None:
    fused = reciprocal_rank_fusion({"lexical": [(7, 3.5)], "semantic": [(8, 0.4), (7, 0.3)]})
    item = next(f for f in fused if f.item == 7)
    assert item.lists == {"lexical": ListRank(1, 3.5), "semantic": ListRank(2, 0.3)}
    assert item.score == pytest.approx(1 / 61 + 1 / 62)


def test_weights_scale_each_list() -> None:
    fused = reciprocal_rank_fusion(
        {"lexical": [(1, 1.0)], "semantic": [(2, 1.0)]},
        k=10,
        weights={"lexical": 3.0, "semantic": 1.0},
    )
    assert [f.item for f in fused] == [1, 2]
    assert fused[0].score == pytest.approx(3 / 11)


def test_k_flattens_the_head() -> None:
    lists = {"a": [(1, 0.0), (2, 0.0)], "b": [(3, 0.0), (4, 0.0), (5, 0.0), (6, 0.0), (2, 0.0)]}
    # With a small k rank 1 of one list wins; with a large k agreement of both lists wins.
    assert reciprocal_rank_fusion(lists, k=1)[0].item in (1, 3)
    assert reciprocal_rank_fusion(lists, k=60)[0].item == 2


def test_ties_go_to_the_better_best_rank_then_lower_id() -> None:
    fused = reciprocal_rank_fusion({"a": [(5, 0.0), (6, 0.0)], "b": [(4, 0.0)]}, k=60)
    assert [f.item for f in fused] == [4, 5, 6]


def test_an_item_listed_twice_counts_once() -> None:
    fused = reciprocal_rank_fusion({"a": [(1, 2.0), (1, 1.0)]}, k=60)
    assert len(fused) == 1 and fused[0].score == pytest.approx(1 / 61)


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion({"a": [(1, 1.0)]}, k=0)


def test_single_list_keeps_the_list_score() -> None:
    items = single_list([(3, 7.5), (1, 2.0)], "lexical")
    assert [(i.item, i.score, i.lists["lexical"].rank) for i in items] == [(3, 7.5, 1), (1, 2.0, 2)]


def book_list(entries: list[tuple[int, int, float]]) -> BookList:
    """A complete list from (chunk id, book number, score), best first."""
    chunks, books, scores = zip(*entries, strict=True)
    return BookList(np.array(chunks), np.array(books), np.array(scores))


LEXICAL = [(1, 0, 9.0), (2, 0, 8.0), (3, 1, 7.0), (4, 2, 6.0)]
SEMANTIC = [(5, 1, 0.9), (4, 2, 0.8), (2, 0, 0.7), (1, 0, 0.6), (3, 1, 0.5)]


def test_best_per_book_is_each_books_first_item_of_the_fusion() -> None:
    lists = {"lexical": LEXICAL, "semantic": SEMANTIC}
    fused = reciprocal_rank_fusion({n: [(c, s) for c, _, s in e] for n, e in lists.items()})
    book = {chunk: number for entries in lists.values() for chunk, number, _ in entries}
    first: dict[int, object] = {}
    for item in fused:
        first.setdefault(book[item.item], item)
    found = best_per_book({n: book_list(e) for n, e in lists.items()}, fuse=True)
    assert [(i.item, i.score, i.lists) for i in found] == [
        (i.item, i.score, i.lists) for i in first.values()
    ]


def test_best_per_book_of_one_list_keeps_its_scores() -> None:
    found = best_per_book({"semantic": book_list(SEMANTIC)}, fuse=False)
    assert [(i.item, i.score) for i in found] == [(5, 0.9), (4, 0.8), (2, 0.7)]
    assert found[2].lists == {"semantic": ListRank(3, 0.7)}


def test_passages_ahead_go_first_in_fused_order() -> None:
    found = best_per_book({"semantic": book_list(SEMANTIC)}, fuse=False, ahead=np.array([1, 3]))
    assert [i.item for i in found] == [1, 3, 4]
