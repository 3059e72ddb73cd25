"""Embedding throughput of MiniLMEmbedder: ONNX path vs the NumPy baseline, on real book text.

Run: .venv/bin/python benchmarks/bench_embedder.py
Prints a table and writes benchmarks/results/embedder.json. Chunks are cut from the shared corpus
(*.txt, *.md) so the model sees full sequences: 256 tokens (254 word pieces + [CLS], [SEP]), and
also 128 tokens, the size the chunker produces, where `embed_chunks` (the ingest path: chunk
vectors plus sentence vectors pooled from the same pass) is measured too. Tokens per second
count what the model sees, special tokens included, as the sentence-transformers reference
figure does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hbi.embedding import MiniLMEmbedder

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from common import machine  # noqa: E402

REPO_ROOT = BENCH_DIR.parent
RESULT_PATH = BENCH_DIR / "results" / "embedder.json"
# From our notes: sentence-transformers 6 on PyTorch CPU, 2 cores, 256-token chunks.
PYTORCH_REFERENCE = {"chunks_per_s": 35.0, "tokens_per_s": 9000.0}


def corpus_text() -> str:
    """Give the shared corpus's plain-text and Markdown books joined into one string."""
    shared = Path(os.environ.get("HBI_SHARED_DIR", REPO_ROOT.parent / "shared"))
    paths = sorted([*shared.glob("corpus/*.txt"), *shared.glob("corpus/*.md")])
    if not paths:
        raise SystemExit(f"no *.txt or *.md books under {shared / 'corpus'} (set HBI_SHARED_DIR)")
    return "\n\n".join(path.read_text(encoding="utf-8") for path in paths)


def cut_chunks(embedder: MiniLMEmbedder, text: str, model_tokens: int, count: int) -> list[str]:
    """Give `count` consecutive slices of text, each `model_tokens` long as the model sees it."""
    offsets = embedder.token_offsets(text)
    pieces = model_tokens - 2
    chunks = [
        text[offsets[i][0] : offsets[i + pieces - 1][1]]
        for i in range(0, len(offsets) - pieces + 1, pieces)
    ]
    if len(chunks) < count:
        raise SystemExit(f"corpus gives only {len(chunks)} chunks of {model_tokens} tokens")
    return chunks[:count]


def measure(
    embed: Callable[[list[str], int], np.ndarray],
    chunks: list[str],
    batch_size: int,
    repeats: int,
) -> dict[str, float]:
    """Give the best and median seconds of embedding all chunks, after one warm-up batch."""
    embed(chunks[:batch_size], batch_size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        embed(chunks, batch_size)
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": statistics.median(times)}


def row(
    path: str, model_tokens: int, batch_size: int, chunks: int, timing: dict[str, float]
) -> dict[str, object]:
    best = chunks / timing["best_s"]
    median = chunks / timing["median_s"]
    return {
        "path": path,
        "model_tokens": model_tokens,
        "batch_size": batch_size,
        "chunks": chunks,
        "chunks_per_s": round(best, 1),
        "tokens_per_s": round(best * model_tokens),
        "median_chunks_per_s": round(median, 1),
        "median_tokens_per_s": round(median * model_tokens),
    }


def load_times() -> tuple[dict[str, float], MiniLMEmbedder]:
    """Give cold (graph built) and warm (graph cached) load seconds, and a loaded embedder."""
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        MiniLMEmbedder(cache_dir=Path(cache))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        embedder = MiniLMEmbedder(cache_dir=Path(cache))
        warm = time.perf_counter() - start
    return {"cold_build_s": round(cold, 2), "cached_load_s": round(warm, 2)}, embedder


def print_table(results: dict[str, object]) -> None:
    info = results["machine"]
    print(
        f"{info['cpu']}, {info['cores']} cores, load before {info['load_average_1m_before']:.2f}, "
        f"Python {info['python']}, onnxruntime {info['onnxruntime']}"
    )
    print(
        f"load: graph build + load {results['load']['cold_build_s']} s, "
        f"cached load {results['load']['cached_load_s']} s"
    )
    header = f"{'path':<28}{'tokens':>7}{'batch':>7}{'chunks/s':>10}{'tokens/s':>10}{'median':>9}"
    print(header)
    print("-" * len(header))
    for entry in results["rows"]:
        print(
            f"{entry['path']:<28}{entry['model_tokens']:>7}{entry['batch_size']:>7}"
            f"{entry['chunks_per_s']:>10.1f}{entry['tokens_per_s']:>10,}"
            f"{entry['median_chunks_per_s']:>9.1f}"
        )
    ref = results["reference"]
    print(
        f"{'sentence-transformers/torch':<28}{256:>7}{'':>7}{ref['chunks_per_s']:>10.1f}"
        f"{int(ref['tokens_per_s']):>10,}{'':>9}  (reference from our notes, not measured)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=192, help="chunks per ONNX measurement")
    parser.add_argument("--numpy-chunks", type=int, default=32, help="chunks for the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    # Taken first: the load average tells a reader whether something else shared the CPU.
    host = machine()
    load, embedder = load_times()
    text = corpus_text()
    rows = []
    for model_tokens in (256, 128):
        chunks = cut_chunks(embedder, text, model_tokens, args.chunks)
        for batch_size in (8, 16, 32):
            timing = measure(embedder.embed, chunks, batch_size, args.repeats)
            rows.append(row("onnxruntime", model_tokens, batch_size, len(chunks), timing))
    # What ingest runs: chunk vectors plus sentence vectors pooled from the same pass.
    chunks = cut_chunks(embedder, text, 128, args.chunks)
    timing = measure(embedder.embed_chunks, chunks, 32, args.repeats)
    rows.append(row("onnxruntime + sentences", 128, 32, len(chunks), timing))
    baseline = cut_chunks(embedder, text, 256, args.numpy_chunks)
    timing = measure(embedder.embed_with_numpy, baseline, 16, 1)
    rows.append(row("numpy (baseline)", 256, 16, len(baseline), timing))

    results = {
        "benchmark": "embedder",
        "model_id": embedder.model_id,
        "machine": host,
        "load": load,
        "rows": rows,
        "reference": {"path": "sentence-transformers on PyTorch", **PYTORCH_REFERENCE},
    }
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"wrote {RESULT_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
