"""Confidence intervals and paired comparisons of retrieval systems over per-query scores.

A mean over a few dozen queries moves by hundredths when two or three queries change, so each
mean comes with a percentile-bootstrap interval (queries resampled with replacement), and each
pair of systems with the mean per-query difference, its paired-bootstrap interval (both systems
scored on the same resampled queries) and a two-sided p-value.

The p-value comes from a paired randomisation test, not from the bootstrap: if two systems are
interchangeable, each query's difference is as likely to have either sign, so flipping signs
gives the null distribution with no assumption about its shape (Smucker, Allan and Carterette,
CIKM 2007, recommend it for IR metrics). Queries with no difference carry no information about
the sign; when few queries differ, all sign patterns are enumerated and the p-value is exact.
That matters on small sets: on beir-mini hybrid and semantic differ on 4 of 35 queries, where
the percentile interval can exclude 0 while no test on 4 queries can give p below 2/16.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
EXACT_UP_TO = 16  # differing queries whose 2**16 sign patterns are enumerated instead of sampled
_BLOCK = 1 << 22  # matrix elements per block, so 10k queries x 2000 resamples stay in ~32 MB
_TIE = 1e-9  # float sums of equal magnitude differ in the last bits; they count as ties


@dataclass(frozen=True)
class PairedComparison:
    """The mean per-query difference first - second, its interval and two-sided p-value."""

    difference: float
    interval: tuple[float, float]
    p_value: float


def bootstrap_means(matrix: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Return the column means of `resamples` query resamples of matrix (queries x series).

    All columns share each resample, so the difference of two columns' resampled means is the
    paired bootstrap of their difference. A resample is drawn as each query's multiplicity,
    which makes its means one matrix product.
    """
    queries = matrix.shape[0]
    if queries == 0:
        raise ValueError("no queries to resample")
    rng = np.random.default_rng(seed)
    uniform = np.full(queries, 1.0 / queries)
    blocks = [
        rng.multinomial(queries, uniform, size=block) @ matrix / queries
        for block in _blocks(resamples, queries)
    ]
    return np.concatenate(blocks)


def percentile_interval(
    resampled: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Return the central `confidence` share of resampled statistics as (low, high)."""
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return float(low), float(high)


def confidence_interval(
    scores: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Return the percentile-bootstrap interval of the mean of per-query scores."""
    matrix = np.asarray(scores, dtype=np.float64)[:, None]
    return percentile_interval(
        bootstrap_means(matrix, resamples=resamples, seed=seed)[:, 0], confidence
    )


def sign_flip_p_values(
    differences: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0
) -> np.ndarray:
    """Return each column's two-sided paired randomisation-test p-value of a zero mean.

    differences is queries x comparisons. A column with at most `EXACT_UP_TO` non-zero
    differences is tested over all their sign patterns (exact); the others share `resamples`
    random sign patterns, counting the observed one so that a p-value is never 0.
    """
    observed = np.abs(differences.sum(axis=0)) - _TIE
    sampled = np.count_nonzero(differences, axis=0) > EXACT_UP_TO
    p_values = np.empty(differences.shape[1])
    for column in np.flatnonzero(~sampled):
        values = differences[differences[:, column] != 0.0, column]
        bits = np.arange(1 << len(values))[:, None] >> np.arange(len(values)) & 1
        p_values[column] = np.mean(np.abs((1 - 2 * bits) @ values) >= observed[column])
    if sampled.any():
        rng = np.random.default_rng(seed)
        extreme = np.zeros(int(sampled.sum()))
        for block in _blocks(resamples, differences.shape[0]):
            signs = np.where(rng.random((block, differences.shape[0])) < 0.5, -1.0, 1.0)
            sums = np.abs(signs @ differences[:, sampled])
            extreme += np.count_nonzero(sums >= observed[sampled], axis=0)
        p_values[sampled] = (extreme + 1) / (resamples + 1)
    return p_values


def paired_comparison(
    first: Sequence[float],
    second: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> PairedComparison:
    """Return how first's per-query scores compare with second's on the same queries."""
    scores = {"first": {"score": first}, "second": {"score": second}}
    _, comparisons = summarise(
        scores, [("first", "second")], resamples=resamples, seed=seed, confidence=confidence
    )
    return comparisons["first-second"]["score"]


def summarise(
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    pairs: Sequence[tuple[str, str]],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> tuple[dict[str, dict[str, tuple[float, float]]], dict[str, dict[str, PairedComparison]]]:
    """Return each system's interval per metric, and the comparisons of each (first, second).

    `scores[system][metric]` holds one score per query, every list in the same query order.
    Every interval, the systems' own and the paired ones, comes from one set of resamples.
    """
    columns = [(system, metric) for system, metrics in scores.items() for metric in metrics]
    matrix = np.column_stack([np.asarray(scores[s][m], np.float64) for s, m in columns])
    means = bootstrap_means(matrix, resamples=resamples, seed=seed)
    at = {column: i for i, column in enumerate(columns)}
    intervals = {
        system: {m: percentile_interval(means[:, at[system, m]], confidence) for m in metrics}
        for system, metrics in scores.items()
    }
    compared = [(pair, metric) for pair in pairs for metric in scores[pair[0]]]
    first = [at[f, metric] for (f, _), metric in compared]
    second = [at[s, metric] for (_, s), metric in compared]
    differences = matrix[:, first] - matrix[:, second]
    resampled = means[:, first] - means[:, second]
    p_values = sign_flip_p_values(differences, resamples=resamples, seed=seed)
    comparisons: dict[str, dict[str, PairedComparison]] = {f"{f}-{s}": {} for f, s in pairs}
    for i, ((f, s), metric) in enumerate(compared):
        comparisons[f"{f}-{s}"][metric] = PairedComparison(
            difference=float(differences[:, i].mean()),
            interval=percentile_interval(resampled[:, i], confidence),
            p_value=float(p_values[i]),
        )
    return intervals, comparisons


def _blocks(rows: int, width: int) -> Iterator[int]:
    step = max(_BLOCK // max(width, 1), 1)
    for start in range(0, rows, step):
        yield min(step, rows - start)
