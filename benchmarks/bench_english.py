"""English ranking before and after lexical search learnt other scripts, in the same run.

Run: .venv/bin/python benchmarks/bench_english.py [--baseline COMMIT] [--per-book N]
Prints a table and writes benchmarks/results/english.json. The baseline is a git worktree of
COMMIT (default: the last commit before OCR and the scripts work, 3743811), run with the same
virtualenv, so both sides differ only in HBI's code:
- beir-mini: `python -m hbi.eval beir tests/data/beir-mini --json` in each checkout
  (nDCG@10, Recall@100, MRR@10 per mode);
- corpus known items: the eight corpus books are bundled once (this checkout's extraction and
  embeddings), then each checkout projects the same bundles with its own writer and tokenizers
  and searches N sentences per book (from chunks spread through each book) in lexical and
  hybrid mode; the figures are the share found at rank 1 and the MRR@10 of the sentence's
  chunk.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))
from common import machine  # noqa: E402

from hbi.books.ids import book_id_for_key  # noqa: E402
from hbi.bundle.build import bundle_rows, prepare_book  # noqa: E402
from hbi.bundle.files import write_bundle  # noqa: E402
from hbi.embedding import MiniLMEmbedder  # noqa: E402
from tests.conftest import shared_dir  # noqa: E402

RESULT_PATH = BENCH_DIR / "results" / "english.json"
BASELINE = "3743811"
BEIR_MINI = REPO_ROOT / "tests" / "data" / "beir-mini"
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def beir(checkout: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "hbi.eval", "beir", str(BEIR_MINI), "--json"],
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def bundle_corpus(folder: Path, per_book: int) -> list[dict]:
    """Write a bundle per corpus book under folder; return the known items (sentence, chunk)."""
    model = MiniLMEmbedder()
    items = []
    corpus = shared_dir() / "corpus"
    for path in sorted(p for p in corpus.iterdir() if p.is_file() and p.name != "MANIFEST.md"):
        book_id = book_id_for_key(path.name)
        prepared = prepare_book(
            path.read_bytes(), book_id=book_id, object_key=path.name, etag="", tokenizer=model
        )
        bundle, _ = bundle_rows(prepared.rows, model.embed_chunks, model.model_id, {})
        write_bundle(folder / book_id, bundle)
        chunks = [c for c in bundle.chunks if not c["is_matter"]]
        step = max(len(chunks) // per_book, 1)
        for chunk in chunks[::step][:per_book]:
            sentences = SENTENCE.split(" ".join(chunk["text"].split()))
            long_ones = [s for s in sentences if 8 <= len(s.split()) <= 40]
            if long_ones:
                items.append(
                    {
                        "book_id": book_id,
                        "chunk_id": chunk["chunk_id"],
                        "sentence": max(long_ones, key=len),
                    }
                )
    return items


def known_items(checkout: Path, bundles: Path, items_path: Path) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "english_known_items.py"),
            str(checkout),
            str(bundles),
            str(items_path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ranks = json.loads(out.splitlines()[-1])
    return {
        mode: {
            "at_1": round(sum(r == 1 for r in found) / len(found), 4),
            "mrr@10": round(sum(1 / r for r in found if r) / len(found), 4),
        }
        for mode, found in ranks.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--per-book", type=int, default=40)
    args = parser.parse_args()
    report: dict = {"machine": machine(), "baseline": args.baseline}
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(base), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            bundles = Path(scratch) / "bundles"
            items = bundle_corpus(bundles, args.per_book)
            items_path = Path(scratch) / "items.json"
            items_path.write_text(json.dumps(items))
            report["known_items"] = len(items)
            for side, checkout in (("baseline", base), ("current", REPO_ROOT)):
                report[side] = {
                    "beir_mini": beir(checkout),
                    "corpus_known_items": known_items(checkout, bundles, items_path),
                }
        finally:
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(base)],
                check=True,
            )
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(report, indent=2))
    print(f"| figure | baseline {args.baseline} | current |")
    print("|---|---|---|")
    for mode in ("lexical", "semantic", "hybrid"):
        for metric in ("ndcg@10", "recall@100", "mrr@10"):
            values = [report[side]["beir_mini"][mode][metric] for side in ("baseline", "current")]
            print(f"| beir-mini {mode} {metric} | {values[0]} | {values[1]} |")
    for mode in ("lexical", "hybrid"):
        for metric in ("at_1", "mrr@10"):
            values = [
                report[side]["corpus_known_items"][mode][metric] for side in ("baseline", "current")
            ]
            print(
                f"| corpus known items ({report['known_items']}) {mode} {metric} "
                f"| {values[0]} | {values[1]} |"
            )
    print(json.dumps(report["machine"]))


if __name__ == "__main__":
    main()
