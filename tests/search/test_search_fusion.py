"""Reciprocal rank fusion: weights / (k + rank) summed over lists, every contribution kept."""

from __future__ import annotations

import pytest

from hbi.search.fusion import reciprocal_rank_fusion, single_list
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
