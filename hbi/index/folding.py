"""The word tokenizer of `chunks_fts`: unicode61 words, folded the same way in every script.

unicode61 (`remove_diacritics 2`) lower-cases every script but removes only Latin diacritics,
so `ωμεγα` does not find `Ωμέγα`, `Ἀχιλλεύς` needs its breathing and accent typed, and `ΛΟΓΟΣ`
does not find `λόγος` (capital sigma lower-cases to σ, never to the final ς). `hbi_fold` runs
unicode61 and then folds each non-ASCII token: compatibility decomposition (NFKD: `ﬁ` -> `fi`),
combining marks dropped (Greek tonos and breathings, Cyrillic `ё` -> `е`, Devanagari vowel signs
too, as in ICU's and Lucene's folding filters), and case folding (`ς` -> `σ`, `ß` -> `ss`). ASCII
tokens, most of an English library, pass through untouched, so English ranking does not move.
Query and index go through the same tokenizer (`hbi.search.tokens` asks SQLite for it), so
whatever one side folds, the other does too. It is plain Python and must be registered on
every connection that writes or searches `chunks_fts` (`hbi.index.db.connect` does).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import apsw

TOKENIZER_NAME = "hbi_fold"
PARENT = "unicode61"
PARENT_ARGS = ["remove_diacritics", "2"]

Token = tuple[int, int, str]


def fold(token: str) -> str:
    """Return token with compatibility forms decomposed, combining marks dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", token)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.casefold())


def fold_tokenizer(
    connection: apsw.Connection, args: list[str]
) -> Callable[[bytes, int, str | None], list[Token]]:
    """Return the FTS5 tokenizer of `hbi_fold` (it takes no arguments)."""
    if args:
        raise ValueError(f"{TOKENIZER_NAME} takes no arguments, got {args!r}")
    parent = connection.fts5_tokenizer(PARENT, PARENT_ARGS)

    def tokenize(utf8: bytes, flags: int, locale: str | None) -> list[Token]:
        found = parent(utf8, flags, locale, include_colocated=False)
        if utf8.isascii():
            return found
        return [
            (start, end, token if token.isascii() else fold(token)) for start, end, token in found
        ]

    return tokenize


def register(connection: apsw.Connection) -> None:
    """Make `hbi_fold` available to the FTS5 tables of connection."""
    connection.register_fts5_tokenizer(TOKENIZER_NAME, fold_tokenizer)
