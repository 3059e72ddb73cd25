"""A book's language: what its metadata says, else what its text is written in.

Detection uses py3langid (langid.py's model of 97 languages, shipped in its wheel: nothing is
downloaded). Its model takes about 1.7 s to load, so it is loaded only for a book whose metadata
names no language, once per process.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from hbi.books.book import BookMetadata

# Front and back matter (a Project Gutenberg licence, an English preface to a French novel) can
# be long; windows from inside the book say what the body is written in.
SAMPLE_AT = (0.25, 0.5, 0.75)
SAMPLE_CHARS = 4_000
# Below this normalised probability the text is mixed, too short or in no language the model
# knows (a table of numbers), and the book is left without a language rather than a guess.
MIN_PROBABILITY = 0.5
# Values that say "not known" in EPUB and PDF metadata (ISO 639-2 `und`, `zxx`, `mul`).
UNKNOWN = frozenset({"und", "zxx", "mul"})
# A BCP 47 tag (`en`, `en-US`, `zh-Hant`); a name ("Language: English" in a Project Gutenberg
# header) is not one, and the text decides instead, so every book's language is a code.
TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def with_language(metadata: BookMetadata, text: str) -> BookMetadata:
    """Return metadata with its language set and where it came from ("metadata"/"detected")."""
    given = (metadata.language or "").strip()
    if TAG.fullmatch(given) and primary_subtag(given) not in UNKNOWN:
        return replace(metadata, language=given, language_source="metadata")
    detected = detect_language(text)
    return replace(metadata, language=detected, language_source="detected" if detected else None)


def detect_language(text: str) -> str | None:
    """Return the ISO 639 code of the language text is written in, or None if unsure."""
    sample = _sample(text)
    if not any(c.isalpha() for c in sample):
        return None
    language, probability = _identifier().classify(sample)
    return language if probability >= MIN_PROBABILITY else None


def primary_subtag(language: str | None) -> str | None:
    """Return a language tag's language alone, lower-cased: `en-US` -> `en`, `EN` -> `en`."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].strip().lower() or None


def _sample(text: str) -> str:
    if len(text) <= SAMPLE_CHARS * len(SAMPLE_AT):
        return text
    starts = (int(len(text) * at) for at in SAMPLE_AT)
    return "\n".join(text[start : start + SAMPLE_CHARS] for start in starts)


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
