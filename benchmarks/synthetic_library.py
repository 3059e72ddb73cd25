"""Synthetic Markdown books for the scale benchmark: chapters, sections and Zipf-like prose.

Each book is deterministic in (seed, number): a title and author as the Markdown extractor
reads them (`# Title: …`, `## Author: …`), 6–14 chapters of 2–5 sections each (a two-level
ToC like a real non-fiction book), and paragraphs of sentences whose words follow Zipf's law.
The words are the ~21,700 whole English words of MiniLM's WordPiece vocabulary, which lists
them most frequent first, so a book has as many word pieces, chunks and vectors per kilobyte
as English prose, and FTS5's vocabulary and posting lists grow as they would with real text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from hbi.embedding.model_files import ModelFiles

ZIPF_EXPONENT = 1.1


@dataclass(frozen=True)
class SyntheticBook:
    """One generated book: its object key in the books bucket and its Markdown text."""

    object_key: str
    text: str


def vocabulary() -> list[str]:
    """Return the whole English words of MiniLM's vocabulary, most frequent first."""
    tokenizer = Tokenizer.from_file(str(ModelFiles.from_package().tokenizer_path))
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return [word for word, _ in by_id if word.isascii() and word.isalpha() and len(word) > 1]


class SyntheticLibrary:
    """Generates the books of a synthetic library from one seed."""

    def __init__(self, seed: int = 0, min_kb: int = 20, max_kb: int = 50) -> None:
        self.seed = seed
        self.min_kb = min_kb
        self.max_kb = max_kb
        self.words = np.array(vocabulary())
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        weights = np.cumsum(ranks**-ZIPF_EXPONENT)
        self.cumulative = weights / weights[-1]

    def book(self, number: int) -> SyntheticBook:
        """Return book `number` of the library (the same text for the same seed and number)."""
        rng = np.random.default_rng([self.seed, number])
        target = int(rng.integers(self.min_kb, self.max_kb + 1)) * 1024
        title = self._phrase(rng, 2, 5)
        author = f"{self._phrase(rng, 1, 1)} {self._phrase(rng, 1, 1)}"
        lines = [f"# Title: {title}", "", f"## Author: {author}", ""]
        chapters = int(rng.integers(6, 15))
        sections = [int(rng.integers(2, 6)) for _ in range(chapters)]
        per_section = max(target // sum(sections), 200)
        for chapter, count in enumerate(sections, start=1):
            lines += [f"## Chapter {chapter}. {self._phrase(rng, 2, 6)}", ""]
            for section in range(1, count + 1):
                lines += [f"### {chapter}.{section} {self._phrase(rng, 2, 5)}", ""]
                lines += self._paragraphs(rng, per_section)
        key = f"synthetic/book-{number:05d}.md"
        return SyntheticBook(key, "\n".join(lines) + "\n")

    def queries(self, count: int) -> list[str]:
        """Return count search queries of 1–4 mid-frequency words (ranks 100–5,000)."""
        rng = np.random.default_rng([self.seed, 2**31])
        return [
            " ".join(self.words[rng.integers(100, 5000, size=int(rng.integers(1, 5)))])
            for _ in range(count)
        ]

    def _phrase(self, rng: np.random.Generator, least: int, most: int) -> str:
        picked = self.words[rng.choice(len(self.words), int(rng.integers(least, most + 1)))]
        return " ".join(word.capitalize() for word in picked)

    def _paragraphs(self, rng: np.random.Generator, size: int) -> list[str]:
        lines: list[str] = []
        written = 0
        while written < size:
            sentences = []
            for _ in range(int(rng.integers(3, 8))):
                drawn = np.searchsorted(self.cumulative, rng.random(int(rng.integers(8, 26))))
                sentence = " ".join(self.words[drawn])
                sentences.append(sentence[0].upper() + sentence[1:] + ".")
            paragraph = " ".join(sentences)
            if written and written + len(paragraph) > size:
                break
            lines += [paragraph, ""]
            written += len(paragraph) + 2
        return lines
