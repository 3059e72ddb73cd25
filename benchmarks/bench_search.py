"""Search latency at 10k, 100k and 1M passages: HBI's three modes against the bare engines.

Run: .venv/bin/python benchmarks/bench_search.py [--sizes 10000,100000] [--queries 100]
Prints a table and writes benchmarks/results/search.json (with the machine it ran on).

For each size a synthetic index is generated into a temporary index file through HBI's one
write path (`hbi.index.writer.apply_books`): passages of 70-110 words drawn from a Zipf
vocabulary whose head is real English function words, books of 500 passages with titled
sections of 25, and unit vectors in clusters (two passages of a cluster have cosine about 0.5),
and 2-7 sentence vectors per passage (4.5 on average, as the shared corpus has; each the
passage's vector plus noise, cosine about 0.7; `--sentences 0` leaves them out). Embedding 1M
texts with the model would take days on 2 cores, so vectors are synthetic; queries are 2-5
words taken from a random passage, and that passage's vector plus noise (cosine about 0.8).

Measured per size, p50 and p95 over the same queries, after warm-up queries:

- raw FTS5: `MATCH '"w1" OR "w2" …' ORDER BY bm25(chunks_fts, 1, 4, 2) LIMIT 10` (and AND;
  50 queries at 1M);
- raw vec0: `WHERE embedding MATCH ? AND k = 10` (20 queries at 1M: it takes ~0.7 s each);
- raw hybrid: both raw lists at the fusion depth (50), one after the other, fused by RRF —
  what calling the two engines naively costs;
- HBI lexical, semantic and hybrid through `LibrarySearch.search` (k = 10, hits read,
  snippets made; the query vector is given, so model time is reported separately);
- Recall@10 of HBI's lists against exact ones: FTS5's own BM25 ranking over every query
  word (50 deep) and an exact cosine scan of all vectors (50 deep), fused the same way;
- how often the lexical plan deferred common words, proved its list exact, or needed a
  second pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from common import machine  # noqa: E402

from hbi.bundle.files import BookBundle  # noqa: E402
from hbi.index.db import EMBEDDING_DIM, connect  # noqa: E402
from hbi.index.writer import ProjectedBook, apply_books  # noqa: E402
from hbi.search import LibrarySearch, SearchSettings  # noqa: E402
from hbi.search.fts_query import parse_query  # noqa: E402
from hbi.search.fusion import reciprocal_rank_fusion  # noqa: E402

RESULT_PATH = BENCH_DIR / "results" / "search.json"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
K = 10
DEPTH = 50
PASSAGES_PER_BOOK = 500
PASSAGES_PER_SECTION = 25
VOCABULARY = 60_000
ZIPF_S = 1.07
_FUNCTION_WORDS = (
    "the of and to a in that is was he for it with as his on be at by i had not are but from "
    "or have an they which one you were her all she there would their we him been has when who "
    "will more no if out so said what up its about into than them can only other new some could "
    "time these two may then do first any my now such like our over man me even most made after "
    "also did many before must through back years where much your way well down should because "
    "each just those people how too little state good very make world still own see men work "
    "long get here between both life being under never day same another know while last might"
)
FUNCTION_WORDS = tuple(_FUNCTION_WORDS.split())
_SYLLABLES = (
    "ka lo mi ne ru sa ti vo ze po qua ri fe du ho bi ga lu mo ta sho ven tar dil mor quen "
    "bra cli dro fi gre"
)
SYLLABLES = tuple(_SYLLABLES.split())


# --- synthetic library -----------------------------------------------------------------------


def vocabulary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return the words (function words first) and their Zipf probabilities."""
    words = list(dict.fromkeys(FUNCTION_WORDS))
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_S
    return np.array(words), weights / weights.sum()


def generate_index(path: Path, size: int, sentences: float, seed: int = 7) -> None:
    """Write a synthetic library of `size` passages into a new index file at path, with
    `sentences` sentence vectors per passage on average, through the index's one write path
    (`hbi.index.writer.apply_books`, one transaction per batch of books)."""
    rng = np.random.default_rng(seed)
    words, probabilities = vocabulary(rng)
    tail = words[200:20_000]
    clusters = max(50, size // 200)
    centroids = rng.standard_normal((clusters, EMBEDDING_DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    connection = connect(path)
    batch = 20_000
    for start in range(0, size, batch):
        count = min(batch, size - start)
        lengths = rng.integers(70, 111, count)
        drawn = words[rng.choice(VOCABULARY, size=int(lengths.sum()), p=probabilities)]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        texts = [" ".join(drawn[bounds[i] : bounds[i + 1]]) for i in range(count)]
        members = rng.integers(0, clusters, count)
        noise = rng.standard_normal((count, EMBEDDING_DIM)).astype(np.float32)
        vectors = centroids[members] + noise / float(np.sqrt(EMBEDDING_DIM))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        per_chunk = sentence_vectors(rng, vectors, sentences)
        books = []
        for first in range(start, start + count, PASSAGES_PER_BOOK):
            last = min(first + PASSAGES_PER_BOOK, start + count)
            books.append(
                synthetic_book(
                    rng, tail, first, texts[first - start : last - start],
                    vectors[first - start : last - start],
                    per_chunk[first - start : last - start],
                )
            )  # fmt: skip
        apply_books(connection, books)
    # An index built book by book has many segments; a merged one is what a settled library
    # looks like, and both HBI and the raw queries read the same file.
    connection.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('optimize')")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def synthetic_book(
    rng: np.random.Generator,
    tail: np.ndarray,
    first: int,
    texts: list[str],
    vectors: np.ndarray,
    sentences: list[np.ndarray],
) -> ProjectedBook:
    """Return passages first.. (a whole book: PASSAGES_PER_BOOK of them) as a bundle to apply.

    Chunk ids are 1-based passage numbers, so a random passage is a random id in 1..size.
    """
    number = first // PASSAGES_PER_BOOK
    book_id = f"book-{number:05d}"
    title = " ".join(rng.choice(tail, 3)).title()
    sections, chunks = [], []
    for ordinal, text in enumerate(texts):
        n = first + ordinal
        section_id = f"{book_id}#s{n // PASSAGES_PER_SECTION:07d}"
        if n % PASSAGES_PER_SECTION == 0:
            heading = " ".join(rng.choice(tail, int(rng.integers(2, 5))))
            part = f"Part {ordinal // 100 + 1}"
            sections.append(
                {
                    "section_id": section_id, "book_id": book_id, "ordinal": len(sections),
                    "level": 2, "title": heading, "parent_id": None, "path": [part, heading],
                    "page": None, "page_label": None, "char_start": 0, "char_end": 0,
                    "is_matter": False,
                }
            )  # fmt: skip
        chunks.append(
            {
                "chunk_id": n + 1, "book_id": book_id, "ordinal": ordinal,
                "section_id": section_id, "section_path": " > ".join(sections[-1]["path"]),
                "book_title": title, "text": text, "char_start": 0, "char_end": len(text),
                "page_start": None, "page_end": None, "page_label_start": None,
                "page_label_end": None, "token_count": 100, "content_hash": "",
                "is_matter": 0,
            }
        )  # fmt: skip
    book = {
        "book_id": book_id, "title": title, "authors": [f"Author {number % 97}"],
        "language": None, "publisher": None, "date": None, "identifiers": [],
        "description": None, "format": ("pdf", "epub", "text")[number % 3], "page_count": None,
        "object_key": f"{book_id}.txt", "etag": "", "content_hash": "", "size_bytes": 0,
        "toc_derived": False, "toc_entries": len(sections), "toc_depth": 1,
        "chunk_count": len(chunks), "token_count": 100 * len(chunks), "index_terms": 0,
        "warnings": [], "indexed_at": "",
    }  # fmt: skip
    chunk_ids = [c["chunk_id"] for c in chunks]
    bundle = BookBundle(
        book=book,
        sections=sections,
        chunks=chunks,
        chunk_ids=chunk_ids,
        vectors=vectors,
        content_hashes=[""] * len(chunks),
        terms=[],
        model_id="synthetic",
        sentence_vectors={c: v for c, v in zip(chunk_ids, sentences, strict=True) if len(v)},
    )
    return ProjectedBook(bundle, fingerprint=f"synthetic-{book_id}")


def sentence_vectors(rng: np.random.Generator, vectors: np.ndarray, mean: float) -> list:
    """Return each passage's sentence vectors: `mean` per passage on average (none when 0,
    else 2 to 7), each its passage's vector plus noise."""
    if mean <= 0:
        return [np.zeros((0, EMBEDDING_DIM), np.float32)] * len(vectors)
    counts = np.clip(rng.poisson(mean - 2, len(vectors)) + 2, 2, 7)
    owners = np.repeat(np.arange(len(vectors)), counts)
    noise = rng.standard_normal((len(owners), EMBEDDING_DIM)).astype(np.float32)
    sentences = vectors[owners] + noise / float(np.sqrt(EMBEDDING_DIM))
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    return np.split(sentences, np.cumsum(counts)[:-1])


def make_queries(path: Path, count: int, seed: int = 11) -> list[tuple[str, np.ndarray]]:
    """Return (text, vector) queries: words of a random passage, its vector plus noise."""
    rng = np.random.default_rng(seed)
    connection = connect(path, readonly=True)
    size = connection.execute("SELECT max(chunk_id) FROM chunks").fetchone()[0]
    queries = []
    for chunk_id in rng.integers(1, size + 1, count):
        text = connection.execute(
            "SELECT text FROM chunks WHERE chunk_id = ?", (int(chunk_id),)
        ).fetchone()[0]
        blob = connection.execute(
            "SELECT embedding FROM chunk_vectors WHERE chunk_id = ?", (int(chunk_id),)
        ).fetchone()[0]
        passage = text.split()
        picked = rng.choice(len(passage), size=int(rng.integers(2, 6)), replace=False)
        words = " ".join(dict.fromkeys(passage[i] for i in sorted(picked)))
        vector = np.frombuffer(blob, np.float32) + rng.standard_normal(EMBEDDING_DIM).astype(
            np.float32
        ) * (0.75 / np.sqrt(EMBEDDING_DIM))
        queries.append((words, (vector / np.linalg.norm(vector)).astype(np.float32)))
    connection.close()
    return queries


# --- measurements ----------------------------------------------------------------------------


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Return p50 and p95 (and the count) of latencies in milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


def timed(run, queries) -> tuple[dict[str, float], list]:
    """Return the latency percentiles of run(query) over queries, and its answers."""
    samples, answers = [], []
    for query in queries:
        started = time.perf_counter()
        answers.append(run(query))
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples), answers


def raw_fts(connection, expression: str, limit: int) -> list[tuple[int, float]]:
    rows = connection.execute(
        "SELECT rowid, -bm25(chunks_fts, 1.0, 4.0, 2.0) AS s FROM chunks_fts "
        "WHERE chunks_fts MATCH ? ORDER BY s DESC, rowid LIMIT ?",
        (expression, limit),
    )
    return [(int(r), float(s)) for r, s in rows]


def raw_vec0(connection, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
    rows = connection.execute(
        "SELECT chunk_id, distance FROM chunk_vectors WHERE embedding MATCH ? AND k = ?",
        (vector.tobytes(), limit),
    )
    return [(int(r), 1.0 - float(d)) for r, d in rows]


def overlap_at(found: list[int], truth: list[int], k: int = K) -> float:
    """Return |found[:k] ∩ truth[:k]| / min(k, |truth|) (1.0 when truth is empty)."""
    truth_top = set(truth[:k])
    if not truth_top:
        return 1.0
    return len(set(found[:k]) & truth_top) / len(truth_top)


def run_size(size: int, workdir: Path, query_count: int, warmup: int, sentences: float) -> dict:
    """Generate (or reuse) the index of `size` passages and measure everything on it."""
    path = workdir / f"synthetic-{size}-s{sentences:g}.sqlite"
    generate_s = None
    if not path.exists():
        started = time.perf_counter()
        generate_index(path, size, sentences)
        generate_s = round(time.perf_counter() - started, 1)
    queries = make_queries(path, warmup + query_count)
    warm, measured = queries[:warmup], queries[warmup:]
    expressions = {text: parse_query(text).expression() for text, _ in queries}
    raw = connect(path, readonly=True)
    settings = SearchSettings(candidates=DEPTH)
    search = LibrarySearch(str(path), settings=settings)
    started = time.perf_counter()
    matrix = search.vectors.matrix(search.store.data_version())
    load_s = round(time.perf_counter() - started, 2)
    result: dict = {
        "passages": size,
        "index_bytes": path.stat().st_size,
        "generate_s": generate_s,
        "vector_rows": len(matrix),
        "vector_load_s": load_s,
        "vector_memory_mb": round(matrix.nbytes / 2**20, 1),
        "queries": len(measured),
        "latency_ms": {},
        "recall_at_10": {},
    }

    def hbi(mode: str):
        return lambda q: [
            h.chunk_id for h in search.search(q[0], mode=mode, k=K, query_vector=q[1]).hits
        ]

    for query in warm:  # warm caches: page cache, term statistics, thread pool
        for mode in ("lexical", "semantic", "hybrid"):
            hbi(mode)(query)
        raw_fts(raw, expressions[query[0]], K)
    latency = result["latency_ms"]
    # The bare engines are slow at 1M: fewer queries keep the default run near 10 minutes.
    fts_queries = measured if size < 1_000_000 else measured[:50]
    latency["raw_fts5_or"], _ = timed(lambda q: raw_fts(raw, expressions[q[0]], K), fts_queries)
    latency["raw_fts5_and"], _ = timed(
        lambda q: raw_fts(raw, expressions[q[0]].replace(" OR ", " AND "), K), fts_queries
    )
    vec0_queries = measured if size < 1_000_000 else measured[:20]
    latency["raw_vec0"], _ = timed(lambda q: raw_vec0(raw, q[1], K), vec0_queries)
    latency["numpy_exact_scan"], _ = timed(
        lambda q: matrix.search(q[1], K, exact_below=len(matrix) + 1), measured
    )

    def raw_hybrid(q):
        fused = reciprocal_rank_fusion(
            {
                "lexical": raw_fts(raw, expressions[q[0]], DEPTH),
                "semantic": raw_vec0(raw, q[1], DEPTH),
            }
        )
        return [item.item for item in fused[:K]]

    latency["raw_hybrid_naive"], _ = timed(raw_hybrid, vec0_queries)
    for mode in ("lexical", "semantic", "hybrid"):
        latency[f"hbi_{mode}"], found = timed(hbi(mode), measured)
        result[f"_{mode}"] = found

    # Exact lists: FTS5 over every word, and a full float scan; fused the way HBI fuses.
    exact_lexical = [raw_fts(raw, expressions[q[0]], DEPTH) for q in measured]
    exact_semantic = [matrix.search(q[1], DEPTH, exact_below=len(matrix) + 1)[0] for q in measured]
    exact_hybrid = [
        [item.item for item in reciprocal_rank_fusion({"lexical": lex, "semantic": sem})[:K]]
        for lex, sem in zip(exact_lexical, exact_semantic, strict=True)
    ]
    found = {mode: result.pop(f"_{mode}") for mode in ("lexical", "semantic", "hybrid")}
    result["recall_at_10"] = {
        "lexical": _mean_overlap(found["lexical"], [[c for c, _ in e] for e in exact_lexical]),
        "semantic": _mean_overlap(found["semantic"], [[c for c, _ in e] for e in exact_semantic]),
        "hybrid": _mean_overlap(found["hybrid"], exact_hybrid),
    }
    plans = [search.search(q[0], mode="lexical", k=K, explain=True).plan for q in measured]
    lexical_plans = [p.get("lexical", {}) for p in plans]
    result["lexical_plans"] = {
        "common_terms": sum(p.get("strategy") == "common-terms" for p in lexical_plans),
        "proven_exact": sum(bool(p.get("exact")) for p in lexical_plans),
        "second_pass": sum(p.get("passes", 0) > 1 for p in lexical_plans),
    }
    result["ratio_hbi_over_raw_p50"] = {
        "lexical_vs_fts5_or": _ratio(latency["hbi_lexical"], latency["raw_fts5_or"]),
        "semantic_vs_vec0": _ratio(latency["hbi_semantic"], latency["raw_vec0"]),
        "hybrid_vs_naive": _ratio(latency["hbi_hybrid"], latency["raw_hybrid_naive"]),
    }
    search.close()
    raw.close()
    return result


def _mean_overlap(found: list[list[int]], truth: list[list[int]]) -> float:
    return round(float(np.mean([overlap_at(f, t) for f, t in zip(found, truth, strict=True)])), 4)


def _ratio(hbi: dict, raw: dict) -> float:
    return round(hbi["p50"] / raw["p50"], 3) if raw["p50"] else float("nan")


def query_embedding_latency(count: int = 50) -> dict | None:
    """Return the model's latency for embedding one short query, or None without the model."""
    try:
        from hbi_resources.embedder import EmbedderResource

        model = EmbedderResource().model()
    except Exception as exc:  # the model package may be missing on a bare machine
        print(f"(query embedding not measured: {exc})", file=sys.stderr)
        return None
    texts = [f"how did the traveller reach the year {800_000 + i}" for i in range(count)]
    model.embed(texts[:3])
    stats, _ = timed(lambda text: model.embed([text]), texts)
    return stats


def print_table(results: list[dict]) -> None:
    columns = [
        ("raw_fts5_or", "FTS5 OR"),
        ("raw_fts5_and", "FTS5 AND"),
        ("raw_vec0", "vec0"),
        ("numpy_exact_scan", "np exact"),
        ("raw_hybrid_naive", "naive hyb"),
        ("hbi_lexical", "HBI lex"),
        ("hbi_semantic", "HBI sem"),
        ("hbi_hybrid", "HBI hyb"),
    ]
    header = f"{'passages':>9} | " + " | ".join(f"{title:>15}" for _, title in columns)
    print("latency p50 / p95 in ms")
    print(header)
    print("-" * len(header))
    for result in results:
        cells = []
        for key, _ in columns:
            stats = result["latency_ms"][key]
            cells.append(f"{stats['p50']:>7.1f} /{stats['p95']:>6.1f}")
        print(f"{result['passages']:>9} | " + " | ".join(cells))
    print()
    print(f"{'passages':>9} | recall@10 lex / sem / hyb vs exact | HBI/raw p50 lex, sem, hyb")
    for result in results:
        recall = result["recall_at_10"]
        ratio = result["ratio_hbi_over_raw_p50"]
        print(
            f"{result['passages']:>9} | {recall['lexical']:.3f} / {recall['semantic']:.3f} / "
            f"{recall['hybrid']:.3f}{'':>13} | {ratio['lexical_vs_fts5_or']:.2f}, "
            f"{ratio['semantic_vs_vec0']:.2f}, {ratio['hybrid_vs_naive']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--queries", type=int, default=100, help="measured queries per size")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="keep generated indexes here for reuse")
    parser.add_argument("--out", type=Path, default=RESULT_PATH)
    parser.add_argument(
        "--sentences", type=float, default=4.5, help="sentence vectors per passage (mean)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    info = machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="hbi-bench-search-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            print(f"… {size:,} passages", file=sys.stderr, flush=True)
            results.append(run_size(size, workdir, args.queries, args.warmup, args.sentences))
            if args.workdir is None:
                for leftover in workdir.glob(f"synthetic-{size}-*.sqlite*"):
                    leftover.unlink()
    info["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    payload = {
        "benchmark": "search",
        "machine": info,
        "settings": {
            "k": K,
            "fusion_depth": DEPTH,
            "rrf_k": SearchSettings().rrf_k,
            "sentences_per_passage": args.sentences,
        },
        "query_embedding_ms": query_embedding_latency(),
        "sizes": results,
    }
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
