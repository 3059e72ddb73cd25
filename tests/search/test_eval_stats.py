"""Bootstrap intervals and paired tests over per-query scores, on synthetic scores and rankings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hbi.eval import ndcg_at
from hbi.eval.stats import (
    EXACT_UP_TO,
    confidence_interval,
    paired_comparison,
    sign_flip_p_values,
    summarise,
)


def scores(queries: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).beta(4, 2, queries)


def test_the_interval_contains_the_mean() -> None:
    values = scores(40, seed=1)
    low, high = confidence_interval(values)
    assert low < values.mean() < high


def test_the_interval_narrows_with_more_queries() -> None:
    few = confidence_interval(scores(30, seed=2))
    many = confidence_interval(scores(600, seed=3))
    # The width shrinks as 1/sqrt(queries): sqrt(600 / 30) is about 4.5.
    assert many[1] - many[0] < (few[1] - few[0]) / 3


def test_a_system_compared_with_itself_differs_by_nothing() -> None:
    values = scores(35, seed=4)
    comparison = paired_comparison(values, values)
    assert comparison.difference == 0.0
    assert comparison.interval == (0.0, 0.0)
    assert comparison.p_value == 1.0


def test_a_clearly_better_ranking_wins() -> None:
    rng = np.random.default_rng(5)
    documents = [f"d{i}" for i in range(20)]
    better, worse = [], []
    for _ in range(40):
        relevant = {"d0": 1}
        better.append(ndcg_at(_with_relevant_at(documents, rng.integers(0, 2)), relevant, 10))
        worse.append(ndcg_at(_with_relevant_at(documents, rng.integers(2, 12)), relevant, 10))
    comparison = paired_comparison(better, worse)
    assert comparison.p_value < 0.05
    assert 0 < comparison.interval[0] < comparison.difference < comparison.interval[1]


def _with_relevant_at(documents: list[str], rank: int) -> list[str]:
    others = documents[1:]
    return others[:rank] + ["d0"] + others[rank:]


def test_one_better_query_in_35_is_no_win() -> None:
    lexical = scores(35, seed=6)
    lexical[0] = 0.5
    tuned = lexical.copy()
    tuned[0] = 0.9
    comparison = paired_comparison(tuned, lexical)
    assert comparison.difference > 0.005
    assert comparison.interval[0] == 0.0 and comparison.p_value == 1.0


def test_few_differing_queries_get_an_exact_p_value() -> None:
    # Four queries better, none worse: 2 of the 16 sign patterns are as extreme (both signs).
    differences = np.zeros((35, 1))
    differences[:4, 0] = [0.1, 0.3, 0.2, 0.5]
    assert sign_flip_p_values(differences)[0] == pytest.approx(2 / 16)


def test_the_sampled_p_value_agrees_with_the_exact_one() -> None:
    rng = np.random.default_rng(7)
    differences = rng.normal(0.04, 0.2, EXACT_UP_TO + 1)
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=len(differences))))
    exact = np.mean(np.abs(signs @ differences) >= abs(differences.sum()) - 1e-9)
    sampled = sign_flip_p_values(differences[:, None], resamples=20000)[0]
    assert sampled == pytest.approx(exact, abs=0.015)


def test_the_sampled_p_value_is_never_zero() -> None:
    differences = np.full((EXACT_UP_TO + 10, 1), 0.5)
    assert sign_flip_p_values(differences, resamples=2000)[0] == pytest.approx(1 / 2001)


def test_the_seed_makes_the_figures_reproducible() -> None:
    systems = {
        name: {"ndcg@10": scores(60, seed=s), "mrr@10": scores(60, seed=s + 10)}
        for name, s in (("lexical", 8), ("hybrid", 9))
    }
    pairs = [("hybrid", "lexical")]
    first, second, other = (summarise(systems, pairs, seed=seed) for seed in (11, 11, 12))
    assert first == second
    assert first[0] != other[0]


def test_paired_intervals_come_from_the_systems_resamples() -> None:
    systems = {"a": {"m": scores(50, seed=13)}, "b": {"m": scores(50, seed=14)}}
    intervals, comparisons = summarise(systems, [("a", "b"), ("b", "a")])
    assert set(intervals) == {"a", "b"} and set(comparisons) == {"a-b", "b-a"}
    ab, ba = comparisons["a-b"]["m"], comparisons["b-a"]["m"]
    assert ab.difference == pytest.approx(-ba.difference)
    assert ab.interval == pytest.approx((-ba.interval[1], -ba.interval[0]))
    assert ab.p_value == ba.p_value


def test_no_queries_cannot_be_resampled() -> None:
    with pytest.raises(ValueError, match="no queries"):
        confidence_interval([])
