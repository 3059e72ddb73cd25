"""Score HBI's lexical, semantic and hybrid search on a dataset in BEIR layout.

BEIR layout: `corpus.jsonl` ({"_id", "title", "text"} per line), `queries.jsonl` ({"_id",
"text"}), `qrels/test.tsv` (header, then query-id, corpus-id, score). Each document becomes
one "book" of a temporary index (never the user's library): its title is the book title, its
text is chunked by HBI's chunker, embedded by HBI's model and written through the index's one
write path. A query's document ranking is its passage ranking with each document kept
at its best passage, `DOC_DEPTH` documents deep. Each mean comes with its interval and each pair
of modes with a paired test (`hbi.eval.stats`): a few dozen queries cannot tell 0.005 apart.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hbi.books.book import BookMetadata, ExtractedBook
from hbi.bundle.build import bundle_rows
from hbi.bundle.files import bundle_fingerprint
from hbi.bundle.rows import build_rows
from hbi.chunking import chunk_book
from hbi.embedding import MiniLMEmbedder
from hbi.eval.metrics import mrr_at, ndcg_at, recall_at
from hbi.eval.stats import CONFIDENCE, RESAMPLES, summarise
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books
from hbi.search import MODES, LibrarySearch, SearchMode, SearchSettings
from hbi.search.fts_query import parse_query

DOC_DEPTH = 100
PASSAGE_DEPTH = 200  # passages per list, so that DOC_DEPTH documents survive collapsing
METRICS = ("ndcg@10", "recall@100", "mrr@10")
P_VALUE_TEST = "paired randomisation (sign-flip) test over queries, two-sided"
Progress = Callable[[str], None]


class BeirFormatError(ValueError):
    """A dataset folder that is not in BEIR layout."""


@dataclass
class BeirDataset:
    """A BEIR dataset: documents (title, text), queries with judgements, and the judgements."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path | str, split: str = "test") -> BeirDataset:
    """Return the dataset in folder; only queries judged in qrels/<split>.tsv are kept."""
    folder = Path(folder)
    paths = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    missing = [str(p.relative_to(folder)) for p in paths if not p.is_file()]
    if missing:
        raise BeirFormatError(f"{folder}: not a BEIR dataset, missing {', '.join(missing)}")
    corpus = {}
    for record in _jsonl(paths[0]):
        corpus[str(record["_id"])] = (record.get("title") or "", record.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    with paths[2].open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    queries = {
        str(record["_id"]): record["text"]
        for record in _jsonl(paths[1])
        if str(record["_id"]) in qrels
    }
    qrels = {q: judged for q, judged in qrels.items() if q in queries}
    if not queries:
        raise BeirFormatError(f"{folder}: no query of queries.jsonl is judged in {split}.tsv")
    return BeirDataset(corpus, queries, qrels)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def index_corpus(dataset: BeirDataset, index_path: str, model) -> dict[int, str]:
    """Index every document as a book of index_path; return each chunk id's document id.

    Rows go through the same write path as every book (bundle rows, then `apply_books`); the
    passages are embedded in one pass first, so each document's bundle finds its vectors.
    """
    documents = []
    for doc_id, (title, text) in dataset.corpus.items():
        book = ExtractedBook(format="text", text=text, toc=[], metadata=BookMetadata(title=title))
        chunks = chunk_book(book, model)
        if not chunks:
            continue
        # The key's last segment is empty, so an untitled document gets an empty book title.
        documents.append(
            build_rows(
                book_id=doc_id,
                book=book,
                chunks=chunks,
                object_key=f"beir/{doc_id}/",
                etag=None,
                data=text.encode("utf-8"),
            )
        )
    passages = [chunk for rows in documents for chunk in rows.chunks]
    vectors = model.embed_chunks([chunk.text for chunk in passages])
    known = {chunk.content_hash: v for chunk, v in zip(passages, vectors, strict=True)}
    books = []
    for rows in documents:
        bundle, _ = bundle_rows(rows, model.embed_chunks, model.model_id, known)
        books.append(ProjectedBook(bundle, bundle_fingerprint(bundle)))
    apply_books(connect(index_path), books)
    return {chunk.chunk_id: chunk.book_id for chunk in passages}


def document_ranking(chunk_ids: list[int], document_of: dict[int, str], depth: int) -> list[str]:
    """Return the documents of a passage ranking, each at its best passage, depth deep."""
    ranked: list[str] = []
    seen: set[str] = set()
    for chunk_id in chunk_ids:
        doc = document_of.get(chunk_id)
        if doc is not None and doc not in seen:
            seen.add(doc)
            ranked.append(doc)
            if len(ranked) == depth:
                break
    return ranked


def evaluate_beir(
    folder: Path | str,
    *,
    model=None,
    modes: tuple[SearchMode, ...] = MODES,
    settings: SearchSettings | None = None,
    progress: Progress | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    per_query: bool = False,
) -> dict:
    """Return nDCG@10, Recall@100 and MRR@10 per mode with 95 % intervals, and paired comparisons.

    Each mode's entry keeps its metric means and adds `ci95` (bootstrap over queries); `paired`
    compares every later mode of `modes` with every earlier one (difference = later - earlier);
    `per_query` adds each mode's scores keyed by query id, as pytrec_eval reports them.
    """
    dataset = load_beir(folder)
    query_ids = sorted(dataset.queries)
    scores = score_modes(
        dataset, query_ids, model=model, modes=modes, settings=settings, progress=progress
    )
    pairs = [(modes[i], earlier) for i in reversed(range(len(modes))) for earlier in modes[:i]]
    intervals, comparisons = summarise(scores, pairs, resamples=resamples, seed=seed)
    report: dict = {}
    for mode in modes:
        report[mode] = {metric: _round(np.mean(values)) for metric, values in scores[mode].items()}
        report[mode]["ci95"] = {
            metric: _round_interval(interval) for metric, interval in intervals[mode].items()
        }
    report["paired"] = {
        pair: {
            metric: {
                "difference": _round(comparison.difference),
                "ci95": _round_interval(comparison.interval),
                "p": _round(comparison.p_value),
            }
            for metric, comparison in by_metric.items()
        }
        for pair, by_metric in comparisons.items()
    }
    report["statistics"] = {
        "confidence": CONFIDENCE,
        "resamples": resamples,
        "seed": seed,
        "interval": "percentile bootstrap over queries, paired across modes",
        "p": P_VALUE_TEST,
    }
    report["queries"] = len(query_ids)
    report["docs"] = len(dataset.corpus)
    if per_query:
        report["per_query"] = {
            mode: {
                query_id: {metric: scores[mode][metric][i] for metric in METRICS}
                for i, query_id in enumerate(query_ids)
            }
            for mode in modes
        }
    return report


def score_modes(
    dataset: BeirDataset,
    query_ids: list[str],
    *,
    model=None,
    modes: tuple[SearchMode, ...] = MODES,
    settings: SearchSettings | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Return each mode's per-query scores of each metric, in the order of query_ids."""
    say = progress or (lambda message: None)
    if model is None:
        model = MiniLMEmbedder()
    settings = settings or SearchSettings(candidates=PASSAGE_DEPTH)
    with tempfile.TemporaryDirectory(prefix="hbi-beir-") as tmp:
        index_path = str(Path(tmp) / "beir.sqlite")
        started = time.perf_counter()
        document_of = index_corpus(dataset, index_path, model)
        say(
            f"indexed {len(dataset.corpus)} documents ({len(document_of)} passages) in "
            f"{time.perf_counter() - started:.1f}s"
        )
        texts = [dataset.queries[q] for q in query_ids]
        vectors = model.embed(texts)
        search = LibrarySearch(index_path, settings=settings)
        try:
            scores: dict[str, dict[str, list[float]]] = {}
            for mode in modes:
                started = time.perf_counter()
                scores[mode] = {metric: [] for metric in METRICS}
                for query_id, text, vector in zip(query_ids, texts, vectors, strict=True):
                    parsed = parse_query(text, search.tokens.has_token)
                    ranking = search.ranking(
                        parsed, text, mode, settings.candidates, query_vector=vector
                    )
                    ranked = document_ranking(
                        [item.item for item in ranking.items], document_of, DOC_DEPTH
                    )
                    relevant = dataset.qrels[query_id]
                    scores[mode]["ndcg@10"].append(ndcg_at(ranked, relevant, 10))
                    scores[mode]["recall@100"].append(recall_at(ranked, relevant, 100))
                    scores[mode]["mrr@10"].append(mrr_at(ranked, relevant, 10))
                means = {metric: round(float(np.mean(v)), 4) for metric, v in scores[mode].items()}
                say(f"{mode}: {means} ({time.perf_counter() - started:.1f}s)")
        finally:
            search.close()
    return scores


def _round(value: float) -> float:
    return round(float(value), 4)


def _round_interval(interval: tuple[float, float]) -> list[float]:
    return [_round(bound) for bound in interval]
