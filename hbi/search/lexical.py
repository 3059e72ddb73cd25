"""The lexical list: FTS5 BM25, with very common words kept out of the expensive part.

FTS5 answers `MATCH 'a OR b OR c' ORDER BY bm25() LIMIT n` by scoring every row that holds any
of the words, so one common word ("the", "of", "war" in a war library) makes a query score
most of the index: 300-800 ms at 1M passages on 2 cores, however rare the other words are.

For a bag-of-words query (only words, only OR, which is what people type) the BM25 score is a
sum over words, and a word can add at most idf * (k1 + 1) to any passage. So, as Lucene's
MaxScore and "common terms" queries do:

1. Words in more than half of the passages get FTS5's floor idf (1e-6): they can only break
   near-ties, so they are never matched, only added when re-scoring; passages holding only
   such words rank last in FTS5 and complete a list that is still short (`_void_tail`).
2. FTS5 scores the passages holding the rarest words (together at most `budget` postings),
   keeping `2 * depth + 50` candidates; the other words' contributions are added to those
   candidates in Python with FTS5's own formula and tokenizer (`hbi.search.bm25`).
3. The list is exact when the depth-th best candidate beats what any other passage could
   reach (the last candidate's score, or 0 if FTS5 returned them all, plus the other words'
   bounds). Otherwise a second pass moves into the matched set the words a passage would need
   to reach that score (MaxScore), up to `second_budget` postings, or keeps more candidates.

The plan (`LexicalPlan`) says which words were matched, deferred or ignored and whether the
list is proven exact. Phrases, prefixes, AND and NOT go to FTS5 as written.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hbi.index.search import IndexStore, Scope
from hbi.search import bm25
from hbi.search.bm25 import ColumnWeights, CorpusStats
from hbi.search.fts_query import ParsedQuery
from hbi.search.tokens import Fts5Tokens

FIRST_BUDGET = 50_000
SECOND_BUDGET = 400_000
MAX_PASSES = 3


@dataclass(frozen=True)
class TermStat:
    """A query word, its index token, the rows holding it, its idf and score bound."""

    word: str
    token: str
    doc_count: int
    idf: float

    @property
    def bound(self) -> float:
        """Return the most this word can add to a passage's score (0 if no passage has it)."""
        return bm25.upper_bound(self.idf) if self.doc_count else 0.0

    @property
    def void(self) -> bool:
        """Whether FTS5 floors its idf (it is in at least half of the rows)."""
        return self.idf <= bm25.IDF_FLOOR


@dataclass
class LexicalPlan:
    """How the lexical list was computed, for `explain`."""

    strategy: str  # "fts5" (the expression as written) | "common-terms" | "complete" | "skipped"
    expression: str | None = None
    matched: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # scored on candidates only
    passes: int = 0
    candidates: int = 0
    exact: bool = True
    void_tail: int = 0  # passages appended that hold only words in most passages
    idf: dict[str, float] = field(default_factory=dict)  # token -> idf, plain queries only
    # The bigram list of Chinese, Japanese, Thai… words (chunks_cjk), merged into this one.
    unsegmented: str | None = None
    unsegmented_candidates: int = 0

    def as_dict(self) -> dict:
        extra = (
            {
                "unsegmented": {
                    "expression": self.unsegmented,
                    "candidates": self.unsegmented_candidates,
                }
            }
            if self.unsegmented is not None
            else {}
        )
        return {
            "strategy": self.strategy,
            "expression": self.expression,
            "matched": self.matched,
            "deferred": self.deferred,
            "passes": self.passes,
            "candidates": self.candidates,
            "exact": self.exact,
            "void_tail": self.void_tail,
            "idf": {token: round(value, 4) for token, value in self.idf.items()},
            **extra,
        }


def choose_matched(terms: list[TermStat], budget: int) -> list[TermStat]:
    """Return the rarest live terms whose postings fit the budget (at least one)."""
    live = sorted((t for t in terms if not t.void and t.doc_count), key=lambda t: t.doc_count)
    chosen: list[TermStat] = []
    total = 0
    for term in live:
        if chosen and total + term.doc_count > budget:
            break
        chosen.append(term)
        total += term.doc_count
    return chosen


def maxscore_matched(terms: list[TermStat], threshold: float) -> list[TermStat]:
    """Return the terms a passage must hold one of to possibly score above threshold.

    The most common live terms whose bounds sum below the threshold cannot lift a passage
    that holds none of the others that far, so only the rest need matching.
    """
    live = sorted((t for t in terms if not t.void and t.doc_count), key=lambda t: t.doc_count)
    optional = 0.0
    keep = len(live)
    while keep > 1 and optional + live[keep - 1].bound < threshold:
        keep -= 1
        optional += live[keep].bound
    return live[:keep]


class LexicalSearch:
    """Computes the BM25 list of a parsed query over an index store."""

    def __init__(
        self,
        store: IndexStore,
        tokens: Fts5Tokens,
        weights: ColumnWeights | None = None,
        *,
        budget: int = FIRST_BUDGET,
        second_budget: int = SECOND_BUDGET,
    ):
        self.store = store
        self.tokens = tokens
        self.weights = weights or ColumnWeights()
        self.budget = budget
        self.second_budget = second_budget
        self._lock = threading.Lock()
        self._version: int | None = None
        self._doc_counts: dict[str, int] = {}
        self._corpus: CorpusStats | None = None

    def ranked(
        self,
        query: ParsedQuery,
        depth: int,
        scope: Scope | None = None,
        *,
        version: int | None = None,
        plan_common_terms: bool = True,
        informative_only: bool = False,
    ) -> tuple[list[tuple[int, float]], LexicalPlan]:
        """Return the `depth` best (chunk_id, BM25 score), best first, and the plan used.

        `informative_only` (hybrid search) skips, on an unfiltered index, work whose results
        would all score at FTS5's idf floor when it exceeds the first budget: queries of
        only very common words, and the tail of passages holding only such words.

        A query with Chinese, Japanese, Thai… characters also searches their bigrams
        (`chunks_cjk`): each passage keeps the better of its two BM25 scores. Other queries
        read the word index only.
        """
        found, plan = self._word_ranked(
            query,
            depth,
            scope,
            version=version,
            plan_common_terms=plan_common_terms,
            informative_only=informative_only,
        )
        bigrams = query.unsegmented_expression()
        scope = scope or Scope()
        if bigrams is None or depth <= 0 or scope.empty:
            return found, plan
        extra = self.store.bm25_list(bigrams, depth, self.weights, scope, table="chunks_cjk")
        plan.unsegmented, plan.unsegmented_candidates = bigrams, len(extra)
        best = dict(found)
        for chunk_id, score in extra:
            best[chunk_id] = max(score, best.get(chunk_id, score))
        return sorted(best.items(), key=lambda c: (-c[1], c[0]))[:depth], plan

    def _word_ranked(
        self,
        query: ParsedQuery,
        depth: int,
        scope: Scope | None,
        *,
        version: int | None,
        plan_common_terms: bool,
        informative_only: bool,
    ) -> tuple[list[tuple[int, float]], LexicalPlan]:
        """Return `ranked`'s list from the word index (chunks_fts) alone."""
        expression = query.expression()
        scope = scope or Scope()
        if expression is None or depth <= 0 or scope.empty:
            return [], LexicalPlan("fts5", expression)
        words = query.plain_words() if plan_common_terms else None
        stats = self._term_stats(words, version) if words else None
        if informative_only and stats is not None and self._uninformative(stats[0], scope):
            plan = LexicalPlan("skipped", expression, exact=False)
            plan.idf = {t.token: t.idf for t in stats[0]}
            return [], plan
        if stats is not None and len(stats[0]) > 1 and any(not t.void for t in stats[0]):
            tail_budget = self.budget if informative_only else self.second_budget
            if not any(not t.void and t.doc_count for t in stats[0]):
                # Only words in most passages occur at all: the list is FTS5's, if affordable.
                plan = LexicalPlan("common-terms", expression)
                ranked = self._void_tail([], stats[0], depth, scope, plan, tail_budget)
                plan.idf = {t.token: t.idf for t in stats[0]}
                return ranked, plan
            ranked, plan = self._common_terms(*stats, depth, scope, tail_budget)
            plan.idf = {t.token: t.idf for t in stats[0]}
            return ranked, plan
        hits = self.store.bm25_list(expression, depth, self.weights, scope)
        plan = LexicalPlan("fts5", expression, passes=1, candidates=len(hits))
        if stats is not None:
            plan.idf = {t.token: t.idf for t in stats[0]}
        return hits, plan

    def complete(
        self,
        query: ParsedQuery,
        scope: Scope | None = None,
        *,
        version: int | None = None,
        plan_common_terms: bool = True,
        informative_only: bool = False,
    ) -> tuple[list[tuple[int, str, float]], LexicalPlan]:
        """Return every matching passage as (chunk_id, book_id, BM25 score), best first.

        The list `ranked` gives at a depth beyond its last passage, scored by FTS5 in one
        statement (what a search needs that ranks every book: its books' best passages can lie
        anywhere in the list). Each word of a plain query counts once, as `ranked` counts it;
        `informative_only` skips a list of only very common words, as `ranked` does.
        """
        expression = query.expression()
        scope = scope or Scope()
        if expression is None or scope.empty:
            return [], LexicalPlan("fts5", expression)
        words = query.plain_words() if plan_common_terms else None
        stats = self._term_stats(words, version) if words else None
        if stats is not None:
            if informative_only and self._uninformative(stats[0], scope):
                return [], LexicalPlan("skipped", expression, exact=False)
            if len(stats[0]) > 1 and any(not t.void for t in stats[0]):
                expression = _or_expression([t.word for t in stats[0]])
        found = self.store.bm25_books(expression, self.weights, scope)
        plan = LexicalPlan("complete", expression, passes=1, candidates=len(found))
        bigrams = query.unsegmented_expression()
        if bigrams is None:
            return found, plan
        extra = self.store.bm25_books(bigrams, self.weights, scope, table="chunks_cjk")
        plan.unsegmented, plan.unsegmented_candidates = bigrams, len(extra)
        best = {chunk_id: (book_id, score) for chunk_id, book_id, score in found}
        for chunk_id, book_id, score in extra:
            if chunk_id not in best or score > best[chunk_id][1]:
                best[chunk_id] = (book_id, score)
        merged = [(chunk_id, book_id, score) for chunk_id, (book_id, score) in best.items()]
        return sorted(merged, key=lambda c: (-c[2], c[0])), plan

    def _uninformative(self, terms: list[TermStat], scope: Scope) -> bool:
        """Whether every passage would score at FTS5's idf floor, with more than the budget to
        score: a list without information, which a hybrid search leaves to the semantic list
        rather than pay for."""
        return (
            not any(not t.void and t.doc_count for t in terms)
            and scope.unlimited
            and sum(t.doc_count for t in terms) > self.budget
        )

    def token_idf(self, tokens: list[str], version: int | None = None) -> dict[str, float]:
        """Return FTS5's idf of each index token (cached until the index changes)."""
        stats = self._stats({token: token for token in tokens}, version)
        return {} if stats is None else {t.token: t.idf for t in stats[0]}

    def _term_stats(
        self, words: list[str], version: int | None
    ) -> tuple[list[TermStat], CorpusStats] | None:
        """Return the words' statistics (each must be one token), or None to use FTS5 as is."""
        by_token: dict[str, str] = {}
        for word in words:
            found = self.tokens.tokens(word, query=True)
            if len(found) != 1:
                return None
            by_token.setdefault(found[0], word)
        return self._stats(by_token, version)

    def _stats(
        self, by_token: dict[str, str], version: int | None
    ) -> tuple[list[TermStat], CorpusStats] | None:
        """Return statistics of tokens (mapped to the words that produced them), or None."""
        if not by_token:
            return None
        with self._lock:
            if version is None or version != self._version:
                self._version, self._doc_counts, self._corpus = version, {}, None
            missing = [t for t in by_token if t not in self._doc_counts]
        counts = self.store.doc_counts(missing)
        with self._lock:
            self._doc_counts.update(counts)
            counts = {t: self._doc_counts.get(t, 0) for t in by_token}
            corpus = self._corpus
        if corpus is None:
            # bm25()'s table statistics are read through a row that a present word matches.
            present = [by_token[t] for t in sorted(counts, key=counts.get, reverse=True)]
            corpus = self.store.corpus_stats(_or_expression(present[:1])) if present else None
            if corpus is None or corpus.rows == 0 or counts[max(counts, key=counts.get)] == 0:
                return None
            with self._lock:
                self._corpus = corpus
        terms = [
            TermStat(word, token, counts[token], bm25.idf(corpus, counts[token]))
            for token, word in by_token.items()
        ]
        return terms, corpus

    def _common_terms(
        self,
        terms: list[TermStat],
        corpus: CorpusStats,
        depth: int,
        scope: Scope,
        tail_budget: int,
    ) -> tuple[list[tuple[int, float]], LexicalPlan]:
        matched = choose_matched(terms, self.budget)
        limit = 2 * depth + 50
        plan = LexicalPlan("common-terms")
        ranked: list[tuple[int, float]] = []
        for attempt in range(1, MAX_PASSES + 1):
            deferred = [t for t in terms if t not in matched]
            expression = _or_expression([t.word for t in matched])
            candidates = self.store.bm25_list(expression, limit, self.weights, scope)
            ranked = self._rescore(candidates, deferred, corpus)
            plan = LexicalPlan(
                "common-terms",
                expression,
                [t.word for t in matched],
                [t.word for t in deferred],
                attempt,
                len(candidates),
                exact=False,
            )
            beyond = candidates[-1][1] if len(candidates) == limit else 0.0
            reachable = beyond + sum(t.bound for t in deferred)
            threshold = ranked[depth - 1][1] if len(ranked) >= depth else 0.0
            if threshold > reachable or (len(candidates) < limit and not deferred):
                plan.exact = True
                break
            if len(ranked) < depth and all(t.void or not t.doc_count for t in deferred):
                # Every passage with a live word is a candidate already.
                plan.exact = True
                break
            needed = maxscore_matched(terms, threshold)
            wider = choose_matched(needed, self.second_budget)
            if {t.token for t in wider} <= {t.token for t in matched}:
                limit *= 4
            matched = sorted(
                {t.token: t for t in [*matched, *wider]}.values(), key=lambda t: t.doc_count
            )
        ranked = ranked[:depth]
        if len(ranked) < depth and plan.exact:
            ranked = self._void_tail(ranked, terms, depth, scope, plan, tail_budget)
        return ranked, plan

    def _void_tail(
        self,
        ranked: list[tuple[int, float]],
        terms: list[TermStat],
        depth: int,
        scope: Scope,
        plan: LexicalPlan,
        budget: int,
    ) -> list[tuple[int, float]]:
        """Return ranked followed by the passages that hold only very common words.

        FTS5 ranks them last (their words' idf is 1e-6), so a short list is completed from
        them exactly as FTS5 would. Scoring them means scoring most of the scope: skipped
        (and the plan marked inexact) when that exceeds the budget on the whole index.
        """
        void = [t for t in terms if t.void and t.doc_count]
        if not void:
            return ranked
        if scope.unlimited and sum(t.doc_count for t in void) > budget:
            plan.exact = False
            return ranked
        seen = {chunk_id for chunk_id, _ in ranked}
        expression = _or_expression([t.word for t in void])
        tail = self.store.bm25_list(expression, depth + len(seen), self.weights, scope)
        extra = [(chunk_id, score) for chunk_id, score in tail if chunk_id not in seen]
        plan.void_tail = len(extra[: depth - len(ranked)])
        return ranked + extra[: depth - len(ranked)]

    def _rescore(
        self, candidates: list[tuple[int, float]], deferred: list[TermStat], corpus: CorpusStats
    ) -> list[tuple[int, float]]:
        """Return candidates with the deferred words' BM25 added, best first (ties: lower id)."""
        if not deferred or not candidates:
            return sorted(candidates, key=lambda c: (-c[1], c[0]))
        columns = self.store.passage_columns([chunk_id for chunk_id, _ in candidates])
        tokens = [t.token for t in deferred]
        idfs = [t.idf for t in deferred]
        rescored = []
        for chunk_id, score in candidates:
            texts = columns.get(chunk_id)
            if texts is None:
                continue
            tokenized = [self.tokens.tokens(text) for text in texts]
            frequencies, length = bm25.weighted_frequencies(tokenized, tokens, self.weights)
            rescored.append((chunk_id, score + bm25.score(frequencies, idfs, length, corpus)))
        return sorted(rescored, key=lambda c: (-c[1], c[0]))


def _or_expression(words: list[str]) -> str:
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
